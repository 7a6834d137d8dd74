/**
 * Subscription discovery for `scan --shard` without a `--subscription` list: one Resource Graph query (the same one
 * collect() starts with) lists the subscriptions the credential sees in scope, so the shard can then be collected as an
 * explicit subscription list. Until collect() takes a subscription filter itself, this costs one extra query per job.
 */
import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import { CollectContext } from '../collect/context.js';
import { createSharedHttpClient } from '../collect/http.js';
import { collectInventory } from '../collect/resource-graph.js';
import { CollectionFailure } from '../errors.js';

/** Options of {@link discoverSubscriptions}. */
export interface DiscoverOptions {
  credential: TokenCredential;
  httpClient?: HttpClient;
  /** Management groups to list the subscriptions of; empty = every subscription the credential sees. */
  managementGroups: string[];
  source: 'azure' | 'replay';
  concurrency?: number;
}

/**
 * Lists the subscriptions visible in scope (lower-case, sorted). Fails closed: if Resource Graph cannot list them
 * completely, no shard can be computed safely, so this throws rather than scanning a guess.
 *
 * @throws CollectionFailure (exit 3) naming the Resource Graph error.
 */
export async function discoverSubscriptions(options: DiscoverOptions): Promise<string[]> {
  const shared = createSharedHttpClient(options.httpClient ?? createDefaultHttpClient(), { concurrency: options.concurrency ?? 8 });
  const ctx = new CollectContext(options.credential, shared, options.source);
  const inventory = await collectInventory(ctx, [], options.managementGroups, {}, []);
  if (ctx.errors.length > 0) {
    const e = ctx.errors[0]!;
    throw new CollectionFailure('E_SHARD_DISCOVERY', `cannot list the subscriptions to shard: ${e.collector} ${e.scope}: ${e.code}: ${e.message}`, {
      hint: 'Check the credential can read Resource Graph (Reader on the subscriptions or management group), or pass the subscriptions with --subscription.',
    });
  }
  return inventory.subscriptionsReturned;
}
