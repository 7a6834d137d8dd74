/**
 * PostgreSQL flexible server children the graph lacks: four server parameters and the firewall rules, through
 * @azure/arm-postgresql-flexible 9 (api-version 2025-08-01), stored as their wire bodies.
 */
import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import type { AzureDocument } from '../model.js';
import { type CollectContext, drain, parseResourceId } from './context.js';

/**
 * The server parameters the controls read, each fetched with Configurations_Get: the TLS pair (AI-SEC-01),
 * `azure.extensions` (the pgvector allow-list, AI-CAP-01) and `max_connections` (the connection alert threshold is a
 * share of it, AI-MON-01).
 */
export const POSTGRES_CONFIGURATIONS = ['require_secure_transport', 'ssl_min_protocol_version', 'azure.extensions', 'max_connections'] as const;

/** Collects configurations and firewall rules of one server; failures become CollectionErrors for that server. */
export async function collectPostgresServer(
  ctx: CollectContext,
  server: AzureDocument,
  clientFor: (subscriptionId: string) => PostgreSQLManagementFlexibleServerClient,
): Promise<void> {
  const { subscriptionId, resourceGroup, name } = parseResourceId(server.id);
  const client = clientFor(subscriptionId);
  for (const param of POSTGRES_CONFIGURATIONS) {
    await ctx.capture(
      {
        collector: 'postgres.configurations',
        scope: `/subscriptions/${subscriptionId}`,
        resourceId: server.id,
        resourceType: 'microsoft.dbforpostgresql/flexibleservers/configurations',
      },
      () => client.configurations.get(resourceGroup, name, param),
    );
  }
  await ctx.captureList(
    {
      collector: 'postgres.firewallRules',
      scope: `/subscriptions/${subscriptionId}`,
      resourceId: server.id,
      resourceType: 'microsoft.dbforpostgresql/flexibleservers/firewallrules',
    },
    () => drain(client.firewallRules.listByServer(resourceGroup, name)),
  );
}

/** One client per subscription (the PostgreSQL client is bound to a subscription GUID). */
export function postgresClients(ctx: CollectContext): (subscriptionId: string) => PostgreSQLManagementFlexibleServerClient {
  const cache = new Map<string, PostgreSQLManagementFlexibleServerClient>();
  return (sub) => {
    let c = cache.get(sub);
    if (!c) cache.set(sub, (c = new PostgreSQLManagementFlexibleServerClient(ctx.credential, sub, ctx.clientOptions())));
    return c;
  };
}
