/**
 * Values the engine derives from a document where a path alone cannot express the rule: ISO-8601 durations, key
 * rotation intervals, public IPv4 address counts. Each is documented in docs/writing-controls.md ("Derived values").
 */
import type { AzureDocument } from '../model.js';

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

/** Derived values by the name a condition uses (`derived: key_rotation_days`). Each gets the current value, the document and the run clock. */
export const DERIVED: Readonly<Record<string, (value: unknown, root: AzureDocument, now?: Date) => unknown>> = {
  key_rotation_days: (value) => keyRotationDays(value),
  public_ipv4_addresses: (value) => publicIpv4Addresses(value),
  /** Days from the timestamp at `path` to the run clock (negative if in the future). */
  days_since: (value, _root, now) => {
    const t = toTime(value);
    return t === undefined ? undefined : (clock(now) - t) / 86_400_000;
  },
  /** Days from the run clock to the timestamp at `path` (negative once it has passed): expiry dates. */
  days_until: (value, _root, now) => {
    const t = toTime(value);
    return t === undefined ? undefined : (t - clock(now)) / 86_400_000;
  },
};
