/**
 * collect(): Resource Graph inventory, then the service APIs for what the graph lacks, all through one shared HTTP
 * layer; returns wire documents, provenance, list records, coverage and collection errors. Never decides compliance.
 */
import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import type { AzureDocument, Coverage, EvidenceSet, Scope } from '../model.js';
import { CollectContext, type ListRecord, type ProgressEvent } from './context.js';
import { createSharedHttpClient } from './http.js';
import { collectInventory, METRIC_ALERT_TYPE } from './resource-graph.js';
import { collectPostgresServer, postgresClients } from './postgres.js';
import { collectStorageAccount, storageClients } from './storage.js';
import { collectVaultKeys, keyVaultClients } from './keyvault.js';
import { collectDiagnosticSettings, monitorClients } from './monitor.js';
import { canonicalJson } from '../util/canonical-json.js';

export { resolveCredential, noCredentialsError, CREDENTIAL_SOURCES, MANAGEMENT_SCOPE } from './credential.js';
export { createReplayClient, createRecordingClient, createReplayCredential, requestKey, type CassetteEntry } from './replay.js';
export { createSharedHttpClient, withCapture, retryAfterMs, Semaphore, type CapturedResponse } from './http.js';
export {
  KQL_STORAGE_ACCOUNTS,
  KQL_POSTGRES_FLEXIBLE_SERVERS,
  KQL_KEY_VAULTS,
  KQL_METRIC_ALERTS,
  METRIC_ALERT_TYPE,
  KQL_SUBSCRIPTIONS,
  buildFamilyQuery,
  kqlString,
  MAX_SUBSCRIPTIONS_PER_REQUEST,
} from './resource-graph.js';
export type { ListRecord, ProgressEvent } from './context.js';

/** Options of {@link collect}. */
export interface CollectOptions {
  scope: Scope;
  credential: TokenCredential;
  /** Transport under the shared layer: a replay or recording client; default the SDK's real HTTP client. */
  httpClient?: HttpClient;
  /** Requests in flight across all clients. Default 8. */
  concurrency?: number;
  /** Retries per request on 429/5xx/transport errors. Default 4. */
  maxRetries?: number;
  onProgress?: (event: ProgressEvent) => void;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** What collect returns: the evidence set plus coverage facts and list records (see docs/collectors.md). */
export interface CollectResult extends EvidenceSet {
  /** Subscriptions asked for with `--subscription` (lower-case, sorted); empty = every visible subscription. */
  subscriptionsRequested: string[];
  /** Subscriptions Resource Graph reported visible within the scope (lower-case, sorted). */
  subscriptionsReturned: string[];
  /** One record per child list read successfully (count 0 = collected and empty). */
  lists: ListRecord[];
}

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(width, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : a.id.toLowerCase() > b.id.toLowerCase() ? 1 : 0);

/**
 * Collects the evidence of every control for `scope` (docs/collectors.md lists each document and its API). A failed call never throws out of here: it becomes a CollectionError
 * (collector, scope, resourceId, resourceType, code, message) and everything else is still collected. Output order is
 * sorted by id so the same estate gives the same bytes.
 */
export async function collect(options: CollectOptions): Promise<CollectResult> {
  const concurrency = options.concurrency ?? 8;
  const shared = createSharedHttpClient(options.httpClient ?? createDefaultHttpClient(), {
    concurrency,
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const source = options.scope.source === 'replay' ? 'replay' : 'azure';
  const ctx = new CollectContext(options.credential, shared, source, options.onProgress);
  const requested = [...new Set(options.scope.subscriptions.map((s) => s.toLowerCase()))].sort();

  const inventory = await collectInventory(ctx, requested, options.scope.managementGroups, options.scope.tags);
  for (const sub of requested) {
    if (!inventory.subscriptionsReturned.includes(sub) && !ctx.errors.some((e) => e.collector === 'resource-graph')) {
      ctx.errors.push({
        collector: 'resource-graph',
        scope: `/subscriptions/${sub}`,
        code: 'SUBSCRIPTION_NOT_VISIBLE',
        message: `subscription ${sub} was requested but Resource Graph did not return it (no access, wrong tenant, or it does not exist)`,
      });
    }
  }

  const pg = postgresClients(ctx);
  const st = storageClients(ctx);
  const kv = keyVaultClients(ctx);
  const mon = monitorClients(ctx);
  type Task = () => Promise<void>;
  const tasks: Task[] = [];
  const guarded = (collector: string, doc: AzureDocument, fn: () => Promise<void>): Task => async () => {
    try {
      await fn();
      options.onProgress?.({ kind: 'resource', collector, resourceId: doc.id, ok: true });
    } catch (err) {
      // A bug or malformed id must not drop the resource: it becomes an error for it.
      ctx.addError({ collector, scope: doc.id, resourceId: doc.id, ...(doc.type ? { resourceType: String(doc.type) } : {}) }, err);
      options.onProgress?.({ kind: 'resource', collector, resourceId: doc.id, ok: false });
    }
  };
  for (const s of inventory.byFamily.postgres) {
    tasks.push(guarded('postgres', s, () => collectPostgresServer(ctx, s, pg)));
    tasks.push(guarded('monitor', s, () => collectDiagnosticSettings(ctx, s, mon)));
    if (!inventory.metricAlertsComplete) {
      // Without the full alert list, "no alert watches this server" cannot be told from "not read": an error for it.
      ctx.errors.push({
        collector: 'resource-graph',
        scope: s.id,
        resourceId: s.id,
        resourceType: METRIC_ALERT_TYPE,
        code: 'METRIC_ALERTS_INCOMPLETE',
        message: 'the metric alert rules could not all be listed (see the resource-graph error for microsoft.insights/metricalerts)',
      });
    }
  }
  for (const a of inventory.byFamily.storage) {
    tasks.push(guarded('storage', a, () => collectStorageAccount(ctx, a, st)));
    // Blob logs (StorageRead/Write/Delete) are configured on the blob service, not the account.
    tasks.push(guarded('monitor', a, () => collectDiagnosticSettings(ctx, { id: `${a.id}/blobServices/default` }, mon)));
  }
  for (const v of inventory.byFamily.keyvault) {
    tasks.push(guarded('keyvault', v, () => collectVaultKeys(ctx, v, kv)));
    tasks.push(guarded('monitor', v, () => collectDiagnosticSettings(ctx, v, mon)));
  }
  await pool(tasks, concurrency * 2, (t) => t());

  const documents = [...ctx.documents.values()].sort(byId);
  const provenance = [...ctx.provenance.values()].sort((a, b) => byId({ id: a.documentId }, { id: b.documentId }));
  const errors = [...ctx.errors].sort((a, b) => {
    const ka = canonicalJson(a);
    const kb = canonicalJson(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const lists = [...ctx.lists].sort((a, b) => {
    const ka = `${a.parentId.toLowerCase()} ${a.resourceType}`;
    const kb = `${b.parentId.toLowerCase()} ${b.resourceType}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  options.onProgress?.({ kind: 'done', documents: documents.length, errors: errors.length });
  return {
    documents,
    provenance,
    errors,
    lists,
    subscriptionsRequested: requested,
    subscriptionsReturned: inventory.subscriptionsReturned,
  };
}

/**
 * The coverage block of results.json from a collection: subscriptions requested vs scanned (returned by Resource
 * Graph), documents per lower-case type, and the collection errors.
 */
export function coverageOf(result: CollectResult): Coverage {
  const resourcesByType: Record<string, number> = {};
  for (const d of result.documents) {
    const t = String(d.type ?? 'unknown').toLowerCase();
    resourcesByType[t] = (resourcesByType[t] ?? 0) + 1;
  }
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(resourcesByType).sort()) sorted[k] = resourcesByType[k]!;
  return {
    subscriptionsRequested: result.subscriptionsRequested,
    subscriptionsScanned: result.subscriptionsReturned,
    resourcesByType: sorted,
    documents: result.documents.length,
    errors: result.errors,
  };
}
