/**
 * Azure Database for PostgreSQL Flexible Server compute SKUs (Burstable, General Purpose, Memory Optimized) as data, the
 * cost order used to pick the cheapest SKU that meets a requirement, and the strategy's per-environment preset table.
 */
import { ValidationError, InputError, type EngramError } from '../errors.js';
import { type DataFile, pointer } from './data-file.js';

/** Compute tier, spelled exactly as the ARM `sku.tier` property. */
export type SkuTier = 'Burstable' | 'GeneralPurpose' | 'MemoryOptimized';
export const SKU_TIERS: readonly SkuTier[] = ['Burstable', 'GeneralPurpose', 'MemoryOptimized'];

/** One compute SKU. `name` is the ARM `sku.name` (`Standard_D4s_v3`). */
export interface SkuEntry {
  name: string;
  tier: SkuTier;
  vcores: number;
  /** Memory in GiB (the sizing formula's "GB" is compared against this). */
  memoryGb: number;
  /** List price in the catalog's currency per hour of compute; only the order matters for the choice. */
  pricePerHour: number;
}

/** A catalog: the SKUs and where their prices come from. */
export interface SkuCatalog {
  region: string;
  currency: string;
  /** Where the prices were read, in words. */
  source: string;
  /** ISO date the prices were recorded. */
  recordedOn: string;
  /** false when the prices were not checked against Azure's retail price API. */
  verified: boolean;
  /** In tie-break order: at equal price, an earlier entry wins. */
  skus: SkuEntry[];
}

type Row = [name: string, vcores: number, memoryGb: number, pricePerHour: number];

const rows = (tier: SkuTier, list: Row[]): SkuEntry[] =>
  list.map(([name, vcores, memoryGb, pricePerHour]) => ({ name: `Standard_${name}`, tier, vcores, memoryGb, pricePerHour }));

/**
 * General Purpose and Memory Optimized sizes are the same for each hardware generation; Flexible Server lists them at
 * the same hourly price, so the newer generation comes first and wins ties (same price, newer hardware).
 * Memory: 4 GiB/vCore (D), 8 GiB/vCore (E) except the 64-vCore E v3/v4 sizes, which Azure caps at 432 GiB (6,912 MiB per
 * vCore in the location capabilities API); E64ds_v5 has 512 GiB. Burstable: B1ms/B2s 2 GiB per vCore, the rest 4.
 */
function generalPurpose(): SkuEntry[] {
  const sizes: [number, number][] = [[2, 0.178], [4, 0.356], [8, 0.712], [16, 1.424], [32, 2.848], [48, 4.272], [64, 5.696]];
  const out: Row[] = [];
  for (const [v, p] of sizes) {
    out.push([`D${v}ds_v5`, v, v * 4, p], [`D${v}ds_v4`, v, v * 4, p], [`D${v}s_v3`, v, v * 4, p]);
  }
  return rows('GeneralPurpose', out);
}

function memoryOptimized(): SkuEntry[] {
  const sizes: [number, number][] = [[2, 0.252], [4, 0.504], [8, 1.008], [16, 2.016], [20, 2.52], [32, 4.032], [48, 6.048], [64, 8.064]];
  const out: Row[] = [];
  for (const [v, p] of sizes) {
    out.push([`E${v}ds_v5`, v, v === 64 ? 512 : v * 8, p], [`E${v}ds_v4`, v, v === 64 ? 432 : v * 8, p]);
    // Esv3 has no 20-vCore size.
    if (v !== 20) out.push([`E${v}s_v3`, v, v === 64 ? 432 : v * 8, p]);
  }
  return rows('MemoryOptimized', out);
}

/**
 * The built-in catalog. Sizes (vCores, GiB) are Azure's published Flexible Server compute sizes. Prices are East US
 * pay-as-you-go list prices per hour as the author recorded them; they were NOT re-fetched from prices.azure.com (the
 * build machine has no network), so `verified` is false and every output says so. The choice depends only on their
 * order (Burstable < General Purpose < Memory Optimized at equal vCores, linear in vCores), which is stable across
 * regions; pass a catalog file to use exact, current prices.
 */
export const DEFAULT_SKU_CATALOG: SkuCatalog = {
  region: 'eastus',
  currency: 'USD',
  source: 'Azure Database for PostgreSQL Flexible Server pricing page, East US, pay-as-you-go (recorded by hand, not fetched)',
  recordedOn: '2026-11-28',
  verified: false,
  skus: [
    ...rows('Burstable', [
      ['B1ms', 1, 2, 0.017],
      ['B2s', 2, 4, 0.068],
      ['B2ms', 2, 8, 0.136],
      ['B4ms', 4, 16, 0.272],
      ['B8ms', 8, 32, 0.544],
      ['B12ms', 12, 48, 0.816],
      ['B16ms', 16, 64, 1.088],
      ['B20ms', 20, 80, 1.36],
    ]),
    ...generalPurpose(),
    ...memoryOptimized(),
  ],
};

/** Deployment environments of the strategy's preset table. */
export type Environment = 'dev' | 'test' | 'uat' | 'prod';
export const ENVIRONMENTS: readonly Environment[] = ['dev', 'test', 'uat', 'prod'];

/**
 * The strategy's example table (one SKU per environment). A preset, not the formula's output: applied literally with
 * growth 2.0 the formula asks for at least 7 vCores even for the Dev row.
 */
export const ENVIRONMENT_PRESETS: Readonly<Record<Environment, string>> = {
  dev: 'Standard_B1ms',
  test: 'Standard_B2s',
  uat: 'Standard_D2s_v3',
  prod: 'Standard_D4s_v3',
};

/** Finds a SKU by ARM name, case-insensitively, with or without the `Standard_` prefix. */
export function findSku(name: string, catalog: SkuCatalog = DEFAULT_SKU_CATALOG): SkuEntry | undefined {
  const want = name.toLowerCase().replace(/^standard_/, '');
  return catalog.skus.find((s) => s.name.toLowerCase().replace(/^standard_/, '') === want);
}

/** True when the SKU has at least the required vCores and memory. */
export function skuMeets(sku: SkuEntry, required: { vcores: number; memoryGb: number }): boolean {
  return sku.vcores >= required.vcores && sku.memoryGb >= required.memoryGb;
}

/**
 * The cheapest SKU that meets both vCores and memory, or `undefined` when none does. Cost order: price per hour, then
 * catalog order (at equal price the earlier entry, i.e. the newer generation, wins: E64ds_v5 with 512 GiB over
 * E64ds_v4 with 432 GiB). `tiers` limits the search.
 */
export function chooseSku(
  required: { vcores: number; memoryGb: number },
  catalog: SkuCatalog = DEFAULT_SKU_CATALOG,
  tiers: readonly SkuTier[] = SKU_TIERS,
): SkuEntry | undefined {
  let best: { sku: SkuEntry; index: number } | undefined;
  catalog.skus.forEach((sku, index) => {
    if (!tiers.includes(sku.tier) || !skuMeets(sku, required)) return;
    if (!best || compareCost(sku, index, best.sku, best.index) < 0) best = { sku, index };
  });
  return best?.sku;
}

function compareCost(a: SkuEntry, ai: number, b: SkuEntry, bi: number): number {
  return a.pricePerHour - b.pricePerHour || ai - bi;
}

/**
 * Validates a catalog read from a data file: `{ region, currency, source, recordedOn, skus: [{ name, tier, vcores,
 * memoryGb, pricePerHour }] }`. Collects every problem and throws one ValidationError (exit 2) naming file, line, field.
 */
export function catalogFromData(data: DataFile): SkuCatalog {
  const problems: EngramError[] = [];
  const bad = (path: (string | number)[], message: string, hint: string): void => {
    problems.push(new InputError('E_SIZING_CATALOG', message, { file: data.file, line: data.lineOf(path), field: pointer(path), hint }));
  };
  const v = data.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new InputError('E_SIZING_CATALOG', 'a SKU catalog must be an object with a "skus" list', {
      file: data.file,
      hint: 'See docs/sizing.md, "Overriding the SKU catalog".',
    });
  }
  const o = v as Record<string, unknown>;
  const allowed = ['region', 'currency', 'source', 'recordedOn', 'verified', 'skus'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad([k], `unknown field "${k}"`, `Allowed fields: ${allowed.join(', ')}.`);
  for (const k of ['region', 'currency', 'source', 'recordedOn']) {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0) bad([k], `"${k}" must be a non-empty string`, 'Say where and when the prices were read.');
  }
  if (o.verified !== undefined && typeof o.verified !== 'boolean') bad(['verified'], '"verified" must be true or false', 'Use true only for prices read from Azure.');
  const skus: SkuEntry[] = [];
  if (!Array.isArray(o.skus) || o.skus.length === 0) {
    bad(['skus'], '"skus" must be a non-empty list', 'List at least one SKU.');
  } else {
    const seen = new Set<string>();
    o.skus.forEach((s, i) => {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) return bad(['skus', i], 'each SKU must be an object', 'Give name, tier, vcores, memoryGb, pricePerHour.');
      const e = s as Record<string, unknown>;
      const keys = ['name', 'tier', 'vcores', 'memoryGb', 'pricePerHour'];
      for (const k of Object.keys(e)) if (!keys.includes(k)) bad(['skus', i, k], `unknown field "${k}"`, `Allowed fields: ${keys.join(', ')}.`);
      let ok = true;
      if (typeof e.name !== 'string' || e.name.length === 0) { ok = false; bad(['skus', i, 'name'], '"name" must be a non-empty string', 'Use the ARM sku.name, e.g. Standard_D4s_v3.'); }
      else if (seen.has(e.name.toLowerCase())) { ok = false; bad(['skus', i, 'name'], `duplicate SKU "${e.name}"`, 'List each SKU once.'); }
      else seen.add(e.name.toLowerCase());
      if (!SKU_TIERS.includes(e.tier as SkuTier)) { ok = false; bad(['skus', i, 'tier'], `"tier" must be one of ${SKU_TIERS.join(', ')}`, 'Spell it as the ARM sku.tier.'); }
      for (const k of ['vcores', 'memoryGb']) {
        if (typeof e[k] !== 'number' || !Number.isFinite(e[k]) || (e[k] as number) <= 0) { ok = false; bad(['skus', i, k], `"${k}" must be a number > 0`, 'Use the published size.'); }
      }
      if (typeof e.pricePerHour !== 'number' || !Number.isFinite(e.pricePerHour) || e.pricePerHour < 0) { ok = false; bad(['skus', i, 'pricePerHour'], '"pricePerHour" must be a number >= 0', 'Use the hourly list price.'); }
      if (ok) skus.push({ name: e.name as string, tier: e.tier as SkuTier, vcores: e.vcores as number, memoryGb: e.memoryGb as number, pricePerHour: e.pricePerHour as number });
    });
  }
  if (problems.length > 0) {
    throw new ValidationError(`invalid SKU catalog (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems, { file: data.file });
  }
  return {
    region: o.region as string,
    currency: o.currency as string,
    source: o.source as string,
    recordedOn: o.recordedOn as string,
    verified: (o.verified as boolean | undefined) ?? false,
    skus,
  };
}

