/**
 * Sharding: `--shard i/n` splits the subscriptions of a scan over n jobs so that every subscription is scanned by
 * exactly one of them. A subscription's shard depends on its id alone (a hash), never on which other subscriptions a
 * job happened to see, so n independent jobs agree even when their views of the tenant differ by a new subscription.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { ShardRef } from '../model.js';

/** Upper bound on n: more shards than this is a typo, not a plan (Resource Graph batches 1,000 subscriptions anyway). */
export const MAX_SHARDS = 1000;

/**
 * Parses `i/n` (1-based): `1/4` ... `4/4`. Whitespace is not allowed; `0/4`, `5/4`, `1/0` and `a/b` are usage errors.
 *
 * @throws UsageError naming the flag and the accepted form.
 */
export function parseShard(text: string, flag = '--shard'): ShardRef {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new UsageError(`${flag} '${text}' is not i/n with 1 <= i <= n <= ${MAX_SHARDS}`, {
      field: flag,
      hint: 'Example: --shard 2/4 is the second of four jobs; run 1/4, 2/4, 3/4 and 4/4 and merge their bundles.',
    });
  }
  return { index, count };
}

/** `i/n`, the form parseShard reads. */
export function formatShard(shard: ShardRef): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * The 1-based shard a subscription belongs to among `count`: the first four bytes of SHA-256 of the lower-case
 * subscription id, read as an unsigned big-endian integer, modulo `count`, plus one. The same in a shell:
 * `printf %s "$id" | tr A-F a-f | sha256sum | cut -c1-8` gives the hex of that integer.
 */
export function shardOf(subscriptionId: string, count: number): number {
  const digest = createHash('sha256').update(subscriptionId.trim().toLowerCase(), 'utf8').digest();
  return (digest.readUInt32BE(0) % count) + 1;
}

/** The subscriptions (lower-case, sorted, unique) that belong to `shard`. */
export function subscriptionsOfShard(subscriptions: readonly string[], shard: ShardRef): string[] {
  const unique = [...new Set(subscriptions.map((s) => s.trim().toLowerCase()))].sort();
  return unique.filter((s) => shardOf(s, shard.count) === shard.index);
}

/** Every shard's subscriptions, for plans and tests: element `i - 1` is shard i's list. */
export function partition(subscriptions: readonly string[], count: number): string[][] {
  return Array.from({ length: count }, (_, i) => subscriptionsOfShard(subscriptions, { index: i + 1, count }));
}
