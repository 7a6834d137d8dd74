/**
 * Key Vault keys through ARM (`Microsoft.KeyVault/vaults/keys`, @azure/arm-keyvault 5): `properties.rotationPolicy`
 * and `attributes` come from the management plane, so private vaults (no data-plane reach) are covered too.
 */
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import type { AzureDocument } from '../model.js';
import { type CollectContext, drain, parseResourceId } from './context.js';

export const KEY_TYPE = 'microsoft.keyvault/vaults/keys';

/** Lists a vault's keys, then GETs each (the GET carries the rotation policy); failures become CollectionErrors. */
export async function collectVaultKeys(
  ctx: CollectContext,
  vault: AzureDocument,
  clientFor: (subscriptionId: string) => KeyVaultManagementClient,
): Promise<void> {
  const { subscriptionId, resourceGroup, name } = parseResourceId(vault.id);
  const client = clientFor(subscriptionId);
  const scope = `/subscriptions/${subscriptionId}`;
  const listed = await ctx.captureList(
    { collector: 'keyvault.keys', scope, resourceId: vault.id, resourceType: KEY_TYPE },
    () => drain(client.keys.list(resourceGroup, name)),
  );
  for (const key of listed ?? []) {
    const keyName = typeof key.name === 'string' ? key.name : key.id.split('/').pop()!;
    await ctx.capture(
      { collector: 'keyvault.keys', scope, resourceId: key.id, resourceType: KEY_TYPE },
      () => client.keys.get(resourceGroup, name, keyName),
    );
  }
}

/** One client per subscription. */
export function keyVaultClients(ctx: CollectContext): (subscriptionId: string) => KeyVaultManagementClient {
  const cache = new Map<string, KeyVaultManagementClient>();
  return (sub) => {
    let c = cache.get(sub);
    if (!c) cache.set(sub, (c = new KeyVaultManagementClient(ctx.credential, sub, ctx.clientOptions())));
    return c;
  };
}
