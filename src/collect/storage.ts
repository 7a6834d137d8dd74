/**
 * Storage account children the graph lacks: blob service properties, containers (publicAccess) and the lifecycle
 * management policy, through @azure/arm-storage 20 (api-version 2025-08-01), stored as their wire bodies.
 */
import { StorageManagementClient } from '@azure/arm-storage';
import type { AzureDocument } from '../model.js';
import { type CollectContext, drain, parseResourceId } from './context.js';

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
  await ctx.captureList(
    {
      collector: 'storage.containers',
      scope,
      resourceId: account.id,
      resourceType: 'microsoft.storage/storageaccounts/blobservices/containers',
    },
    () => drain(client.blobContainers.list(resourceGroup, name)),
  );
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
