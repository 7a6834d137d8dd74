/**
 * A loopback fake Azure over HTTPS (127.0.0.1, a self-signed certificate made with openssl at start): Resource Graph
 * answering exactly the queries the collectors send (and 400 for any other), the ARM reads of src/collect, and a
 * minimal Key Vault data plane (GET key, with the 401 challenge), serving a {@link SyntheticEstate}. Configurable latency,
 * ARM and Resource Graph throttling modelled on Azure's limits, 429 storms with Retry-After, a share of 5xx and dropped
 * connections (socket destroyed mid-body).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildFamilyQuery,
  KQL_METRIC_ALERTS,
  KQL_SUBSCRIPTIONS,
  MAX_SUBSCRIPTIONS_PER_REQUEST,
  type ResourceFamily,
} from '../../../src/collect/resource-graph.js';
import { AZURE_LIMITS, TokenBucket, type BucketLimit } from '../../../src/collect/throttle.js';
import { armKey, example, prng, type Json, type SyntheticEstate } from './estate.js';

/** Server parameters the synthetic estate does not set per server (AI-CAP-01, AI-MON-01 read them): one value for all. */
const EXTRA_CONFIG_VALUES: Record<string, string> = { 'azure.extensions': 'VECTOR', max_connections: '859' };

/** Faults injected before normal routing. Rates are shares of all requests in [0, 1]. */
export interface FakeAzureFaults {
  /** Every `every` requests, the next `length` requests get 429 with `Retry-After` (a storm). */
  storm429?: { every: number; length: number; retryAfterMs: number };
  /** Share answered 503 ServiceUnavailable (no Retry-After). */
  rate5xx?: number;
  /** Share whose connection is destroyed after the headers and half the body. */
  rateDrop?: number;
  /** Seed of the fault dice; default 7. */
  seed?: number;
}

/** Options of {@link startFakeAzure}. */
export interface FakeAzureOptions {
  estate: SyntheticEstate;
  /** Delay before every response, in ms. Default 0. */
  latencyMs?: number;
  faults?: FakeAzureFaults;
  /** Rows per Resource Graph page when the request has no `$top` (Azure's default is 100; max 1000). */
  graphDefaultPageSize?: number;
  /** Containers per list page (a `nextLink` beyond). Default 100. */
  containerPageSize?: number;
  /** ARM reads per subscription (429 + Retry-After when empty); default AZURE_LIMITS; false = unlimited. */
  armThrottle?: BucketLimit | false;
  /** Resource Graph quota per user: `limit` queries per `windowMs`; default 15 per 5 s; false = unlimited. */
  graphQuota?: { limit: number; windowMs: number } | false;
  /**
   * Vault names whose Key Vault data plane is served, each on its own loopback port (a key identifier must be
   * `https://host/keys/<name>/<version>`, so the vault cannot live in the path). Default none.
   */
  dataPlaneVaults?: string[];
}

/** What the server saw. */
export interface FakeAzureStats {
  requests: number;
  /** Requests per route kind: graph, postgres.*, storage.*, keyvault.*, monitor.*, dataplane.*, unknown. */
  byRoute: Record<string, number>;
  /** Responses per status (drops counted under `drop`). */
  byStatus: Record<string, number>;
  /** 429s from the ARM buckets or the Resource Graph quota (not injected). */
  throttled: number;
  injected429: number;
  injected5xx: number;
  drops: number;
  /** Graph queries refused with 400 (the text, cut to 200 characters). */
  rejectedQueries: string[];
}

/** A running fake Azure. */
export interface FakeAzure {
  /** `https://127.0.0.1:<port>`: the ARM endpoint (Resource Graph included). */
  url: string;
  /** Data-plane URL per vault named in `dataPlaneVaults` (a KeyClient `vaultUrl`). */
  vaultUrls: Record<string, string>;
  /** The self-signed certificate (PEM), to trust as a CA. */
  ca: string;
  stats: FakeAzureStats;
  close(): Promise<void>;
}

const FAMILIES: readonly ResourceFamily[] = ['storage', 'postgres', 'keyvault'];

/** A self-signed P-256 certificate for 127.0.0.1, made with the openssl CLI in a temporary directory. */
export function makeLoopbackCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-azure-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Parses a family query: the family and tag filters for which `buildFamilyQuery` gives exactly `query`, or undefined
 * (so a changed query, an extra clause or different spacing is refused).
 */
export function matchFamilyQuery(query: string): { family: ResourceFamily; tags: Record<string, string> } | undefined {
  const unq = (t: string) => t.replace(/\\(u[0-9a-f]{4}|.)/g, (_m, c: string) =>
    c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c.length === 5 ? String.fromCharCode(parseInt(c.slice(1), 16)) : c);
  const tags: Record<string, string> = {};
  for (const m of query.matchAll(/ \| where tags\['((?:[^'\\]|\\.)*)'\] =~ '((?:[^'\\]|\\.)*)'/g)) tags[unq(m[1]!)] = unq(m[2]!);
  for (const family of FAMILIES) if (buildFamilyQuery(family, tags) === query) return { family, tags };
  return undefined;
}

const TYPE_OF: Record<ResourceFamily, string> = {
  storage: 'microsoft.storage/storageaccounts',
  postgres: 'microsoft.dbforpostgresql/flexibleservers',
  keyvault: 'microsoft.keyvault/vaults',
};

type Entry =
  | { kind: 'postgres'; item: SyntheticEstate['servers'][number] }
  | { kind: 'storage'; item: SyntheticEstate['accounts'][number] }
  | { kind: 'keyvault'; item: SyntheticEstate['vaults'][number] };

/** Starts the server on 127.0.0.1 (a free port). */
export async function startFakeAzure(options: FakeAzureOptions): Promise<FakeAzure> {
  const { estate } = options;
  const latency = options.latencyMs ?? 0;
  const faults = options.faults ?? {};
  const dice = prng(faults.seed ?? 7);
  const containerPage = options.containerPageSize ?? 100;
  const graphDefault = options.graphDefaultPageSize ?? 100;
  const armLimit = options.armThrottle === undefined ? AZURE_LIMITS.armReadsPerSubscription : options.armThrottle;
  const graphQuota = options.graphQuota === undefined ? { limit: 15, windowMs: 5000 } : options.graphQuota;
  const stats: FakeAzureStats = { requests: 0, byRoute: {}, byStatus: {}, throttled: 0, injected429: 0, injected5xx: 0, drops: 0, rejectedQueries: [] };

  // Graph rows per family, sorted by id, built once: the resource with ARG's lower-cased type and extra columns.
  const rows: Record<ResourceFamily, Json[]> = { storage: [], postgres: [], keyvault: [] };
  const index = new Map<string, Entry>();
  const add = (family: ResourceFamily, doc: Json, entry: Entry) => {
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(doc.id)!;
    rows[family].push({ ...doc, type: String(doc.type).toLowerCase(), subscriptionId: m[1], resourceGroup: m[2]!.toLowerCase(), tenantId: estate.tenantId });
    index.set(String(doc.id).toLowerCase(), entry);
  };
  for (const s of estate.servers) add('postgres', s.doc, { kind: 'postgres', item: s });
  for (const a of estate.accounts) add('storage', a.doc, { kind: 'storage', item: a });
  for (const v of estate.vaults) add('keyvault', v.doc, { kind: 'keyvault', item: v });
  for (const f of FAMILIES) rows[f].sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1));
  const vaultByName = new Map(estate.vaults.map((v) => [String(v.doc.name).toLowerCase(), v]));
  const knownSubs = new Set(estate.subscriptions.map((s) => s.subscriptionId));
  // Buckets exist from the start (full), like Azure's: a client pacing itself by the same limits is never throttled.
  const buckets = new Map<string, TokenBucket>();
  if (armLimit) for (const s of knownSubs) buckets.set(s, new TokenBucket(armLimit, () => performance.now()));

  // Templates read once; children are built per request from copies.
  const tpl = {
    config: example('postgresql-flexible/2025-08-01/ConfigurationsGet.json'),
    firewall: example('postgresql-flexible/2025-08-01/FirewallRulesListByServer.json').value[0],
    blobService: example('storage/2025-08-01/BlobServicesGet.json'),
    container: example('storage/2025-08-01/BlobContainersList.json').value[0],
    policy: example('storage/2025-08-01/StorageAccountGetManagementPolicy.json'),
    diag: example('monitor/2021-05-01-preview/listDiagnosticSettings.json').value[0],
    dataKey: example('keyvault-data/7.5/GetKey-example.json'),
  };

  const graphWindows = new Map<string, { start: number; count: number }>();
  let stormLeft = 0;
  let faultNo = 0;
  let requestNo = 0;

  const { key, cert } = makeLoopbackCertificate();
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  /** Data-plane listeners: port -> vault. */
  const dataPlanePorts = new Map<number, SyntheticEstate['vaults'][number]>();
  const listen = async (): Promise<number> => {
    const server: Server = createServer({ key, cert, keepAlive: true }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
          if (!res.headersSent) send(res, 500, { error: { code: 'InternalServerError', message: String(err) } });
        });
      });
    });
    server.on('secureConnection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return (server.address() as { port: number }).port;
  };
  const port = await listen();
  const origin = `https://127.0.0.1:${port}`;
  const vaultUrls: Record<string, string> = {};
  for (const name of options.dataPlaneVaults ?? []) {
    const v = vaultByName.get(name.toLowerCase());
    if (!v) throw new RangeError(`dataPlaneVaults: the estate has no vault ${name}`);
    const p = await listen();
    dataPlanePorts.set(p, v);
    vaultUrls[name] = `https://127.0.0.1:${p}`;
  }

  const count = (map: Record<string, number>, k: string) => void (map[k] = (map[k] ?? 0) + 1);

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, drop = false): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    const n = ++requestNo;
    const hex = n.toString(16).padStart(12, '0');
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      'x-ms-request-id': `fa4e0000-0000-4000-8000-${hex}`,
      ...headers,
    });
    if (drop) {
      count(stats.byStatus, 'drop');
      // Headers and half the body, then the connection dies: the client sees a truncated response.
      res.write(text.slice(0, Math.floor(text.length / 2)));
      setImmediate(() => res.socket?.destroy());
      return;
    }
    count(stats.byStatus, String(status));
    res.end(text);
  }

  const armError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { error: { code, message } }, headers);

  async function handle(req: IncomingMessage, res: ServerResponse, bodyText: string): Promise<void> {
    stats.requests++;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const u = new URL(req.url ?? '/', origin);
    const path = decodeURIComponent(u.pathname).replace(/\/+/g, '/');
    const lower = path.toLowerCase();
    const auth = req.headers.authorization;

    // Key Vault data plane (a vault's own port): /keys/<name>[/<version>], with the service's challenge flow.
    const dpVault = dataPlanePorts.get(req.socket.localPort ?? -1);
    if (dpVault) {
      const dp = /^\/keys\/([^/]+)(?:\/([^/]*))?$/i.exec(path);
      count(stats.byRoute, 'dataplane.keys');
      if (!auth) {
        return armError(res, 401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', {
          'www-authenticate': `Bearer authorization="https://login.windows.net/${estate.tenantId}", resource="https://vault.azure.net"`,
        });
      }
      if (!u.searchParams.get('api-version')) return armError(res, 400, 'BadParameter', 'The api-version parameter is missing.');
      if (await injected(res)) return;
      const k = dp ? dpVault.keys.find((x) => x.name.toLowerCase() === dp[1]!.toLowerCase()) : undefined;
      if (!dp || !k) return armError(res, 404, 'KeyNotFound', `A key with (name/id) ${dp?.[1] ?? path} was not found in this key vault.`);
      const copy = JSON.parse(JSON.stringify(tpl.dataKey)) as Json;
      copy.key.kid = `https://127.0.0.1:${req.socket.localPort}/keys/${k.name}/${dp[2] || '78deebed173b48e48f55abf87ed4cf71'}`;
      copy.tags = {};
      return send(res, 200, copy);
    }

    if (!auth?.startsWith('Bearer ')) return armError(res, 401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing.');
    const apiVersion = u.searchParams.get('api-version');
    if (!apiVersion) return armError(res, 400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");

    if (req.method === 'POST' && lower === '/providers/microsoft.resourcegraph/resources') {
      count(stats.byRoute, 'graph');
      return graph(req, res, bodyText, auth);
    }

    const sub = /^\/subscriptions\/([^/]+)/i.exec(path)?.[1]?.toLowerCase();
    if (sub && armLimit) {
      let b = buckets.get(sub);
      if (!b) buckets.set(sub, (b = new TokenBucket(armLimit, () => performance.now())));
      const left = b.available();
      if (left < 1) {
        stats.throttled++;
        const ms = Math.ceil(((1 - left) / armLimit.refillPerSecond) * 1000);
        return armError(res, 429, 'TooManyRequests', 'The request is being throttled.', {
          'retry-after': String(Math.max(1, Math.ceil(ms / 1000))),
          'x-ms-ratelimit-remaining-subscription-reads': '0',
        });
      }
      b.reserve();
      res.setHeader('x-ms-ratelimit-remaining-subscription-reads', String(Math.max(0, Math.floor(b.available()))));
    }
    if (await injected(res)) return;
    if (req.method !== 'GET') return armError(res, 405, 'MethodNotAllowed', `the fake Azure serves reads only, not ${req.method}`);

    const m = /^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+)(\/.*)?$/.exec(lower);
    const entry = m ? index.get(m[1]!) : undefined;
    if (!m || !entry || !sub || !knownSubs.has(sub)) {
      count(stats.byRoute, 'unknown');
      return armError(res, 404, 'ResourceNotFound', `The Resource '${path}' was not found.`);
    }
    const rest = m[2] ?? '';
    const segs = path.split('/').filter(Boolean);
    const last = segs[segs.length - 1]!;
    if (entry.kind === 'postgres') {
      const s = entry.item;
      if (rest === '') return route(res, 'postgres.server', s.doc);
      if (rest.startsWith('/configurations/') && segs.length === 10) {
        count(stats.byRoute, 'postgres.configurations');
        const value = s.configs[last] ?? EXTRA_CONFIG_VALUES[last];
        if (value === undefined) return armError(res, 404, 'ConfigurationNotFound', `configuration ${last} not found`);
        const c = JSON.parse(JSON.stringify(tpl.config)) as Json;
        Object.assign(c, { id: `${s.doc.id}/configurations/${last}`, name: last });
        Object.assign(c.properties, {
          value,
          source: 'user-override',
          allowedValues: last === 'require_secure_transport' ? 'on,off' : 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
          dataType: last === 'require_secure_transport' ? 'Boolean' : 'Enumeration',
          defaultValue: last === 'require_secure_transport' ? 'on' : 'TLSv1.2',
        });
        return send(res, 200, c);
      }
      if (rest === '/providers/microsoft.insights/diagnosticsettings') {
        count(stats.byRoute, 'monitor.diagnosticSettings');
        return send(res, 200, { value: [] });
      }
      if (rest === '/firewallrules') {
        count(stats.byRoute, 'postgres.firewallRules');
        return send(res, 200, {
          value: s.firewall.map(([name, start, end]) => ({ ...tpl.firewall, id: `${s.doc.id}/firewallRules/${name}`, name, properties: { startIpAddress: start, endIpAddress: end } })),
        });
      }
    } else if (entry.kind === 'storage') {
      const a = entry.item;
      if (rest === '') return route(res, 'storage.account', a.doc);
      if (rest === '/blobservices/default') {
        count(stats.byRoute, 'storage.blobServices');
        return send(res, 200, { ...tpl.blobService, id: `${a.doc.id}/blobServices/default`, properties: { ...tpl.blobService.properties, cors: { corsRules: [] } } });
      }
      if (rest === '/blobservices/default/providers/microsoft.insights/diagnosticsettings') {
        count(stats.byRoute, 'monitor.diagnosticSettings');
        return send(res, 200, { value: [] });
      }
      if (rest === '/blobservices/default/containers') {
        count(stats.byRoute, 'storage.containers');
        const start = Number(u.searchParams.get('$skipToken') ?? '0') || 0;
        const page = a.containers.slice(start, start + containerPage).map(([name, access]) => ({
          ...tpl.container,
          id: `${a.doc.id}/blobServices/default/containers/${name}`,
          name,
          properties: { ...tpl.container.properties, publicAccess: access },
        }));
        const next = start + containerPage < a.containers.length;
        return send(res, 200, {
          value: page,
          ...(next ? { nextLink: `${origin}${a.doc.id}/blobServices/default/containers?api-version=${apiVersion}&$skipToken=${start + containerPage}` } : {}),
        });
      }
      if (rest === '/managementpolicies/default') {
        count(stats.byRoute, 'storage.managementPolicies');
        if (!a.managementPolicy) return armError(res, 404, 'ManagementPolicyNotFound', `No ManagementPolicy found for account ${a.doc.name}`);
        return send(res, 200, { ...tpl.policy, id: `${a.doc.id}/managementPolicies/default` });
      }
    } else {
      const v = entry.item;
      if (rest === '') return route(res, 'keyvault.vault', v.doc);
      if (rest === '/keys') {
        count(stats.byRoute, 'keyvault.keys.list');
        // The list carries no rotation policy; the per-key GET does.
        return send(res, 200, { value: v.keys.map((k) => armKey(v.doc, k.name, undefined)) });
      }
      if (rest.startsWith('/keys/') && segs.length === 10) {
        count(stats.byRoute, 'keyvault.keys.get');
        const k = v.keys.find((x) => x.name.toLowerCase() === last.toLowerCase());
        return k ? send(res, 200, armKey(v.doc, k.name, k.rotation)) : armError(res, 404, 'KeyNotFound', `key ${last} not found`);
      }
      if (rest === '/providers/microsoft.insights/diagnosticsettings') {
        count(stats.byRoute, 'monitor.diagnosticSettings');
        if (!v.diagnostics) return send(res, 200, { value: [] });
        const ds = JSON.parse(JSON.stringify(tpl.diag)) as Json;
        ds.id = `${v.doc.id}/providers/microsoft.insights/diagnosticSettings/send-to-law`;
        ds.name = 'send-to-law';
        delete ds.properties.storageAccountId;
        delete ds.properties.eventHubAuthorizationRuleId;
        ds.properties.workspaceId = `/subscriptions/${estate.subscriptions[0]!.subscriptionId}/resourceGroups/rg-ai-ops/providers/Microsoft.OperationalInsights/workspaces/law-ai-ops`;
        ds.properties.logs = [{ category: 'AuditEvent', enabled: true, retentionPolicy: { enabled: false, days: 0 } }];
        ds.properties.metrics = [{ category: 'AllMetrics', enabled: true, retentionPolicy: { enabled: false, days: 0 } }];
        return send(res, 200, { value: [ds] });
      }
    }
    count(stats.byRoute, 'unknown');
    return armError(res, 404, 'ResourceNotFound', `The Resource '${path}' was not found.`);
  }

  function route(res: ServerResponse, kind: string, doc: Json): void {
    count(stats.byRoute, kind);
    send(res, 200, doc);
  }

  /** Applies the injected faults; true when the request was answered by one. */
  async function injected(res: ServerResponse): Promise<boolean> {
    const st = faults.storm429;
    if (st) {
      faultNo++;
      if (stormLeft === 0 && faultNo % st.every === 0) stormLeft = st.length;
      if (stormLeft > 0) {
        stormLeft--;
        stats.injected429++;
        armError(res, 429, 'TooManyRequests', 'The request is being throttled (injected storm).', {
          'retry-after': String(Math.max(0, Math.ceil(st.retryAfterMs / 1000))),
          'x-ms-retry-after-ms': String(st.retryAfterMs),
        });
        return true;
      }
    }
    const r = dice();
    if (faults.rate5xx && r < faults.rate5xx) {
      stats.injected5xx++;
      armError(res, 503, 'ServiceUnavailable', 'The service is temporarily unavailable (injected).');
      return true;
    }
    if (faults.rateDrop && r >= (faults.rate5xx ?? 0) && r < (faults.rate5xx ?? 0) + faults.rateDrop) {
      stats.drops++;
      send(res, 200, { value: [], note: 'this body is cut in half and the connection destroyed' }, {}, true);
      return true;
    }
    return false;
  }

  async function graph(req: IncomingMessage, res: ServerResponse, bodyText: string, auth: string): Promise<void> {
    if (graphQuota) {
      const now = performance.now();
      let w = graphWindows.get(auth);
      if (!w || now - w.start >= graphQuota.windowMs) graphWindows.set(auth, (w = { start: now, count: 0 }));
      const resetMs = Math.max(0, w.start + graphQuota.windowMs - now);
      const resets = new Date(Math.ceil(resetMs / 1000) * 1000).toISOString().slice(11, 19);
      if (w.count >= graphQuota.limit) {
        stats.throttled++;
        return armError(res, 429, 'RateLimiting', 'Please provide below info when asking for support: quota exceeded.', {
          'retry-after': String(Math.max(1, Math.ceil(resetMs / 1000))),
          'x-ms-user-quota-remaining': '0',
          'x-ms-user-quota-resets-after': resets,
        });
      }
      w.count++;
      res.setHeader('x-ms-user-quota-remaining', String(graphQuota.limit - w.count));
      res.setHeader('x-ms-user-quota-resets-after', resets);
    }
    if (await injected(res)) return;
    let body: { query?: unknown; subscriptions?: unknown; managementGroups?: unknown; options?: Json };
    try {
      body = JSON.parse(bodyText) as typeof body;
    } catch {
      return armError(res, 400, 'BadRequest', 'The request body is not valid JSON.');
    }
    const query = typeof body.query === 'string' ? body.query : '';
    const reject = (why: string) => {
      stats.rejectedQueries.push(query.slice(0, 200));
      return send(res, 400, { error: { code: 'BadRequest', message: why, details: [{ code: 'InvalidQuery', message: why }] } });
    };
    const opts = body.options ?? {};
    if (opts.resultFormat !== 'objectArray') return reject('the fake Azure answers resultFormat objectArray only');
    const subs = Array.isArray(body.subscriptions) ? (body.subscriptions as string[]).map((s) => s.toLowerCase()) : undefined;
    const mgs = Array.isArray(body.managementGroups) ? (body.managementGroups as string[]) : undefined;
    if (subs && subs.length > MAX_SUBSCRIPTIONS_PER_REQUEST) return reject(`at most ${MAX_SUBSCRIPTIONS_PER_REQUEST} subscriptions per request`);
    const visible = (s: string) =>
      (subs ? subs.includes(s) : true) && (mgs ? mgs.some((g) => g.toLowerCase() === estate.managementGroup.toLowerCase()) : true);
    let all: Json[];
    if (query === KQL_SUBSCRIPTIONS) {
      all = estate.subscriptions.filter((s) => visible(s.subscriptionId)).map((s) => ({ subscriptionId: s.subscriptionId, name: s.name }));
    } else if (query === KQL_METRIC_ALERTS) {
      all = []; // the synthetic estate has no alert rules: read, and none
    } else {
      const fam = matchFamilyQuery(query);
      if (!fam) return reject(`the fake Azure does not answer this query: ${query.slice(0, 200)}`);
      const tagged = Object.entries(fam.tags);
      all = rows[fam.family].filter(
        (r) =>
          r.type === TYPE_OF[fam.family] &&
          visible(String(r.subscriptionId)) &&
          tagged.every(([k, v]) => String((r.tags as Json | undefined)?.[k] ?? '').toLowerCase() === v.toLowerCase()),
      );
    }
    const top = opts.$top === undefined ? graphDefault : Number(opts.$top);
    if (!Number.isInteger(top) || top < 1 || top > 1000) return reject('$top must be an integer from 1 to 1000');
    // The skip token binds to the query and scope, so a token from another query is refused.
    const bind = JSON.stringify([query, subs ?? null, mgs ?? null]);
    let start = 0;
    if (opts.$skipToken !== undefined) {
      try {
        const t = JSON.parse(Buffer.from(String(opts.$skipToken), 'base64').toString('utf8')) as { o: number; b: string };
        if (t.b !== bind || !Number.isInteger(t.o)) throw new Error('foreign token');
        start = t.o;
      } catch {
        return reject('the $skipToken is not valid for this query');
      }
    }
    const page = all.slice(start, start + top);
    const more = start + top < all.length;
    send(res, 200, {
      totalRecords: all.length,
      count: page.length,
      resultTruncated: 'false',
      facets: [],
      ...(more ? { $skipToken: Buffer.from(JSON.stringify({ o: start + top, b: bind })).toString('base64') } : {}),
      data: page,
    });
    void req;
  }

  return {
    url: origin,
    vaultUrls,
    ca: cert,
    stats,
    async close() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              // Keep-alive sockets would hold close() open: end them now.
              server.closeAllConnections();
              for (const s of sockets) s.destroy();
            }),
        ),
      );
    },
  };
}
