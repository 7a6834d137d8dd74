/**
 * Storage account children the graph lacks: blob service properties, containers (publicAccess; a GET for those under a
 * retention policy or legal hold, whose details only the GET carries) and the lifecycle management policy, through
 * @azure/arm-storage 20 (api-version 2025-08-01), stored as their wire bodies.
 */
import { StorageManagementClient } from '@azure/arm-storage';
import type { AzureDocument } from '../model.js';
import { type CollectContext, drain, parseResourceId } from './context.js';

export const CONTAINER_TYPE = 'microsoft.storage/storageaccounts/blobservices/containers';

/** True when a listed container has a retention policy or legal hold (case-insensitive `true`, as the wire may vary). */
export function needsContainerGet(container: AzureDocument): boolean {
  const p = container.properties ?? {};
  const yes = (v: unknown) => v === true || String(v).toLowerCase() === 'true';
  return yes(p.hasImmutabilityPolicy) || yes(p.hasLegalHold);
}

/** Collects one account's children; failures become CollectionErrors for that account. */
export async function collectStorageAccount(
  ctx: CollectContext,
  account: AzureDocument,
  clientFor: (subscriptionId: string) => StorageManagementClient,
): Promise<void> {
  const { subscriptionId, resourceGroup, name } = parseResourceId(account.id);
  const client = clientFor(subscriptionId);
  const scope = `/subscriptions/${subscriptionId}`;
  await ctx.capture(
    { collector: 'storage.blobServices', scope, resourceId: account.id, resourceType: 'microsoft.storage/storageaccounts/blobservices' },
    () => client.blobServices.getServiceProperties(resourceGroup, name),
  );
  const containers = await ctx.captureList(
    {
      collector: 'storage.containers',
      scope,
      resourceId: account.id,
      resourceType: CONTAINER_TYPE,
    },
    () => drain(client.blobContainers.list(resourceGroup, name)),
  );
  // The list says whether a container has a time-based retention policy or a legal hold, but only BlobContainers_Get
  // carries immutabilityPolicy.properties.{immutabilityPeriodSinceCreationInDays,state} and legalHold.tags. A container
  // with neither has nothing more to show, so only these are fetched (one call each, not one per container).
  for (const c of containers ?? []) {
    if (!needsContainerGet(c)) continue;
    const containerName = typeof c.name === 'string' ? c.name : c.id.split('/').pop()!;
    await ctx.capture(
      { collector: 'storage.containers', scope, resourceId: c.id, resourceType: CONTAINER_TYPE },
      () => client.blobContainers.get(resourceGroup, name, containerName),
    );
  }
  // No lifecycle policy is a 404 (ManagementPolicyNotFound): that is "collected, none", not a failure.
  const where = {
    collector: 'storage.managementPolicies',
    scope,
    resourceId: account.id,
    resourceType: 'microsoft.storage/storageaccounts/managementpolicies',
  };
  let notFound = false;
  const docs = await ctx.capture(where, async () => {
    try {
      await client.managementPolicies.get(resourceGroup, name, 'default');
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        notFound = true;
        return;
      }
      throw err;
    }
  });
  if (docs) ctx.lists.push({ collector: where.collector, parentId: account.id, resourceType: where.resourceType, count: notFound ? 0 : docs.length });
}

/** One client per subscription. */
export function storageClients(ctx: CollectContext): (subscriptionId: string) => StorageManagementClient {
  const cache = new Map<string, StorageManagementClient>();
  return (sub) => {
    let c = cache.get(sub);
    if (!c) cache.set(sub, (c = new StorageManagementClient(ctx.credential, sub, ctx.clientOptions())));
    return c;
  };
}
