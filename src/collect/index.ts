/**
 * collect(): Resource Graph inventory, then the service APIs for what the graph lacks, all through one shared HTTP
 * layer; returns wire documents, provenance, list records, coverage and collection errors. Never decides compliance.
 */
import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import type { AzureDocument, Coverage, EvidenceSet, Scope } from '../model.js';
import { CollectContext, MemorySink, type EvidenceSink, type ListRecord, type ProgressEvent } from './context.js';
import type { EvidenceStore } from '../evidence/store.js';
import { createSharedHttpClient, withTrustedCa, type CallEvent } from './http.js';
import type { ThrottleLimits } from './throttle.js';
import { collectInventory, METRIC_ALERT_TYPE, type Inventory } from './resource-graph.js';
import { collectPostgresServer, postgresClients } from './postgres.js';
import { collectStorageAccount, storageClients } from './storage.js';
import { collectVaultKeys, keyVaultClients } from './keyvault.js';
import { collectDiagnosticSettings, monitorClients } from './monitor.js';
import { canonicalJson } from '../util/canonical-json.js';
import { append } from '../util/arrays.js';

export { resolveCredential, noCredentialsError, CREDENTIAL_SOURCES, MANAGEMENT_SCOPE } from './credential.js';
export { createReplayClient, createRecordingClient, createReplayCredential, requestKey, type CassetteEntry } from './replay.js';
export {
  createSharedHttpClient,
  withCapture,
  withTrustedCa,
  withHeadroom,
  retryAfterMs,
  Semaphore,
  DEADLINE_EXCEEDED,
  type CapturedResponse,
  type CallEvent,
} from './http.js';
export {
  AZURE_LIMITS,
  TokenBucket,
  Throttle,
  throttleScopeOf,
  parseQuotaResetsAfter,
  type BucketLimit,
  type ThrottleLimits,
  type ThrottleScope,
} from './throttle.js';
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
export type { ListRecord, ProgressEvent, EvidenceSink } from './context.js';

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
  /** Called once per finished HTTP request (status, attempts, time spent waiting for a token bucket): calls done, for an ETA. */
  onCall?: (event: CallEvent) => void;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Where the clients send requests instead of Azure's public cloud: `arm` is passed as `endpoint` to every ARM client
   * (Resource Graph included). For a loopback fake Azure; the default path is unchanged when absent.
   */
  endpoints?: { arm?: string };
  /**
   * A PEM CA certificate trusted for the `endpoints` origins only (a self-signed loopback server), so NODE_EXTRA_CA_CERTS
   * need not be set before node starts. Ignored without `endpoints.arm` or when `httpClient` is given.
   */
  trustedCa?: string | Buffer;
  /**
   * Overall deadline in milliseconds: after it no request starts, waits or retries, and what is not done becomes
   * CollectionErrors with code `DEADLINE_EXCEEDED` (never silently dropped). Default none.
   */
  deadlineMs?: number;
  /** Token buckets per throttled scope; default {@link AZURE_LIMITS}; `false` for none. */
  throttle?: ThrottleLimits | false;
  /** Monotonic millisecond clock for pacing and the deadline (tests); default `performance.now()`. */
  clock?: () => number;
  /** Resource Graph page size (`$top`, 1-1000); default unset, i.e. the service's default page size. */
  graphPageSize?: number;
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

/**
 * A work queue drained by `width` workers while producers may still add to it (the inventory hands over each family as
 * its pages arrive). `close()` says no more will come; `done` resolves when every task has run.
 */
function workQueue(width: number): { add(tasks: Array<() => Promise<void>>, first?: boolean): void; close(): void; done: Promise<void> } {
  const queue: Array<() => Promise<void>> = [];
  let closed = false;
  let waiters: Array<() => void> = [];
  const wakeAll = () => {
    const w = waiters;
    waiters = [];
    for (const r of w) r();
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      const task = queue.shift();
      if (task) {
        await task();
        continue;
      }
      if (closed) return;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const done = Promise.all(Array.from({ length: Math.max(1, width) }, worker)).then(() => undefined);
  return {
    add(tasks, first = false) {
      if (first) queue.unshift(...tasks);
      else queue.push(...tasks);
      wakeAll();
    },
    close() {
      closed = true;
      wakeAll();
    },
    done,
  };
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : a.id.toLowerCase() > b.id.toLowerCase() ? 1 : 0);

/** What {@link collectToStore} returns besides the documents it put in the store: the coverage facts. */
export interface CollectedScope {
  /** Subscriptions asked for with `--subscription` (lower-case, sorted); empty = every visible subscription. */
  subscriptionsRequested: string[];
  /** Subscriptions Resource Graph reported visible within the scope (lower-case, sorted). */
  subscriptionsReturned: string[];
}

/**
 * {@link collect} into a disk-backed {@link EvidenceStore}: each document is spooled to disk as its response arrives,
 * so memory does not grow with the estate's evidence (docs/performance.md, "Memory"). The store gets the documents,
 * the collection errors and the list records; the coverage facts are returned.
 */
export async function collectToStore(options: CollectOptions & { store: EvidenceStore }): Promise<CollectedScope> {
  const { store } = options;
  const out = await withSharedClient(options, (shared, armEndpoint, concurrency) => collectWith(options, shared, armEndpoint, concurrency, store));
  append(store.errors, out.errors);
  append(store.lists, out.lists);
  options.onProgress?.({ kind: 'done', documents: store.size, errors: out.errors.length });
  return { subscriptionsRequested: out.subscriptionsRequested, subscriptionsReturned: out.subscriptionsReturned };
}

/**
 * Collects the evidence of every control for `scope` (docs/collectors.md lists each document and its API). A failed call never throws out of here: it becomes a CollectionError
 * (collector, scope, resourceId, resourceType, code, message) and everything else is still collected. Output order is
 * sorted by id so the same estate gives the same bytes.
 */
export async function collect(options: CollectOptions): Promise<CollectResult> {
  const sink = new MemorySink();
  const out = await withSharedClient(options, (shared, armEndpoint, concurrency) => collectWith(options, shared, armEndpoint, concurrency, sink));
  const documents = [...sink.documents.values()].sort(byId);
  const provenance = [...sink.provenance.values()].sort((a, b) => byId({ id: a.documentId }, { id: b.documentId }));
  options.onProgress?.({ kind: 'done', documents: documents.length, errors: out.errors.length });
  return { documents, provenance, ...out };
}

/** Builds the shared HTTP layer for one collection, runs `fn` with it, and always disposes of it. */
async function withSharedClient<T>(
  options: CollectOptions,
  fn: (shared: ReturnType<typeof createSharedHttpClient>, armEndpoint: string | undefined, concurrency: number) => Promise<T>,
): Promise<T> {
  const concurrency = options.concurrency ?? 8;
  const armEndpoint = options.endpoints?.arm?.replace(/\/+$/, '');
  const trusted =
    !options.httpClient && armEndpoint && options.trustedCa !== undefined
      ? withTrustedCa(createDefaultHttpClient(), [armEndpoint], options.trustedCa)
      : undefined;
  const shared = createSharedHttpClient(options.httpClient ?? trusted ?? createDefaultHttpClient(), {
    concurrency,
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
    ...(options.throttle !== undefined ? { throttle: options.throttle } : {}),
    ...(options.onCall ? { onCall: options.onCall } : {}),
  });
  try {
    return await fn(shared, armEndpoint, concurrency);
  } finally {
    shared.dispose();
    trusted?.destroy();
  }
}

async function collectWith(
  options: CollectOptions,
  shared: ReturnType<typeof createSharedHttpClient>,
  armEndpoint: string | undefined,
  concurrency: number,
  sink: EvidenceSink,
): Promise<Omit<CollectResult, 'documents' | 'provenance'>> {
  const source = options.scope.source === 'replay' ? 'replay' : 'azure';
  const ctx = new CollectContext(
    options.credential,
    shared,
    source,
    options.onProgress,
    {
      ...(armEndpoint ? { armEndpoint } : {}),
      ...(options.graphPageSize !== undefined ? { graphPageSize: options.graphPageSize } : {}),
    },
    sink,
  );
  const requested = [...new Set(options.scope.subscriptions.map((s) => s.toLowerCase()))].sort();

  const pg = postgresClients(ctx);
  const st = storageClients(ctx);
  const kv = keyVaultClients(ctx);
  const mon = monitorClients(ctx);
  type Task = () => Promise<void>;
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
  // Service calls start as soon as a family's inventory is in. A vault's keys are the longest chain (list, then one GET
  // per key, in sequence), so they go to the front of the queue; outputs are sorted afterwards, so order changes no byte.
  const work = workQueue(concurrency * 2);
  let inventory: Inventory;
  try {
    inventory = await collectInventory(ctx, requested, options.scope.managementGroups, options.scope.tags, undefined, (family, docs) => {
      if (family === 'storage') {
        work.add(docs.map((a) => guarded('storage', a, () => collectStorageAccount(ctx, a, st))));
        // Blob logs (StorageRead/Write/Delete) are configured on the blob service, not the account.
        work.add(docs.map((a) => guarded('monitor', a, () => collectDiagnosticSettings(ctx, { id: `${a.id}/blobServices/default` }, mon))));
      }
      if (family === 'postgres') {
        work.add(docs.map((s) => guarded('postgres', s, () => collectPostgresServer(ctx, s, pg))));
        work.add(docs.map((s) => guarded('monitor', s, () => collectDiagnosticSettings(ctx, s, mon))));
      }
      if (family === 'keyvault') {
        work.add(docs.map((v) => guarded('keyvault', v, () => collectVaultKeys(ctx, v, kv))), true);
        work.add(docs.map((v) => guarded('monitor', v, () => collectDiagnosticSettings(ctx, v, mon))));
      }
    });
  } catch (err) {
    // Not expected (the inventory records its failures), but never leave workers running behind a throw.
    work.close();
    await work.done;
    throw err;
  }
  work.close();
  if (!inventory.metricAlertsComplete) {
    // Without the full alert list, "no alert watches this server" cannot be told from "not read": an error for each,
    // with the code of the query's own failure (AuthorizationFailed, DEADLINE_EXCEEDED, GRAPH_RESULT_TRUNCATED, ...).
    const cause = ctx.errors.find((e) => e.collector === 'resource-graph' && e.resourceId === undefined && e.resourceType === METRIC_ALERT_TYPE);
    for (const s of inventory.byFamily.postgres) {
      ctx.errors.push({
        collector: 'resource-graph',
        scope: s.id,
        resourceId: s.id,
        resourceType: METRIC_ALERT_TYPE,
        code: cause?.code ?? 'METRIC_ALERTS_INCOMPLETE',
        message: `the metric alert rules could not all be listed, so no alert can be judged for this server${cause ? ` (${cause.message})` : ''}`,
      });
    }
  }
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
  await work.done;

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
  return {
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
  return coverageFrom(result, resourcesByType, result.documents.length, result.errors);
}

/** {@link coverageOf} for a collection into a store (read from the store's entries, no document body). */
export function coverageOfStore(scope: CollectedScope, store: EvidenceStore): Coverage {
  const resourcesByType: Record<string, number> = {};
  for (const [t, n] of store.typeCounts()) resourcesByType[t === '' ? 'unknown' : t] = (resourcesByType[t === '' ? 'unknown' : t] ?? 0) + n;
  return coverageFrom(scope, resourcesByType, store.size, store.errors);
}

function coverageFrom(scope: CollectedScope, resourcesByType: Record<string, number>, documents: number, errors: Coverage['errors']): Coverage {
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(resourcesByType).sort()) sorted[k] = resourcesByType[k]!;
  return {
    subscriptionsRequested: scope.subscriptionsRequested,
    subscriptionsScanned: scope.subscriptionsReturned,
    resourcesByType: sorted,
    documents,
    errors,
  };
}
