/**
 * The bundled demo estate: a fake Azure (an in-process HttpClient) built from ../shared/azure-api-examples shapes,
 * copied then varied, plus the generator that records it through the real SDK clients into fixtures/demo/replay and
 * writes fixtures/demo/snapshot.json from the collector's replay output.
 *
 * Regenerate: `npx tsc -p tsconfig.json && node dist/test/support/demo-estate.js`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { shared, fixture } from './paths.js';
import { sha256Hex } from '../../src/util/hash.js';
import { canonicalJson } from '../../src/util/canonical-json.js';

/** Subscription GUIDs of the estate (PostgreSQL/Monitor clients demand GUIDs). */
export const SUB_PROD = '00000000-0000-0000-0000-000000000001';
export const SUB_NONPROD = '00000000-0000-0000-0000-000000000002';
export const TENANT = '00000000-0000-0000-0000-00000000000a';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
function example(path: string, status = '200'): Json {
  return clone(JSON.parse(readFileSync(shared('azure-api-examples', path), 'utf8')).responses[status].body);
}
function recording(path: string): Json {
  const rec = JSON.parse(readFileSync(shared('azure-api-examples', path), 'utf8'));
  const body = rec.Entries[rec.Entries.length - 1].ResponseBody;
  return clone(typeof body === 'string' ? JSON.parse(body) : body);
}

const rid = (sub: string, rg: string, provider: string, name: string): string =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/${provider}/${name}`;

/** A storage account key that must never survive redaction (88 base64 chars ending in ==; not a real key). */
export const PLANTED_ACCOUNT_KEY = `${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3OD'.padEnd(86, 'A')}==`;
export const PLANTED_CONNECTION_STRING = `DefaultEndpointsProtocol=https;AccountName=staiuathostile;AccountKey=${PLANTED_ACCOUNT_KEY};EndpointSuffix=core.windows.net`;
export const HOSTILE_TAG = `<script>alert('x')</script>`;

interface Server {
  doc: Json;
  configs: Record<string, string>;
  firewall: Array<[string, string, string]>;
}
interface Account {
  doc: Json;
  containers: Array<[string, string]>;
  managementPolicy: boolean;
}
interface Vault {
  doc: Json;
  keys: Array<{ name: string; rotation?: Json }>;
  auditDiagnostics: boolean;
}

/** The estate as data: resources plus their children. */
export interface DemoEstate {
  servers: Server[];
  accounts: Account[];
  vaults: Vault[];
}

function pgServer(base: Json, sub: string, rg: string, name: string, env: string): Json {
  const s = clone(base);
  s.id = rid(sub, rg, 'Microsoft.DBforPostgreSQL/flexibleServers', name);
  s.name = name;
  s.tags = { environment: env, workload: 'ai-platform' };
  s.location = 'westeurope';
  s.properties.fullyQualifiedDomainName = `${name}.postgres.database.azure.com`;
  return s;
}

/** Builds the demo estate from the example shapes. */
export function buildDemoEstate(): DemoEstate {
  const list = example('postgresql-flexible/2025-08-01/ServersListBySubscription.json');
  const cmkBase = list.value[2]; // the CMK server of the example list
  const uami = (sub: string, rg: string) => rid(sub, rg, 'Microsoft.ManagedIdentity/userAssignedIdentities', 'id-ai-cmk');

  // prod: CMK with a versionless key URI, private (public access disabled), TLS 1.2+.
  const pgProd = pgServer(cmkBase, SUB_PROD, 'rg-ai-prod', 'psql-ai-prod', 'prod');
  pgProd.identity = { type: 'UserAssigned', userAssignedIdentities: { [uami(SUB_PROD, 'rg-ai-prod')]: { principalId: '00000000-0000-0000-0000-0000000000b1', clientId: '00000000-0000-0000-0000-0000000000c1' } } };
  pgProd.properties.dataEncryption = {
    type: 'AzureKeyVault',
    primaryKeyURI: 'https://kv-ai-prod.vault.azure.net/keys/pg-cmk',
    primaryUserAssignedIdentityId: uami(SUB_PROD, 'rg-ai-prod'),
    primaryEncryptionKeyStatus: 'Valid',
  };
  pgProd.properties.network = { publicNetworkAccess: 'Disabled' };
  pgProd.properties.authConfig.tenantId = TENANT;

  // dev: the plain Servers_Get example: SystemManaged keys, public network access, an allow-all firewall rule.
  const pgDev = pgServer(example('postgresql-flexible/2025-08-01/ServersGet.json'), SUB_NONPROD, 'rg-ai-dev', 'psql-ai-dev', 'dev');

  // uat: CMK, private endpoint approved, TLS 1.3 floor; the gap: public network access still enabled with an office rule.
  const pgUat = pgServer(example('postgresql-flexible/2025-08-01/ServersGetWithPrivateEndpoints.json'), SUB_NONPROD, 'rg-ai-uat', 'psql-ai-uat', 'uat');
  pgUat.identity = { type: 'UserAssigned', userAssignedIdentities: { [uami(SUB_NONPROD, 'rg-ai-uat')]: { principalId: '00000000-0000-0000-0000-0000000000b2', clientId: '00000000-0000-0000-0000-0000000000c2' } } };
  pgUat.properties.dataEncryption = {
    type: 'AzureKeyVault',
    primaryKeyURI: 'https://kv-ai-prod.vault.azure.net/keys/pg-cmk',
    primaryUserAssignedIdentityId: uami(SUB_NONPROD, 'rg-ai-uat'),
    primaryEncryptionKeyStatus: 'Valid',
  };
  pgUat.properties.network = { ...(pgUat.properties.network ?? {}), publicNetworkAccess: 'Enabled' };
  for (const pec of pgUat.properties.privateEndpointConnections ?? []) {
    pec.id = `${pgUat.id}/privateEndpointConnections/${pec.name}`;
    if (pec.properties?.privateEndpoint) pec.properties.privateEndpoint.id = rid(SUB_NONPROD, 'rg-ai-uat', 'Microsoft.Network/privateEndpoints', 'pe-psql-ai-uat');
  }

  const servers: Server[] = [
    { doc: pgProd, configs: { require_secure_transport: 'on', ssl_min_protocol_version: 'TLSv1.2' }, firewall: [] },
    {
      doc: pgDev,
      configs: { require_secure_transport: 'on', ssl_min_protocol_version: 'TLSv1' },
      firewall: [['AllowAll', '0.0.0.0', '255.255.255.255'], ['office', '203.0.113.0', '203.0.113.255']],
    },
    { doc: pgUat, configs: { require_secure_transport: 'ON', ssl_min_protocol_version: 'TLSv1.3' }, firewall: [['office', '203.0.113.0', '203.0.113.255']] },
  ];

  // Storage: CMK example varied with the TLS/public-access flags of StorageAccountCreate.json.
  const cmk = example('storage/2025-08-01/StorageAccountGetPropertiesCMKEnabled.json');
  const flags = example('storage/2025-08-01/StorageAccountCreate.json').properties;
  const account = (sub: string, rg: string, name: string, env: string, keyversion: string, tls: string): Json => {
    const a = clone(cmk);
    a.id = rid(sub, rg, 'Microsoft.Storage/storageAccounts', name);
    a.name = name;
    a.location = 'westeurope';
    a.tags = { environment: env, workload: 'ai-platform' };
    a.properties.minimumTlsVersion = tls;
    a.properties.allowBlobPublicAccess = flags.allowBlobPublicAccess;
    a.properties.allowSharedKeyAccess = false;
    a.properties.supportsHttpsTrafficOnly = true;
    a.properties.publicNetworkAccess = 'Disabled';
    a.properties.networkAcls = { bypass: 'AzureServices', virtualNetworkRules: [], ipRules: [], defaultAction: 'Deny' };
    a.properties.encryption.requireInfrastructureEncryption = true;
    const kvp = a.properties.encryption.keyvaultproperties;
    kvp.keyvaulturi = 'https://kv-ai-prod.vault.azure.net';
    kvp.keyname = 'storage-cmk';
    kvp.keyversion = keyversion;
    kvp.currentVersionedKeyIdentifier = 'https://kv-ai-prod.vault.azure.net/keys/storage-cmk/0123456789abcdef0123456789abcdef';
    for (const ep of Object.keys(a.properties.primaryEndpoints ?? {})) {
      a.properties.primaryEndpoints[ep] = `https://${name}.${ep}.core.windows.net/`;
    }
    return a;
  };
  const stProd = account(SUB_PROD, 'rg-ai-prod', 'staiprod01', 'prod', '', 'TLS1_2');
  const stPinned = account(SUB_PROD, 'rg-ai-prod', 'staiprodpinned', 'prod', '0123456789abcdef0123456789abcdef', 'TLS1_2');
  const stHostile = account(SUB_NONPROD, 'rg-ai-uat', 'staiuathostile', 'uat', '', 'TLS1_3');
  stHostile.tags = { environment: 'uat', owner: HOSTILE_TAG, 'note"><img src=x>': PLANTED_CONNECTION_STRING };
  // The real non-compliant recording: TLS1_0, public blob access, Microsoft-managed keys, network default Allow.
  const stLegacy = recording('sdk-recordings/arm-storage/recording_storageaccounts_get_test.json');
  stLegacy.id = rid(SUB_NONPROD, 'rg-ai-dev', 'Microsoft.Storage/storageAccounts', 'staidevlegacy');
  stLegacy.name = 'staidevlegacy';
  stLegacy.tags = { environment: 'dev', workload: 'ai-platform' };
  for (const ep of Object.keys(stLegacy.properties.primaryEndpoints ?? {})) {
    stLegacy.properties.primaryEndpoints[ep] = `https://staidevlegacy.${ep}.core.windows.net/`;
  }
  const accounts: Account[] = [
    { doc: stProd, containers: [['record-plane', 'None'], ['embeddings', 'None']], managementPolicy: true },
    { doc: stPinned, containers: [['models', 'None']], managementPolicy: false },
    { doc: stHostile, containers: [['uat-data', 'None']], managementPolicy: false },
    // Three containers with page size 2: the containers list pages with a nextLink.
    { doc: stLegacy, containers: [['public-assets', 'Container'], ['scratch', 'Blob'], ['exports', 'None']], managementPolicy: false },
  ];

  // Vaults: getVault.json plus the properties no example carries (names from @azure/arm-keyvault 5 VaultProperties).
  const vaultBase = example('keyvault-mgmt/2025-05-01/getVault.json');
  const networkAcls = example('keyvault-mgmt/2026-02-01/createVaultWithNetworkAcls.json').properties.networkAcls;
  const kvProd = clone(vaultBase);
  kvProd.id = rid(SUB_PROD, 'rg-ai-prod', 'Microsoft.KeyVault/vaults', 'kv-ai-prod');
  kvProd.name = 'kv-ai-prod';
  kvProd.location = 'westeurope';
  kvProd.tags = { environment: 'prod', workload: 'ai-platform' };
  Object.assign(kvProd.properties, {
    tenantId: TENANT,
    accessPolicies: [],
    enableRbacAuthorization: true,
    enableSoftDelete: true,
    softDeleteRetentionInDays: 90,
    enablePurgeProtection: true,
    publicNetworkAccess: 'Disabled',
    networkAcls: { ...networkAcls, defaultAction: 'Deny', ipRules: [], virtualNetworkRules: [] },
    vaultUri: 'https://kv-ai-prod.vault.azure.net/',
    enabledForDeployment: false,
    enabledForTemplateDeployment: false,
  });
  delete kvProd.properties.hsmPoolResourceId;
  const kvDev = clone(vaultBase);
  kvDev.id = rid(SUB_NONPROD, 'rg-ai-dev', 'Microsoft.KeyVault/vaults', 'kv-ai-dev');
  kvDev.name = 'kv-ai-dev';
  kvDev.location = 'westeurope';
  kvDev.tags = { environment: 'dev', workload: 'ai-platform' };
  kvDev.properties.tenantId = TENANT;
  kvDev.properties.vaultUri = 'https://kv-ai-dev.vault.azure.net/';
  kvDev.properties.enableSoftDelete = true;
  for (const p of kvDev.properties.accessPolicies) {
    p.tenantId = TENANT;
    p.objectId = '00000000-0000-0000-0000-0000000000d1';
  }
  delete kvDev.properties.hsmPoolResourceId;

  const policy = example('keyvault-data/7.6/GetKeyRotationPolicy-example.json');
  // ARM's vaults/keys rotation policy: same trigger/action structure as the data plane, action types lower-case.
  const rotation = (timeAfterCreate: string | undefined, expiry: string, timeBeforeExpiry?: string): Json => ({
    attributes: { created: policy.attributes.created, updated: policy.attributes.updated, expiryTime: expiry },
    lifetimeActions: [
      { trigger: timeAfterCreate ? { timeAfterCreate } : { timeBeforeExpiry }, action: { type: 'rotate' } },
      { trigger: { timeBeforeExpiry: policy.lifetimeActions[1].trigger.timeBeforeExpiry }, action: { type: 'notify' } },
    ],
  });
  const vaults: Vault[] = [
    {
      doc: kvProd,
      keys: [
        { name: 'pg-cmk', rotation: rotation(policy.lifetimeActions[0].trigger.timeAfterCreate, 'P2Y') },
        { name: 'storage-cmk', rotation: rotation(undefined, 'P120D', 'P60D') },
        { name: 'archive-cmk', rotation: rotation('P1Y', 'P2Y') },
      ],
      auditDiagnostics: true,
    },
    { doc: kvDev, keys: [{ name: 'dev-key' }], auditDiagnostics: false },
  ];
  return { servers, accounts, vaults };
}

function armKey(vault: Json, name: string, rotation: Json | undefined): Json {
  const dataKey = example('keyvault-data/7.5/GetKey-example.json');
  const host = new URL(vault.properties.vaultUri).host;
  return {
    id: `${vault.id}/keys/${name}`,
    name,
    type: 'Microsoft.KeyVault/vaults/keys',
    location: vault.location,
    tags: {},
    properties: {
      attributes: {
        enabled: dataKey.attributes.enabled,
        created: dataKey.attributes.created,
        updated: dataKey.attributes.updated,
        recoveryLevel: 'Recoverable+Purgeable',
        exportable: false,
      },
      kty: dataKey.key.kty,
      keyOps: dataKey.key.key_ops,
      keySize: 2048,
      keyUri: `https://${host}/keys/${name}`,
      keyUriWithVersion: `https://${host}/keys/${name}/${sha256Hex(name).slice(0, 32)}`,
      ...(rotation ? { rotationPolicy: rotation } : {}),
    },
  };
}

const GRAPH_PAGE = 2;

/** A Resource Graph row: the resource with ARG's lower-cased type and its extra columns. */
function graphRow(doc: Json): Json {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(doc.id)!;
  return { ...clone(doc), type: String(doc.type).toLowerCase(), subscriptionId: m[1], resourceGroup: m[2].toLowerCase(), tenantId: TENANT };
}

function respond(request: PipelineRequest, status: number, body: unknown): PipelineResponse {
  const key = `${request.method} ${request.url} ${typeof request.body === 'string' ? request.body : ''}`;
  const h = sha256Hex(key);
  const requestId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return {
    request,
    status,
    headers: createHttpHeaders({ 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': requestId }),
    bodyAsText: body === undefined ? '' : JSON.stringify(body),
  };
}

/**
 * An in-process fake Azure answering the exact requests the SDK clients send for `estate`. Unknown requests get a
 * 404 ARM error. `override` lets tests inject faults (e.g. 403 for one child) before normal routing.
 */
export function demoEstateClient(
  estate: DemoEstate = buildDemoEstate(),
  override?: (request: PipelineRequest) => PipelineResponse | undefined,
): HttpClient {
  const notFound = (request: PipelineRequest, code: string, message: string) => respond(request, 404, { error: { code, message } });
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const o = override?.(request);
      if (o) return o;
      const u = new URL(request.url);
      const path = decodeURIComponent(u.pathname).replace(/\/+/g, '/');
      const lower = path.toLowerCase();
      if (request.method === 'POST' && lower === '/providers/microsoft.resourcegraph/resources') {
        const body = JSON.parse(String(request.body)) as { query: string; subscriptions?: string[]; options?: { $skipToken?: string } };
        const subs = body.subscriptions?.map((s) => s.toLowerCase());
        const inScope = (d: Json) => !subs || subs.includes(String(/^\/subscriptions\/([^/]+)/.exec(d.id)![1]).toLowerCase());
        let rows: Json[];
        if (body.query.startsWith('ResourceContainers')) {
          rows = [SUB_PROD, SUB_NONPROD]
            .filter((s) => !subs || subs.includes(s))
            .map((s, i) => ({ subscriptionId: s, name: i === 0 ? 'ai-prod' : 'ai-nonprod' }));
        } else {
          const type = /type =~ '([^']+)'/.exec(body.query)![1];
          const all = [...estate.servers.map((s) => s.doc), ...estate.accounts.map((a) => a.doc), ...estate.vaults.map((v) => v.doc)];
          // Tag clauses exactly as buildFamilyQuery writes them: | where tags['k'] =~ 'v' (values compare case-insensitively).
          const unq = (t: string) => t.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c));
          const tagClauses = [...body.query.matchAll(/where tags\['((?:[^'\\]|\\.)*)'\] =~ '((?:[^'\\]|\\.)*)'/g)].map((m) => [unq(m[1]!), unq(m[2]!)] as const);
          const tagged = (d: Json) => tagClauses.every(([k, v]) => String(d.tags?.[k] ?? '').toLowerCase() === v.toLowerCase());
          rows = all.filter((d) => String(d.type).toLowerCase() === type && inScope(d) && tagged(d)).map(graphRow);
          rows.sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1));
        }
        const start = body.options?.$skipToken ? Number(Buffer.from(body.options.$skipToken, 'base64').toString('utf8').split(':')[1]) : 0;
        const page = rows.slice(start, start + GRAPH_PAGE);
        const more = start + GRAPH_PAGE < rows.length;
        return respond(request, 200, {
          totalRecords: rows.length,
          count: page.length,
          resultTruncated: 'false',
          facets: [],
          ...(more ? { $skipToken: Buffer.from(`offset:${start + GRAPH_PAGE}`).toString('base64') } : {}),
          data: page,
        });
      }
      for (const s of estate.servers) {
        const base = s.doc.id.toLowerCase();
        if (lower.startsWith(`${base}/configurations/`)) {
          const name = path.split('/').pop()!;
          const value = s.configs[name];
          if (value === undefined) return notFound(request, 'ConfigurationNotFound', `configuration ${name} not found`);
          const c = example('postgresql-flexible/2025-08-01/ConfigurationsGet.json');
          c.id = `${s.doc.id}/configurations/${name}`;
          c.name = name;
          c.properties.value = value;
          c.properties.source = 'user-override';
          c.properties.description = name === 'require_secure_transport' ? 'Whether client connections to the server are required to use some form of secure transport.' : 'Sets the minimum SSL/TLS protocol version to use.';
          c.properties.allowedValues = name === 'require_secure_transport' ? 'on,off' : 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3';
          c.properties.dataType = name === 'require_secure_transport' ? 'Boolean' : 'Enumeration';
          c.properties.defaultValue = name === 'require_secure_transport' ? 'on' : 'TLSv1.2';
          c.properties.documentationLink = 'https://www.postgresql.org/docs/16/runtime-config-connection.html';
          return respond(request, 200, c);
        }
        if (lower === `${base}/firewallrules`) {
          const fw = example('postgresql-flexible/2025-08-01/FirewallRulesListByServer.json');
          const tmpl = fw.value[0];
          return respond(request, 200, {
            value: s.firewall.map(([name, start, end]) => ({ ...clone(tmpl), id: `${s.doc.id}/firewallRules/${name}`, name, properties: { startIpAddress: start, endIpAddress: end } })),
          });
        }
      }
      for (const a of estate.accounts) {
        const base = a.doc.id.toLowerCase();
        if (lower === `${base}/blobservices/default`) {
          const b = example('storage/2025-08-01/BlobServicesGet.json');
          b.id = `${a.doc.id}/blobServices/default`;
          b.properties.cors = { corsRules: [] };
          return respond(request, 200, b);
        }
        if (lower === `${base}/blobservices/default/containers`) {
          const tmpl = example('storage/2025-08-01/BlobContainersList.json').value[0];
          const all = a.containers.map(([name, access]) => ({ ...clone(tmpl), id: `${a.doc.id}/blobServices/default/containers/${name}`, name, properties: { ...clone(tmpl.properties), publicAccess: access } }));
          const second = u.searchParams.get('$skipToken');
          if (second) return respond(request, 200, { value: all.slice(GRAPH_PAGE) });
          const more = all.length > GRAPH_PAGE;
          return respond(request, 200, {
            value: all.slice(0, GRAPH_PAGE),
            ...(more ? { nextLink: `https://management.azure.com${a.doc.id}/blobServices/default/containers?api-version=2025-08-01&$maxpagesize=${GRAPH_PAGE}&$skipToken=/${a.doc.name}/${all[GRAPH_PAGE]!.name}` } : {}),
          });
        }
        if (lower === `${base}/managementpolicies/default`) {
          if (!a.managementPolicy) return notFound(request, 'ManagementPolicyNotFound', `No ManagementPolicy found for account ${a.doc.name}`);
          const mp = example('storage/2025-08-01/StorageAccountGetManagementPolicy.json');
          mp.id = `${a.doc.id}/managementPolicies/default`;
          return respond(request, 200, mp);
        }
      }
      for (const v of estate.vaults) {
        const base = v.doc.id.toLowerCase();
        if (lower === `${base}/keys`) {
          // The list carries no rotation policy; the per-key GET does.
          return respond(request, 200, { value: v.keys.map((k) => armKey(v.doc, k.name, undefined)) });
        }
        if (lower.startsWith(`${base}/keys/`)) {
          const name = path.split('/').pop()!;
          const k = v.keys.find((x) => x.name.toLowerCase() === name.toLowerCase());
          return k ? respond(request, 200, armKey(v.doc, k.name, k.rotation)) : notFound(request, 'KeyNotFound', `key ${name} not found`);
        }
        if (lower === `${base}/providers/microsoft.insights/diagnosticsettings`) {
          if (!v.auditDiagnostics) return respond(request, 200, { value: [] });
          const ds = example('monitor/2021-05-01-preview/listDiagnosticSettings.json').value[0];
          ds.id = `${v.doc.id}/providers/microsoft.insights/diagnosticSettings/send-to-law`;
          ds.name = 'send-to-law';
          delete ds.properties.storageAccountId;
          delete ds.properties.eventHubAuthorizationRuleId;
          ds.properties.workspaceId = rid(SUB_PROD, 'rg-ai-ops', 'Microsoft.OperationalInsights/workspaces', 'law-ai-ops');
          ds.properties.logs = [{ category: 'AuditEvent', enabled: true, retentionPolicy: { enabled: false, days: 0 } }];
          ds.properties.metrics = [{ category: 'AllMetrics', enabled: true, retentionPolicy: { enabled: false, days: 0 } }];
          return respond(request, 200, { value: [ds] });
        }
      }
      return notFound(request, 'ResourceNotFound', `the demo estate has no ${request.method} ${path}`);
    },
  };
}

/**
 * The scopes recorded into the demo cassettes, so `--replay fixtures/demo/replay` also answers `--subscription` with
 * either or both demo subscriptions and `--tag environment=dev|uat|prod`. Any other scope is a replay miss (an error).
 */
export const DEMO_SCOPES: ReadonlyArray<{ subscriptions: string[]; tags: Record<string, string> }> = [
  { subscriptions: [], tags: {} },
  { subscriptions: [SUB_PROD], tags: {} },
  { subscriptions: [SUB_NONPROD], tags: {} },
  { subscriptions: [SUB_PROD, SUB_NONPROD], tags: {} },
  { subscriptions: [], tags: { environment: 'dev' } },
  { subscriptions: [], tags: { environment: 'uat' } },
  { subscriptions: [], tags: { environment: 'prod' } },
];

/** Records the demo estate into fixtures/demo/replay and writes fixtures/demo/snapshot.json from a replay run. */
export async function generateDemoFixtures(): Promise<void> {
  const { collect, createRecordingClient, createReplayClient, createReplayCredential } = await import('../../src/collect/index.js');
  const dir = fixture('demo', 'replay');
  rmSync(dir, { recursive: true, force: true });
  const scope = { subscriptions: [], managementGroups: [], tags: {}, source: 'replay' as const, demo: true };
  const fixed = () => new Date('2026-11-01T00:00:00.000Z');
  for (const variant of DEMO_SCOPES) {
    const recorded = await collect({
      scope: { ...scope, ...variant, source: 'azure' },
      credential: createReplayCredential(),
      httpClient: createRecordingClient(demoEstateClient(), dir),
      now: fixed,
    });
    if (recorded.errors.length) throw new Error(`recording the demo estate failed: ${JSON.stringify(recorded.errors)}`);
  }
  const replayed = await collect({ scope, credential: createReplayCredential(), httpClient: createReplayClient(dir), now: fixed });
  if (replayed.errors.length) throw new Error(`replaying the demo estate failed: ${JSON.stringify(replayed.errors)}`);
  writeFileSync(fixture('demo', 'snapshot.json'), canonicalJson({ documents: replayed.documents }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  generateDemoFixtures().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
