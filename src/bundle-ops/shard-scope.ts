/**
 * What `scan --shard i/n` collects: the shard's share of the `--subscription` list, or of the subscriptions Resource
 * Graph lists in scope when no list is given, as an explicit subscription scope for collect().
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import type { CollectResult } from '../collect/index.js';
import type { Scope, ShardRef } from '../model.js';
import { discoverSubscriptions } from './discover.js';
import { subscriptionsOfShard } from './shard.js';

/** The collection plan of one shard. */
export interface ShardPlan {
  shard: ShardRef;
  /** Every subscription the shards are cut from (the --subscription list, or what Resource Graph listed), sorted. */
  population: string[];
  /** This shard's subscriptions (sorted); may be empty when there are fewer subscriptions than shards. */
  subscriptions: string[];
  /** The scope to hand collect(): the shard's subscriptions, no management groups (they were resolved already). */
  collectScope: Scope;
}

/**
 * Plans one shard of `scope`. With only `scope.subscriptions` given, no request is made; otherwise the subscriptions in
 * scope (under `scope.managementGroups`, or every visible one) are listed first and joined with the named ones.
 *
 * @throws CollectionFailure (exit 3) when the subscriptions cannot be listed.
 */
export async function planShard(
  shard: ShardRef,
  scope: Scope,
  access: { credential: TokenCredential; httpClient?: HttpClient; concurrency?: number },
): Promise<ShardPlan> {
  const named = scope.subscriptions.map((s) => s.toLowerCase());
  // An unsharded scan covers the named subscriptions plus those under the management groups (or, naming neither, every
  // visible one): the shards split that same set. Only a bare subscription list needs no listing.
  const listed =
    named.length > 0 && scope.managementGroups.length === 0
      ? []
      : await discoverSubscriptions({
          credential: access.credential,
          ...(access.httpClient ? { httpClient: access.httpClient } : {}),
          managementGroups: scope.managementGroups,
          source: scope.source === 'replay' ? 'replay' : 'azure',
          ...(access.concurrency ? { concurrency: access.concurrency } : {}),
        });
  const population = [...new Set([...named, ...listed])].sort();
  const subscriptions = subscriptionsOfShard(population, shard);
  return { shard, population, subscriptions, collectScope: { ...scope, subscriptions, managementGroups: [] } };
}

/** The collection of a shard with no subscription: nothing requested, nothing collected (never "everything"). */
export function emptyCollection(): CollectResult {
  return { documents: [], provenance: [], errors: [], lists: [], subscriptionsRequested: [], subscriptionsReturned: [] };
}
