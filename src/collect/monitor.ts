/**
 * Diagnostic settings of a resource (@azure/arm-monitor 7, api-version 2017-05-01-preview), stored as separate
 * documents with ids `<resourceId>/providers/microsoft.insights/diagnosticSettings/<name>`. The resource may be a
 * top-level resource (vault, server) or a child (`<account>/blobServices/default`, where blob logs are configured).
 */
import { MonitorClient } from '@azure/arm-monitor';
import type { AzureDocument } from '../model.js';
import type { CollectContext } from './context.js';

export const DIAGNOSTIC_SETTINGS_TYPE = 'microsoft.insights/diagnosticsettings';

/** The document id contract 1 uses for a diagnostic setting of `resourceId`. */
export function diagnosticSettingId(resourceId: string, name: string): string {
  return `${resourceId}/providers/microsoft.insights/diagnosticSettings/${name}`;
}

/** Lists the diagnostic settings of one resource; an empty list is recorded as collected (count 0). */
export async function collectDiagnosticSettings(
  ctx: CollectContext,
  resource: Pick<AzureDocument, 'id'>,
  clientFor: (subscriptionId: string) => MonitorClient,
): Promise<void> {
  const subscriptionId = /^\/subscriptions\/([^/]+)\//i.exec(resource.id)?.[1];
  if (!subscriptionId) throw new Error(`not an ARM resource id: ${resource.id}`);
  const client = clientFor(subscriptionId);
  await ctx.captureList(
    {
      collector: 'monitor.diagnosticSettings',
      scope: `/subscriptions/${subscriptionId}`,
      resourceId: resource.id,
      resourceType: DIAGNOSTIC_SETTINGS_TYPE,
    },
    // Monitor 7's path template already starts with '/': a leading slash here would give '//subscriptions/...'.
    () => client.diagnosticSettings.list(resource.id.replace(/^\/+/, '')),
    (raw) => ({ ...raw, id: diagnosticSettingId(resource.id, String(raw.name ?? String(raw.id).split('/').pop())) }),
  );
}

/** One client per subscription. */
export function monitorClients(ctx: CollectContext): (subscriptionId: string) => MonitorClient {
  const cache = new Map<string, MonitorClient>();
  return (sub) => {
    let c = cache.get(sub);
    if (!c) cache.set(sub, (c = new MonitorClient(ctx.credential, sub, ctx.clientOptions())));
    return c;
  };
}
