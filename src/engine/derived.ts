/**
 * Values the engine derives from a document where a path alone cannot express the rule: ISO-8601 durations, key
 * rotation intervals, public IPv4 address counts. Each is documented in docs/writing-controls.md ("Derived values").
 */
import type { AzureDocument } from '../model.js';
import { findSku } from '../sizing/sku-catalog.js';
import { sizePostgres } from '../sizing/postgres.js';
import { collectionSegment, docType, normId, type DocumentIndex } from './documents.js';

/**
 * What a derived value returns when the evidence it needs was not collected (a server parameter, a SKU the catalog
 * does not know): the leaf becomes missing evidence (an `error` result), never a silent fail or pass.
 */
export class MissingEvidence {
  constructor(readonly reason: string) {}
}

/** What a derived value can see besides the value at its path. */
export interface DerivedContext {
  /** The document the path was read from (an array element's document inside a quantifier). */
  root: AzureDocument;
  /** The check's target (the server a metric alert is looked up for). */
  target?: AzureDocument;
  index?: DocumentIndex;
  /** The run's clock. */
  now?: Date;
  /** Records a document the value was computed from, for the result's evidence list. */
  use?: (id: string) => void;
}

/**
 * Parses an ISO-8601 duration (`P90D`, `P3M`, `P1Y2M10DT2H30M`, `P2W`) into days. Months count 30 days and years
 * 365, as Key Vault does when it schedules rotation; returns undefined when `text` is not a duration.
 */
export function durationDays(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
    text.trim(),
  );
  if (!m || text.trim().length <= 1 || /T$/i.test(text.trim())) return undefined;
  const n = (i: number) => (m[i] ? Number(m[i]) : 0);
  return n(1) * 365 + n(2) * 30 + n(3) * 7 + n(4) + n(5) / 24 + n(6) / 1440 + n(7) / 86400;
}

function get(obj: unknown, key: string): unknown {
  if (!obj || typeof obj !== 'object') return undefined;
  const rec = obj as Record<string, unknown>;
  if (key in rec) return rec[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

/**
 * `key_rotation_days`: days after creation at which the key's earliest Rotate lifetime action fires. A Rotate action
 * with `timeAfterCreate` fires then; one with `timeBeforeExpiry` fires at `expiryTime - timeBeforeExpiry` (both from the
 * rotation policy). Reads the ARM `Microsoft.KeyVault/vaults/keys` resource (`properties.rotationPolicy`) or a data-plane
 * rotation policy body (`lifetimeActions` at the top). Undefined when no Rotate action can be scheduled.
 */
export function keyRotationDays(doc: unknown): number | undefined {
  const policy = get(get(doc, 'properties'), 'rotationPolicy') ?? (get(doc, 'lifetimeActions') ? doc : undefined);
  const actions = get(policy, 'lifetimeActions');
  if (!Array.isArray(actions)) return undefined;
  const expiry = durationDays(get(get(policy, 'attributes'), 'expiryTime'));
  let best: number | undefined;
  for (const action of actions) {
    const type = get(get(action, 'action'), 'type');
    if (typeof type !== 'string' || type.toLowerCase() !== 'rotate') continue;
    const trigger = get(action, 'trigger');
    const after = durationDays(get(trigger, 'timeAfterCreate'));
    const before = durationDays(get(trigger, 'timeBeforeExpiry'));
    let days: number | undefined;
    if (after !== undefined) days = after;
    else if (before !== undefined && expiry !== undefined) days = expiry - before;
    if (days !== undefined && (best === undefined || days < best)) best = days;
  }
  return best;
}

function ipv4(text: unknown): number {
  if (typeof text !== 'string') throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  const parts = text.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Blocks that are not reachable from the public internet (RFC 1918, loopback, link-local, CGNAT, "this network", multicast, reserved). */
const NON_PUBLIC: Array<[number, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
].map(([base, bits]) => {
  const start = ipv4(base as string);
  return [start, start + 2 ** (32 - (bits as number)) - 1] as [number, number];
});

/**
 * `public_ipv4_addresses`: how many public IPv4 addresses a PostgreSQL firewall rule (`properties.startIpAddress` ..
 * `endIpAddress`) admits, not counting the private and reserved blocks above. 0.0.0.0-255.255.255.255 gives about
 * 3.7 billion; the "allow Azure services" rule 0.0.0.0-0.0.0.0 gives 0. Throws on a malformed address (an `error` result).
 */
export function publicIpv4Addresses(doc: unknown): number | undefined {
  const props = get(doc, 'properties') ?? doc;
  const startText = get(props, 'startIpAddress');
  const endText = get(props, 'endIpAddress');
  if (startText === undefined || endText === undefined) return undefined;
  let start = ipv4(startText);
  let end = ipv4(endText);
  if (end < start) [start, end] = [end, start];
  let total = end - start + 1;
  for (const [s, e] of NON_PUBLIC) {
    const lo = Math.max(s, start);
    const hi = Math.min(e, end);
    if (hi >= lo) total -= hi - lo + 1;
  }
  return total;
}

/** A timestamp as Azure writes it: ISO-8601 text, or unix seconds (Key Vault attributes). Undefined if neither. */
export function toTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string' && value.trim() !== '') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function clock(now: Date | undefined): number {
  if (!now) throw new Error('days_since/days_until need the run clock (evaluate options.now)');
  return now.getTime();
}

function skuOf(value: unknown): ReturnType<typeof findSku> | MissingEvidence | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return findSku(value.trim()) ?? new MissingEvidence(`SKU "${value}" is not in the SKU catalog (src/sizing/sku-catalog.ts), so its size is unknown`);
}

/** Tag names that declare a server's planned load (values are whole numbers; growth a decimal >= 1). */
export const LOAD_TAGS = { facts: 'engram-facts', connections: 'engram-connections', sessions: 'engram-sessions', growth: 'engram-growth' } as const;

function tagValue(tags: unknown, name: string): string | undefined {
  if (!tags || typeof tags !== 'object') return undefined;
  for (const [k, v] of Object.entries(tags as Record<string, unknown>)) if (k.toLowerCase() === name && typeof v === 'string') return v.trim();
  return undefined;
}

/**
 * The strategy's sizing formula (src/sizing/postgres.ts) for the load a server's tags declare (`engram-facts`,
 * `engram-connections`, optional `engram-growth`, default 2.0). Undefined when no load is declared; throws on a tag that
 * is not a number (an `error` result: tags are hostile text).
 */
export function declaredLoadRequirement(tags: unknown): { vcores: number; memoryGb: number } | undefined {
  const facts = tagValue(tags, LOAD_TAGS.facts);
  const connections = tagValue(tags, LOAD_TAGS.connections);
  if (facts === undefined && connections === undefined) return undefined;
  const whole = (text: string | undefined, name: string): number => {
    if (text === undefined) return 0;
    if (!/^\d{1,15}$/.test(text)) throw new Error(`tag ${name} must be a whole number, got ${JSON.stringify(text.slice(0, 40))}`);
    return Number(text);
  };
  const growthText = tagValue(tags, LOAD_TAGS.growth);
  let growth: number | undefined;
  if (growthText !== undefined) {
    if (!/^\d{1,3}(\.\d{1,3})?$/.test(growthText) || Number(growthText) < 1) throw new Error(`tag ${LOAD_TAGS.growth} must be a number >= 1, got ${JSON.stringify(growthText.slice(0, 40))}`);
    growth = Number(growthText);
  }
  const sized = sizePostgres({ sessions: whole(tagValue(tags, LOAD_TAGS.sessions), LOAD_TAGS.sessions), facts: whole(facts, LOAD_TAGS.facts), connections: whole(connections, LOAD_TAGS.connections), ...(growth !== undefined ? { growth } : {}) });
  return { vcores: sized.required.vcores, memoryGb: sized.required.memoryGb };
}

const CONFIGURATIONS = 'microsoft.dbforpostgresql/flexibleservers/configurations';

/**
 * `percent_of_max_connections`: a connection-count threshold (the value at `path`) as a percentage of the target
 * server's `max_connections` parameter (`<server>/configurations/max_connections`). Missing evidence when that
 * parameter was not collected.
 */
export function percentOfMaxConnections(value: unknown, ctx: DerivedContext): number | MissingEvidence | undefined {
  const threshold = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(threshold)) return undefined;
  const server = ctx.target;
  if (!server || !ctx.index) throw new Error('percent_of_max_connections needs the check target and the evidence index');
  const { docs } = ctx.index.childrenOf(server, CONFIGURATIONS, 'max_connections');
  const doc = docs[0];
  if (!doc) {
    return new MissingEvidence(
      `no ${CONFIGURATIONS} "max_connections" was collected for ${server.id} (expected ${normId(server.id)}/${collectionSegment(docType(server), CONFIGURATIONS)}/max_connections)`,
    );
  }
  ctx.use?.(doc.id);
  const max = Number(get(get(doc, 'properties'), 'value'));
  if (!Number.isFinite(max) || max <= 0) throw new Error(`max_connections of ${server.id} is not a positive number`);
  return (threshold / max) * 100;
}

/**
 * Derived values by the name a condition uses (`derived: key_rotation_days`). Each gets the value at the leaf's path
 * (or the current value) and a context: the document, the check's target, the evidence index and the run clock.
 */
export const DERIVED: Readonly<Record<string, (value: unknown, ctx: DerivedContext) => unknown>> = {
  key_rotation_days: (value) => keyRotationDays(value),
  public_ipv4_addresses: (value) => publicIpv4Addresses(value),
  /** Days from the timestamp at `path` to the run clock (negative if in the future). */
  days_since: (value, ctx) => {
    const t = toTime(value);
    return t === undefined ? undefined : (clock(ctx.now) - t) / 86_400_000;
  },
  /** Days from the run clock to the timestamp at `path` (negative once it has passed): expiry dates. */
  days_until: (value, ctx) => {
    const t = toTime(value);
    return t === undefined ? undefined : (t - clock(ctx.now)) / 86_400_000;
  },
  /** vCores of the SKU named at `path` (`sku.name`), from the SKU catalog; missing evidence for an unknown SKU. */
  sku_vcores: (value) => {
    const s = skuOf(value);
    return s instanceof MissingEvidence || s === undefined ? s : s.vcores;
  },
  /** Memory (GiB) of the SKU named at `path`, from the SKU catalog. */
  sku_memory_gb: (value) => {
    const s = skuOf(value);
    return s instanceof MissingEvidence || s === undefined ? s : s.memoryGb;
  },
  /** vCores the sizing formula requires for the load declared in the tags at `path`. */
  postgres_required_vcores: (value) => declaredLoadRequirement(value)?.vcores,
  /** Memory (GB) the sizing formula requires for the load declared in the tags at `path`. */
  postgres_required_memory_gb: (value) => declaredLoadRequirement(value)?.memoryGb,
  percent_of_max_connections: (value, ctx) => percentOfMaxConnections(value, ctx),
};
