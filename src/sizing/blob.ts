/**
 * Blob Storage sizing and cost: stored volume from ingest and retention, the tier split of an access pattern, monthly
 * storage and access cost, and the weighted $/GB against the strategy's < $0.015 target.
 */
import { InputError } from '../errors.js';
import {
  ACCESS_PATTERNS,
  BLOB_TIERS,
  DEFAULT_BLOB_PRICES,
  type AccessPattern,
  type BlobPrices,
  type BlobTier,
  type PerTier,
} from './prices.js';
import type { SizingTerm } from './postgres.js';

/** Load to cost. */
export interface BlobSizingInput {
  docsPerMonth: number;
  /** Average document size in MB (1 GB = 1024 MB, as Azure bills storage). */
  avgMb: number;
  retentionDays: number;
  access: AccessPattern;
}

/** One tier's share, volume, operations and cost. */
export interface BlobTierLine {
  tier: BlobTier;
  share: number;
  gb: number;
  storageCost: number;
  operations: number;
  accessCost: number;
}

/** Result of {@link sizeBlob}. */
export interface BlobSizing {
  inputs: BlobSizingInput;
  /** Days per month used to turn retention into months. */
  daysPerMonth: number;
  retentionMonths: number;
  storedDocuments: number;
  totalGb: number;
  tiers: BlobTierLine[];
  monthly: { storage: number; access: number; total: number };
  /** Storage $ per GB-month blended by the tier split: the figure the strategy's target applies to. */
  weightedPerGbMonth: number;
  /** Storage plus access $ per GB-month; null when nothing is stored. */
  allInPerGbMonth: number | null;
  targetPerGbMonth: number;
  meetsTarget: boolean;
  terms: SizingTerm[];
  currency: string;
  pricesSource: string;
  notes: string[];
}

/** Thirty-day months: retention is given in days, prices per month. */
export const DAYS_PER_MONTH = 30;
const MB_PER_GB = 1024;

/** Rounds away binary noise (21504.000000000004 -> 21504) so outputs are stable and readable. */
export function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

function positive(value: unknown, field: string, integer: boolean): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0 && (!integer || Number.isSafeInteger(value));
  if (!ok) {
    throw new InputError('E_SIZING_INPUT', `${field} must be ${integer ? 'a whole number' : 'a number'} >= 0, got ${String(value)}`, {
      field,
      hint: `Give ${field} as a non-negative ${integer ? 'integer' : 'number'}.`,
    });
  }
  return value as number;
}

/**
 * Costs a month of Blob Storage at steady state: stored documents = docs per month x retention months (30-day months);
 * total GB = stored documents x avg MB / 1024; each tier holds its share of the access pattern; storage cost = GB x
 * $/GB-month; access cost = operations / 10,000 x $ per 10K, where operations = stored documents in the tier x reads per
 * document per month, plus one write per new document on hot.
 *
 * @throws InputError on a negative or non-numeric input or an unknown access pattern.
 */
export function sizeBlob(input: BlobSizingInput, prices: Readonly<BlobPrices> = DEFAULT_BLOB_PRICES): BlobSizing {
  const docs = positive(input.docsPerMonth, 'docsPerMonth', true);
  const avgMb = positive(input.avgMb, 'avgMb', false);
  const days = positive(input.retentionDays, 'retentionDays', true);
  if (!ACCESS_PATTERNS.includes(input.access)) {
    throw new InputError('E_SIZING_INPUT', `access must be one of ${ACCESS_PATTERNS.join(', ')}, got ${String(input.access)}`, {
      field: 'access',
      hint: 'frequent: mostly hot; moderate: mostly cool; rare: mostly archive.',
    });
  }
  const split: PerTier = prices.tierSplit[input.access];
  const reads: PerTier = prices.readsPerDocumentMonth[input.access];
  const months = days / DAYS_PER_MONTH;
  const storedDocs = docs * months;
  const totalGb = (storedDocs * avgMb) / MB_PER_GB;

  const tiers: BlobTierLine[] = BLOB_TIERS.map((tier) => {
    const gb = totalGb * split[tier];
    const operations = storedDocs * split[tier] * reads[tier] + (tier === 'hot' ? docs * prices.writesPerDocument : 0);
    return {
      tier,
      share: split[tier],
      gb: tidy(gb),
      storageCost: tidy(gb * prices.storagePerGbMonth[tier]),
      operations: tidy(operations),
      accessCost: tidy((operations / 10_000) * prices.operationsPer10k[tier]),
    };
  });
  const storage = tidy(tiers.reduce((s, t) => s + t.storageCost, 0));
  const access = tidy(tiers.reduce((s, t) => s + t.accessCost, 0));
  const total = tidy(storage + access);
  // Computed from the split, not storage / totalGb, so it is defined even for an empty account.
  const weightedPerGbMonth = tidy(BLOB_TIERS.reduce((s, t) => s + split[t] * prices.storagePerGbMonth[t], 0));
  const meetsTarget = weightedPerGbMonth < prices.targetPerGbMonth;

  const terms: SizingTerm[] = [
    { name: 'retention months', expression: `${days} / ${DAYS_PER_MONTH}`, value: tidy(months), unit: 'months' },
    { name: 'stored documents', expression: `${docs} x ${tidy(months)}`, value: tidy(storedDocs) },
    { name: 'total GB', expression: `${tidy(storedDocs)} x ${avgMb} MB / ${MB_PER_GB}`, value: tidy(totalGb), unit: 'GB' },
    ...tiers.map((t) => ({
      name: `${t.tier} storage`,
      expression: `${t.gb} GB (${t.share}) x ${prices.storagePerGbMonth[t.tier]}`,
      value: t.storageCost,
      unit: `${prices.currency}/month`,
    })),
    ...tiers.map((t) => ({
      name: `${t.tier} access`,
      expression: `${t.operations} ops / 10000 x ${prices.operationsPer10k[t.tier]}`,
      value: t.accessCost,
      unit: `${prices.currency}/month`,
    })),
    {
      name: 'weighted $/GB',
      expression: BLOB_TIERS.map((t) => `${split[t]} x ${prices.storagePerGbMonth[t]}`).join(' + '),
      value: weightedPerGbMonth,
      unit: `${prices.currency}/GB-month`,
    },
  ];
  const notes = [
    `Operation counts are an assumption (reads per stored document per month for "${input.access}": hot ${reads.hot}, cool ${reads.cool}, archive ${reads.archive}; ${prices.writesPerDocument} write per new document on hot); override them with --prices.`,
    'The target applies to the weighted storage price; the all-in figure adds access cost and is shown for information.',
  ];
  return {
    inputs: { docsPerMonth: docs, avgMb, retentionDays: days, access: input.access },
    daysPerMonth: DAYS_PER_MONTH,
    retentionMonths: tidy(months),
    storedDocuments: tidy(storedDocs),
    totalGb: tidy(totalGb),
    tiers,
    monthly: { storage, access, total },
    weightedPerGbMonth,
    allInPerGbMonth: totalGb > 0 ? tidy(total / totalGb) : null,
    targetPerGbMonth: prices.targetPerGbMonth,
    meetsTarget,
    terms,
    currency: prices.currency,
    pricesSource: prices.source,
    notes,
  };
}
