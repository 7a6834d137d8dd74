/**
 * PostgreSQL Flexible Server sizing: the strategy's vCore and memory formulas computed exactly and term by term, our own
 * storage estimate (the seed's storage formula was not available), the cheapest catalog SKU that meets both, and the
 * strategy's environment preset shown beside it.
 */
import { InputError } from '../errors.js';
import { ceilDiv, decimalToRational, toNumber } from './exact.js';
import {
  DEFAULT_SKU_CATALOG,
  ENVIRONMENT_PRESETS,
  ENVIRONMENTS,
  SKU_TIERS,
  chooseSku,
  findSku,
  skuMeets,
  type Environment,
  type SkuCatalog,
  type SkuEntry,
  type SkuTier,
} from './sku-catalog.js';

/** Load to size for. */
export interface PostgresSizingInput {
  /** Conversation sessions kept in the System of Recall (used by the storage estimate only). */
  sessions: number;
  /** Facts (memories), one embedding each. */
  facts: number;
  /** Peak concurrent connections. */
  connections: number;
  /** Headroom multiplier applied to every result; the strategy's default is 2.0. */
  growth?: number;
  /** Environment whose preset SKU is shown beside the formula's choice. */
  environment?: Environment;
}

/**
 * Constants of the storage estimate. The seed strategy names a storage formula but its text was not available, so
 * these are engram-audit's own, documented in docs/sizing.md ("Storage estimate"); override any of them.
 */
export interface StorageConstants {
  /** Embedding dimensions per fact (1536: OpenAI text-embedding-3-small / ada-002). */
  embeddingDimensions: number;
  /** pgvector `vector` stores float4: 4 bytes per dimension. */
  bytesPerDimension: number;
  /** pgvector `vector` header: 4-byte varlena length + 2-byte dimension count + 2 unused. */
  vectorHeaderBytes: number;
  /** Fact text, JSON metadata, ids and timestamps per fact row. */
  factPayloadBytes: number;
  /** Heap tuple header (24 bytes aligned) + line pointer (4 bytes). */
  rowOverheadBytes: number;
  /** HNSW layer-0 neighbour list per vector: 2 x m (16) item pointers of 6 bytes. */
  hnswNeighborBytes: number;
  /** Session rows and episodic metadata per session. */
  sessionBytes: number;
  /** B-tree indexes (keys, foreign keys) as a percentage of table bytes. */
  btreeIndexPercent: number;
  /** Free space and dead tuples (fillfactor, MVCC) as a percentage of table + index bytes. */
  bloatPercent: number;
}

/** Defaults of the storage estimate (see {@link StorageConstants}). */
export const DEFAULT_STORAGE_CONSTANTS: Readonly<StorageConstants> = {
  embeddingDimensions: 1536,
  bytesPerDimension: 4,
  vectorHeaderBytes: 8,
  factPayloadBytes: 1024,
  rowOverheadBytes: 28,
  hnswNeighborBytes: 192,
  sessionBytes: 8192,
  btreeIndexPercent: 10,
  bloatPercent: 20,
};

/** The strategy's default growth factor. */
export const DEFAULT_GROWTH = 2;

/** Storage sizes (GiB) a Flexible Server can be provisioned with (Premium SSD); 32767 is the 32 TiB maximum. */
export const PROVISIONABLE_STORAGE_GB: readonly number[] = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];

/** One printed step of a formula. */
export interface SizingTerm {
  /** Short label: `base`, `facts term`, `x growth`, ... */
  name: string;
  /** The term with the inputs substituted, e.g. `ceil(1000000 / 500000)`. */
  expression: string;
  value: number;
  unit?: string;
}

/** A SKU as reported: the catalog entry without surprises. */
export interface SkuChoice {
  name: string;
  tier: SkuTier;
  vcores: number;
  memoryGb: number;
  pricePerHour: number;
}

/** The preset SKU of one environment and whether it meets the formula's requirement. */
export interface PresetComparison {
  environment: Environment;
  sku: SkuChoice;
  meetsRequired: boolean;
}

/** Result of {@link sizePostgres}. */
export interface PostgresSizing {
  inputs: { sessions: number; facts: number; connections: number; growth: number; environment?: Environment };
  required: { vcores: number; memoryGb: number; storageGb: number };
  /** Smallest provisionable storage size at or above `required.storageGb`, or null above 32 TiB. */
  storageProvisionGb: number | null;
  /** Cheapest SKU meeting vCores and memory over all tiers, or null when none does. */
  sku: SkuChoice | null;
  /** Cheapest qualifying SKU in each tier (null when the tier has none), so a reader sees the General Purpose choice too. */
  cheapestByTier: Record<SkuTier, SkuChoice | null>;
  terms: { vcores: SizingTerm[]; memoryGb: SizingTerm[]; storageGb: SizingTerm[] };
  storageConstants: StorageConstants;
  /** The preset for `inputs.environment`, when one was given. */
  preset?: PresetComparison;
  /** The whole preset table, each row checked against the formula. */
  presets: PresetComparison[];
  catalog: { region: string; currency: string; source: string; recordedOn: string; verified: boolean };
  /** Caveats a reader must see (preset vs formula, our storage formula, unverified prices). */
  notes: string[];
}

/** Options of {@link sizePostgres}. */
export interface PostgresSizingOptions {
  catalog?: SkuCatalog;
  storageConstants?: Partial<StorageConstants>;
}

const GIB = 1n << 30n;

function wholeCount(value: unknown, field: string): bigint {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InputError('E_SIZING_INPUT', `${field} must be a whole number >= 0, got ${String(value)}`, {
      field,
      hint: `Give ${field} as a non-negative integer, e.g. 1000000.`,
    });
  }
  return BigInt(value);
}

function choice(s: SkuEntry): SkuChoice {
  return { name: s.name, tier: s.tier, vcores: s.vcores, memoryGb: s.memoryGb, pricePerHour: s.pricePerHour };
}

/**
 * Sizes a Flexible Server for a load.
 *
 * vCores = ceil((2 + ceil(facts / 500K) + ceil(connections / 100) x 0.5) x growth);
 * memory GB = ceil((4 + 2 x facts / 1M + 0.1 x connections / 10) x growth);
 * storage GB = our estimate (see {@link StorageConstants}). All arithmetic is exact (BigInt rationals), so a result
 * that lands on an integer is not pushed up by floating-point noise.
 *
 * @throws InputError when a count is negative or fractional, or growth is below 1.
 */
export function sizePostgres(input: PostgresSizingInput, options: PostgresSizingOptions = {}): PostgresSizing {
  const catalog = options.catalog ?? DEFAULT_SKU_CATALOG;
  const sessions = wholeCount(input.sessions, 'sessions');
  const facts = wholeCount(input.facts, 'facts');
  const connections = wholeCount(input.connections, 'connections');
  const growthNumber = input.growth ?? DEFAULT_GROWTH;
  if (typeof growthNumber !== 'number' || !Number.isFinite(growthNumber) || growthNumber < 1) {
    throw new InputError('E_SIZING_INPUT', `growth must be a number >= 1, got ${String(growthNumber)}`, {
      field: 'growth',
      hint: 'growth is a headroom multiplier: 1 for none, 2.0 is the strategy default.',
    });
  }
  if (input.environment !== undefined && !ENVIRONMENTS.includes(input.environment)) {
    throw new InputError('E_SIZING_INPUT', `environment must be one of ${ENVIRONMENTS.join(', ')}`, { field: 'environment' });
  }
  const g = decimalToRational(growthNumber, 'growth');
  const sc: StorageConstants = { ...DEFAULT_STORAGE_CONSTANTS, ...(options.storageConstants ?? {}) };
  for (const [k, v] of Object.entries(sc)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new InputError('E_SIZING_INPUT', `storage constant ${k} must be a whole number >= 0`, { field: `storageConstants.${k}` });
    }
  }
  const gText = String(growthNumber);

  // vCores, counted in halves so the x 0.5 term stays an integer.
  const factsTerm = ceilDiv(facts, 500_000n);
  const connTerm = ceilDiv(connections, 100n);
  const halves = 2n * (2n + factsTerm) + connTerm;
  const vcores = Number(ceilDiv(halves * g.num, 2n * g.den));
  const vSub = Number(halves) / 2;
  const vcoreTerms: SizingTerm[] = [
    { name: 'base', expression: '2', value: 2 },
    { name: 'facts term', expression: `ceil(${facts} / 500000)`, value: Number(factsTerm) },
    { name: 'connections term', expression: `ceil(${connections} / 100) x 0.5`, value: Number(connTerm) / 2 },
    { name: 'subtotal', expression: `2 + ${factsTerm} + ${Number(connTerm) / 2}`, value: vSub },
    { name: 'x growth', expression: `${vSub} x ${gText}`, value: toNumber({ num: halves * g.num, den: 2n * g.den }) },
    { name: 'vCores', expression: 'ceil(previous)', value: vcores, unit: 'vCores' },
  ];

  // Memory in millionths of a GB: 4 GB = 4e6, 2 x facts / 1M GB = 2 x facts, 0.1 x connections / 10 GB = 1e4 x connections.
  const micro = 4_000_000n + 2n * facts + 10_000n * connections;
  const memoryGb = Number(ceilDiv(micro * g.num, 1_000_000n * g.den));
  const mSub = toNumber({ num: micro, den: 1_000_000n });
  const memoryTerms: SizingTerm[] = [
    { name: 'base', expression: '4', value: 4, unit: 'GB' },
    { name: 'facts term', expression: `2 x ${facts} / 1000000`, value: toNumber({ num: 2n * facts, den: 1_000_000n }), unit: 'GB' },
    { name: 'connections term', expression: `0.1 x ${connections} / 10`, value: toNumber({ num: connections, den: 100n }), unit: 'GB' },
    { name: 'subtotal', expression: 'base + facts term + connections term', value: mSub, unit: 'GB' },
    { name: 'x growth', expression: `${mSub} x ${gText}`, value: toNumber({ num: micro * g.num, den: 1_000_000n * g.den }), unit: 'GB' },
    { name: 'memory', expression: 'ceil(previous)', value: memoryGb, unit: 'GB' },
  ];

  // Storage (ours): exact in bytes, percentages kept as integers until the final division.
  const b = (n: number): bigint => BigInt(n);
  const vectorBytes = b(sc.bytesPerDimension) * b(sc.embeddingDimensions) + b(sc.vectorHeaderBytes);
  const factRowBytes = vectorBytes + b(sc.factPayloadBytes) + b(sc.rowOverheadBytes);
  const tableBytes = facts * factRowBytes + sessions * b(sc.sessionBytes);
  const hnswBytes = facts * (vectorBytes + b(sc.hnswNeighborBytes));
  const subtotal100 = tableBytes * 100n + tableBytes * b(sc.btreeIndexPercent) + hnswBytes * 100n;
  const bloated10k = subtotal100 * (100n + b(sc.bloatPercent));
  const storageGb = Number(ceilDiv(bloated10k * g.num, 10_000n * g.den * GIB));
  const storageProvisionGb = PROVISIONABLE_STORAGE_GB.find((s) => s >= storageGb) ?? null;
  const storageTerms: SizingTerm[] = [
    { name: 'vector bytes', expression: `${sc.bytesPerDimension} x ${sc.embeddingDimensions} + ${sc.vectorHeaderBytes}`, value: Number(vectorBytes), unit: 'B' },
    { name: 'fact row bytes', expression: `${vectorBytes} + ${sc.factPayloadBytes} + ${sc.rowOverheadBytes}`, value: Number(factRowBytes), unit: 'B' },
    { name: 'table bytes', expression: `${facts} x ${factRowBytes} + ${sessions} x ${sc.sessionBytes}`, value: Number(tableBytes), unit: 'B' },
    { name: 'HNSW index bytes', expression: `${facts} x (${vectorBytes} + ${sc.hnswNeighborBytes})`, value: Number(hnswBytes), unit: 'B' },
    { name: 'B-tree index bytes', expression: `${tableBytes} x ${sc.btreeIndexPercent}%`, value: toNumber({ num: tableBytes * b(sc.btreeIndexPercent), den: 100n }), unit: 'B' },
    { name: 'subtotal', expression: 'table + HNSW + B-tree', value: toNumber({ num: subtotal100, den: 100n }), unit: 'B' },
    { name: 'x bloat', expression: `subtotal x (100 + ${sc.bloatPercent})%`, value: toNumber({ num: bloated10k, den: 10_000n }), unit: 'B' },
    { name: 'x growth', expression: `previous x ${gText}`, value: toNumber({ num: bloated10k * g.num, den: 10_000n * g.den }), unit: 'B' },
    { name: 'storage', expression: 'ceil(previous / 2^30)', value: storageGb, unit: 'GiB' },
  ];

  const required = { vcores, memoryGb, storageGb };
  const best = chooseSku(required, catalog);
  const cheapestByTier = Object.fromEntries(
    SKU_TIERS.map((t) => {
      const s = chooseSku(required, catalog, [t]);
      return [t, s ? choice(s) : null];
    }),
  ) as Record<SkuTier, SkuChoice | null>;

  const presets: PresetComparison[] = [];
  for (const env of ENVIRONMENTS) {
    // The preset SKUs are looked up in the built-in catalog when a custom one lacks them: the preset is a fixed table.
    const s = findSku(ENVIRONMENT_PRESETS[env], catalog) ?? findSku(ENVIRONMENT_PRESETS[env]);
    if (s) presets.push({ environment: env, sku: choice(s), meetsRequired: skuMeets(s, required) });
  }
  const preset = input.environment ? presets.find((p) => p.environment === input.environment) : undefined;

  const notes: string[] = [];
  const short = presets.filter((p) => !p.meetsRequired).map((p) => `${p.environment} ${p.sku.name.replace(/^Standard_/, '')}`);
  if (short.length > 0) {
    notes.push(
      `The strategy's environment table is a preset, not this formula's output: ${short.join(', ')} ` +
        `${short.length === 1 ? 'does' : 'do'} not meet ${vcores} vCores / ${memoryGb} GB. With growth 2.0 any load of 1 to 500K facts and 1 to 100 ` +
        'connections needs (2 + 1 + 0.5) x 2 = 7 vCores, i.e. an 8-vCore SKU, even the Dev row.',
    );
  }
  notes.push('Storage uses engram-audit\'s own estimate: the seed strategy\'s storage formula was not available (docs/sizing.md).');
  if (!catalog.verified) {
    notes.push(`SKU prices (${catalog.region}, recorded ${catalog.recordedOn}) are unverified list prices used only to order SKUs; pass --catalog FILE for current prices.`);
  }
  if (!best) notes.push(`No single SKU in the catalog has ${vcores} vCores and ${memoryGb} GB: shard or add read replicas.`);

  return {
    inputs: {
      sessions: Number(sessions),
      facts: Number(facts),
      connections: Number(connections),
      growth: growthNumber,
      ...(input.environment ? { environment: input.environment } : {}),
    },
    required,
    storageProvisionGb,
    sku: best ? choice(best) : null,
    cheapestByTier,
    terms: { vcores: vcoreTerms, memoryGb: memoryTerms, storageGb: storageTerms },
    storageConstants: sc,
    ...(preset ? { preset } : {}),
    presets,
    catalog: { region: catalog.region, currency: catalog.currency, source: catalog.source, recordedOn: catalog.recordedOn, verified: catalog.verified },
    notes,
  };
}
