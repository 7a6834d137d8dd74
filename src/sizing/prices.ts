/**
 * Blob Storage prices and access assumptions as data: the strategy's tier prices, the tier split per access pattern, the
 * operations-per-month assumption, and the loader that lets a price file (JSON or YAML) override any of them.
 */
import { InputError, ValidationError, type EngramError } from '../errors.js';
import { type DataFile, pointer } from './data-file.js';

export type BlobTier = 'hot' | 'cool' | 'archive';
export const BLOB_TIERS: readonly BlobTier[] = ['hot', 'cool', 'archive'];
export type AccessPattern = 'frequent' | 'moderate' | 'rare';
export const ACCESS_PATTERNS: readonly AccessPattern[] = ['frequent', 'moderate', 'rare'];

export type PerTier = Record<BlobTier, number>;

/** Everything the blob calculator prices with. */
export interface BlobPrices {
  currency: string;
  /** Where these numbers come from. */
  source: string;
  /** $ per GB-month of stored data, per tier. */
  storagePerGbMonth: PerTier;
  /** $ per 10,000 operations, per tier. */
  operationsPer10k: PerTier;
  /** Share of stored data in each tier, per access pattern; each row sums to 1. */
  tierSplit: Record<AccessPattern, PerTier>;
  /** Read operations per stored document per month, per access pattern and tier (our assumption, see docs/sizing.md). */
  readsPerDocumentMonth: Record<AccessPattern, PerTier>;
  /** Write operations per new document, billed at the hot tier (documents land in hot). */
  writesPerDocument: number;
  /** The strategy's target: weighted storage $/GB-month must be below this. */
  targetPerGbMonth: number;
}

/**
 * The strategy's prices (hot 0.018, cool 0.01, archive 0.002 $/GB-month; 0.05, 0.10, 5.00 $ per 10K operations), its
 * tier splits and its < $0.015 target. The operation counts are engram-audit's assumption: the strategy gives prices
 * per operation but no operation volumes.
 */
export const DEFAULT_BLOB_PRICES: Readonly<BlobPrices> = {
  currency: 'USD',
  source: 'Engram deployment strategy cost table (tier prices, splits, target); operation counts are engram-audit assumptions',
  storagePerGbMonth: { hot: 0.018, cool: 0.01, archive: 0.002 },
  operationsPer10k: { hot: 0.05, cool: 0.1, archive: 5 },
  tierSplit: {
    frequent: { hot: 0.7, cool: 0.2, archive: 0.1 },
    moderate: { hot: 0.3, cool: 0.5, archive: 0.2 },
    rare: { hot: 0.1, cool: 0.3, archive: 0.6 },
  },
  readsPerDocumentMonth: {
    frequent: { hot: 2, cool: 0.5, archive: 0.01 },
    moderate: { hot: 1, cool: 0.2, archive: 0.005 },
    rare: { hot: 0.5, cool: 0.1, archive: 0.001 },
  },
  writesPerDocument: 1,
  targetPerGbMonth: 0.015,
};

/** A value echoed in an error, cut short: the file is user text and may be long. */
function shortJson(x: unknown): string {
  const text = JSON.stringify(x) ?? String(x);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const TOP_KEYS = ['currency', 'source', 'storagePerGbMonth', 'operationsPer10k', 'tierSplit', 'readsPerDocumentMonth', 'writesPerDocument', 'targetPerGbMonth'];

/**
 * Merges a parsed price file over `base`. Every field is optional; present fields are validated (numbers >= 0, known
 * keys only, each tier split summing to 1). Every problem is collected and thrown as one ValidationError (exit 2)
 * whose entries name the file, line and JSON pointer.
 */
export function pricesFromData(data: DataFile, base: Readonly<BlobPrices> = DEFAULT_BLOB_PRICES): BlobPrices {
  const problems: EngramError[] = [];
  const bad = (path: (string | number)[], message: string, hint: string): void => {
    problems.push(new InputError('E_SIZING_PRICES', message, { file: data.file, line: data.lineOf(path), field: pointer(path), hint }));
  };
  const v = data.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new InputError('E_SIZING_PRICES', 'a price file must be an object (JSON) or a mapping (YAML)', {
      file: data.file,
      hint: 'See docs/sizing.md, "Price file", for the fields.',
    });
  }
  const o = v as Record<string, unknown>;
  const out: BlobPrices = structuredClone(base) as BlobPrices;

  const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  const num = (x: unknown, path: (string | number)[], hint: string): number | undefined => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      bad(path, `must be a number >= 0, got ${shortJson(x)}`, hint);
      return undefined;
    }
    return x;
  };
  const perTier = (x: unknown, path: string[], target: PerTier, hint: string): void => {
    if (!isObj(x)) return bad(path, 'must be an object with hot, cool and/or archive', hint);
    for (const [k, val] of Object.entries(x)) {
      if (!BLOB_TIERS.includes(k as BlobTier)) { bad([...path, k], `unknown tier "${k}"`, 'Tiers are hot, cool, archive.'); continue; }
      const n = num(val, [...path, k], hint);
      if (n !== undefined) target[k as BlobTier] = n;
    }
  };
  const perPattern = (x: unknown, key: 'tierSplit' | 'readsPerDocumentMonth', hint: string): void => {
    if (!isObj(x)) return bad([key], 'must be an object keyed by access pattern (frequent, moderate, rare)', hint);
    for (const [p, row] of Object.entries(x)) {
      if (!ACCESS_PATTERNS.includes(p as AccessPattern)) { bad([key, p], `unknown access pattern "${p}"`, 'Patterns are frequent, moderate, rare.'); continue; }
      perTier(row, [key, p], out[key][p as AccessPattern], hint);
    }
  };

  for (const k of Object.keys(o)) if (!TOP_KEYS.includes(k)) bad([k], `unknown field "${k}"`, `Allowed fields: ${TOP_KEYS.join(', ')}.`);
  for (const k of ['currency', 'source'] as const) {
    if (k in o) {
      if (typeof o[k] === 'string' && o[k] !== '') out[k] = o[k] as string;
      else bad([k], 'must be a non-empty string', k === 'currency' ? 'e.g. USD.' : 'Say where the prices come from.');
    }
  }
  if ('storagePerGbMonth' in o) perTier(o.storagePerGbMonth, ['storagePerGbMonth'], out.storagePerGbMonth, 'Give $ per GB-month, e.g. 0.018.');
  if ('operationsPer10k' in o) perTier(o.operationsPer10k, ['operationsPer10k'], out.operationsPer10k, 'Give $ per 10,000 operations, e.g. 0.05.');
  if ('tierSplit' in o) perPattern(o.tierSplit, 'tierSplit', 'Give the share of data in the tier, 0 to 1.');
  if ('readsPerDocumentMonth' in o) perPattern(o.readsPerDocumentMonth, 'readsPerDocumentMonth', 'Give reads per stored document per month.');
  if ('writesPerDocument' in o) {
    const n = num(o.writesPerDocument, ['writesPerDocument'], 'Give write operations per new document, e.g. 1.');
    if (n !== undefined) out.writesPerDocument = n;
  }
  if ('targetPerGbMonth' in o) {
    const n = num(o.targetPerGbMonth, ['targetPerGbMonth'], 'Give the $/GB-month target, e.g. 0.015.');
    if (n !== undefined) out.targetPerGbMonth = n;
  }
  if (isObj(o.tierSplit)) {
    for (const p of ACCESS_PATTERNS) {
      if (!(p in o.tierSplit)) continue;
      const row = out.tierSplit[p];
      const sum = row.hot + row.cool + row.archive;
      if (Math.abs(sum - 1) > 1e-9) {
        bad(['tierSplit', p], `shares must sum to 1, got ${Number(sum.toPrecision(12))} (hot ${row.hot} + cool ${row.cool} + archive ${row.archive})`, 'Omitted tiers keep their default share; give all three.');
      }
    }
  }
  if (problems.length > 0) {
    throw new ValidationError(`invalid price file (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems, { file: data.file });
  }
  return out;
}

