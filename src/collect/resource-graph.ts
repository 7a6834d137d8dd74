/**
 * Resource Graph inventory: one KQL query per resource family, subscriptions batched at most 1,000 per request (or
 * management groups), `$skipToken` paging until done, `resultTruncated` never silent. The rows are the main resource
 * documents (Resource Graph lower-cases `type`; we keep it, since types compare case-insensitively).
 */
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { AzureDocument } from '../model.js';
import { withCapture } from './http.js';
import type { CollectContext } from './context.js';

/** The resource families AI-SEC-01 inventories. */
export type ResourceFamily = 'storage' | 'postgres' | 'keyvault';

/** Lower-case ARM types of each family. */
export const FAMILY_TYPES: Readonly<Record<ResourceFamily, string>> = {
  storage: 'microsoft.storage/storageaccounts',
  postgres: 'microsoft.dbforpostgresql/flexibleservers',
  keyvault: 'microsoft.keyvault/vaults',
};

/** KQL for storage accounts (no tag filter). Sorted by id so `$skipToken` pages are stable. */
export const KQL_STORAGE_ACCOUNTS =
  "Resources | where type =~ 'microsoft.storage/storageaccounts' | order by id asc";
/** KQL for PostgreSQL flexible servers (no tag filter). */
export const KQL_POSTGRES_FLEXIBLE_SERVERS =
  "Resources | where type =~ 'microsoft.dbforpostgresql/flexibleservers' | order by id asc";
/** KQL for key vaults (no tag filter). */
export const KQL_KEY_VAULTS = "Resources | where type =~ 'microsoft.keyvault/vaults' | order by id asc";
/**
 * KQL for metric alert rules. Never tag-filtered: alerts are evidence about the servers they watch (their
 * `properties.scopes`), and an ops team rarely tags them like the workload, so `--tag environment=prod` must not hide them.
 */
export const KQL_METRIC_ALERTS = "Resources | where type =~ 'microsoft.insights/metricalerts' | order by id asc";
/** Lower-case type of metric alert rules. */
export const METRIC_ALERT_TYPE = 'microsoft.insights/metricalerts';
/** KQL listing the subscriptions the credential can see (coverage: requested vs returned). */
export const KQL_SUBSCRIPTIONS =
  "ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId, name | order by subscriptionId asc";

const FAMILY_KQL: Readonly<Record<ResourceFamily, string>> = {
  storage: KQL_STORAGE_ACCOUNTS,
  postgres: KQL_POSTGRES_FLEXIBLE_SERVERS,
  keyvault: KQL_KEY_VAULTS,
};

/** Resource Graph accepts at most this many subscriptions per request. */
export const MAX_SUBSCRIPTIONS_PER_REQUEST = 1000;

/**
 * Quotes hostile text as a KQL string literal: backslash and quote escaped, control characters as escapes, so a tag
 * value can never end the literal and inject query text.
 */
export function kqlString(text: string): string {
  const body = text.replace(/[\\'\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\\\';
      case "'":
        return "\\'";
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
  return `'${body}'`;
}

/**
 * The exact query sent for a family: the family constant, with one `| where tags[<key>] =~ <value>` per tag filter
 * (sorted by key) inserted before the ordering.
 */
export function buildFamilyQuery(family: ResourceFamily, tags: Record<string, string> = {}): string {
  const base = FAMILY_KQL[family];
  const filters = Object.keys(tags)
    .sort()
    .map((k) => ` | where tags[${kqlString(k)}] =~ ${kqlString(tags[k]!)}`)
    .join('');
  return base.replace(' | order by id asc', `${filters} | order by id asc`);
}

/** Splits a list into batches of at most `size`. */
export function batches<T>(items: readonly T[], size = MAX_SUBSCRIPTIONS_PER_REQUEST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The scope part of a Resource Graph request: one batch of subscriptions, management groups, or neither (all visible). */
type GraphScope = { subscriptions?: string[]; managementGroups?: string[]; label: string };

function graphScopes(subscriptions: string[], managementGroups: string[]): GraphScope[] {
  const scopes: GraphScope[] = [];
  for (const b of batches(subscriptions)) {
    scopes.push({ subscriptions: b, label: b.length === 1 ? `/subscriptions/${b[0]}` : `subscriptions[${b.length}]` });
  }
  for (const b of batches(managementGroups)) {
    scopes.push({ managementGroups: b, label: b.map((m) => `/providers/Microsoft.Management/managementGroups/${m}`).join(',') });
  }
  if (scopes.length === 0) scopes.push({ label: 'all visible subscriptions' });
  return scopes;
}

/**
 * Runs `query` over every scope batch, following `$skipToken` until done. Each row goes through `onRow` with the
 * response it came in. A truncated page or failed request becomes a CollectionError for that scope (collector
 * `resource-graph`), and rows gathered so far for the batch are still kept (each is a real resource).
 */
export async function runGraphQuery(
  ctx: CollectContext,
  client: ResourceGraphClient,
  query: string,
  subscriptions: string[],
  managementGroups: string[],
  resourceType: string | undefined,
  onRow: (row: AzureDocument, response: Parameters<CollectContext['addDocument']>[1]) => void,
): Promise<void> {
  for (const scope of graphScopes(subscriptions, managementGroups)) {
    let skipToken: string | undefined;
    const seen = new Set<string>();
    for (;;) {
      let result: Awaited<ReturnType<ResourceGraphClient['resources']>>;
      let responses;
      try {
        ({ value: result, responses } = await withCapture(() =>
          client.resources({
            query,
            ...(scope.subscriptions ? { subscriptions: scope.subscriptions } : {}),
            ...(scope.managementGroups ? { managementGroups: scope.managementGroups } : {}),
            options: {
              resultFormat: 'objectArray',
              ...(ctx.settings.graphPageSize !== undefined ? { top: ctx.settings.graphPageSize } : {}),
              ...(skipToken ? { skipToken } : {}),
            },
          }),
        ));
      } catch (err) {
        ctx.addError({ collector: 'resource-graph', scope: scope.label, ...(resourceType ? { resourceType } : {}) }, err);
        break;
      }
      const response = responses[responses.length - 1];
      const wire = response ? (JSON.parse(response.bodyText) as { data?: unknown; resultTruncated?: unknown; $skipToken?: string }) : undefined;
      const rows = Array.isArray(wire?.data) ? (wire.data as AzureDocument[]) : [];
      if (!response || !Array.isArray(wire?.data)) {
        ctx.addError(
          { collector: 'resource-graph', scope: scope.label, ...(resourceType ? { resourceType } : {}) },
          Object.assign(new Error('Resource Graph answered without an objectArray `data` list'), { code: 'GRAPH_BAD_RESPONSE' }),
        );
        break;
      }
      for (const row of rows) onRow(row, response);
      // The wire field is "true"/"false" (a string); treat anything but "false" as truncated, so we never pass silently.
      const truncated = String(wire.resultTruncated ?? result.resultTruncated ?? 'false').toLowerCase() !== 'false';
      if (truncated) {
        ctx.addError(
          { collector: 'resource-graph', scope: scope.label, ...(resourceType ? { resourceType } : {}) },
          Object.assign(new Error(`Resource Graph truncated the result of: ${query}`), { code: 'GRAPH_RESULT_TRUNCATED' }),
        );
      }
      const next = wire.$skipToken ?? result.skipToken;
      if (!next) break;
      if (seen.has(next)) {
        ctx.addError(
          { collector: 'resource-graph', scope: scope.label, ...(resourceType ? { resourceType } : {}) },
          Object.assign(new Error('Resource Graph returned the same $skipToken twice; stopped paging'), { code: 'GRAPH_PAGING_LOOP' }),
        );
        break;
      }
      seen.add(next);
      skipToken = next;
    }
  }
}

/**
 * A main resource as the inventory hands it to the service collectors: its id and type. The document itself went to
 * the evidence sink when its row arrived; holding only this keeps the inventory small on a large estate.
 */
export type ResourceRef = Pick<AzureDocument, 'id' | 'type'>;

/** Inventory result: main resources per family and the subscriptions Resource Graph could see. */
export interface Inventory {
  byFamily: Record<ResourceFamily, ResourceRef[]>;
  /** Metric alert rules in scope (top-level `microsoft.insights/metricalerts`). */
  metricAlerts: ResourceRef[];
  /** False when the metric alert query failed or was truncated (the caller turns that into per-server errors). */
  metricAlertsComplete: boolean;
  /** Subscription ids the credential can see within the requested scope (lower-case), sorted. */
  subscriptionsReturned: string[];
}

/**
 * Lists the visible subscriptions, then each family, storing every row as a main resource document. `onFamily` gets
 * each family as soon as its pages are in, so service calls can start while the next family is still being listed.
 */
export async function collectInventory(
  ctx: CollectContext,
  subscriptions: string[],
  managementGroups: string[],
  tags: Record<string, string>,
  families: readonly ResourceFamily[] = ['storage', 'postgres', 'keyvault'],
  onFamily?: (family: ResourceFamily, resources: ResourceRef[]) => void,
): Promise<Inventory> {
  const client = new ResourceGraphClient(ctx.credential, ctx.clientOptions());
  const subs = new Set<string>();
  await runGraphQuery(ctx, client, KQL_SUBSCRIPTIONS, subscriptions, managementGroups, 'microsoft.resources/subscriptions', (row) => {
    const id = (row as { subscriptionId?: unknown }).subscriptionId;
    if (typeof id === 'string') subs.add(id.toLowerCase());
  });
  const byFamily = { storage: [], postgres: [], keyvault: [] } as Record<ResourceFamily, ResourceRef[]>;
  const ref = (doc: AzureDocument): ResourceRef => ({ id: doc.id, ...(doc.type !== undefined ? { type: doc.type } : {}) });
  for (const family of families) {
    await runGraphQuery(ctx, client, buildFamilyQuery(family, tags), subscriptions, managementGroups, FAMILY_TYPES[family], (row, response) => {
      const stored = ctx.addDocument(row, response);
      if (stored) byFamily[family].push(ref(stored));
    });
    ctx.onProgress({ kind: 'inventory', family, resources: byFamily[family].length });
    onFamily?.(family, byFamily[family]);
  }
  const metricAlerts: ResourceRef[] = [];
  // Service calls run while the inventory is listed, so only this query's own errors say the alert list is incomplete.
  const errorsBefore = ctx.errors.length;
  // Alerts are evidence about the servers; an inventory without PostgreSQL (shard discovery) does not need them.
  if (families.includes('postgres')) {
    await runGraphQuery(ctx, client, KQL_METRIC_ALERTS, subscriptions, managementGroups, METRIC_ALERT_TYPE, (row, response) => {
      const stored = ctx.addDocument(row, response);
      if (stored) metricAlerts.push(ref(stored));
    });
    ctx.onProgress({ kind: 'inventory', family: 'metricalerts', resources: metricAlerts.length });
  }
  return { byFamily, metricAlerts, metricAlertsComplete: !ctx.errors.slice(errorsBefore).some((e) => e.collector === 'resource-graph' && e.resourceType === METRIC_ALERT_TYPE), subscriptionsReturned: [...subs].sort() };
}
