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

/** Where a resource's diagnostic settings send logs: Log Analytics, a storage account only, or nowhere (none). */
type Diagnostics = 'law' | 'storage' | 'none';
interface Server {
  doc: Json;
  configs: Record<string, string>;
  firewall: Array<[string, string, string]>;
  diagnostics: Diagnostics;
}
/** A container: name, publicAccess, and an optional time-based retention policy and legal hold tags. */
interface Container {
  name: string;
  access: string;
  immutability?: { days: number; state: 'Locked' | 'Unlocked' };
  legalHold?: string[];
}
interface Account {
  doc: Json;
  containers: Container[];
  /** Lifecycle rules (ManagementPolicies_Get `policy.rules`); undefined = no policy (404). */
  lifecycle?: Json[];
  /** Blob service properties merged over BlobServicesGet.json's. */
  blob: Json;
  /** Diagnostic settings of `<account>/blobServices/default`. */
  diagnostics: Diagnostics;
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
  /** Top-level `microsoft.insights/metricalerts` rules (served by Resource Graph). */
  metricAlerts: Json[];
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

  // Resilience, capacity and maintenance (AI-RES-01/02, AI-CAP-01): server properties as Servers_Get returns them.
  // prod: D4s_v3, 35-day geo-redundant backup, zone-redundant HA (ServersGetWithVnet's block), auto-grow, custom window.
  const haZoneRedundant = example('postgresql-flexible/2025-08-01/ServersGetWithVnet.json').properties.highAvailability;
  pgProd.sku = { name: 'Standard_D4s_v3', tier: 'GeneralPurpose' };
  pgProd.properties.backup = { ...pgProd.properties.backup, backupRetentionDays: 35, geoRedundantBackup: 'Enabled' };
  pgProd.properties.highAvailability = clone(haZoneRedundant);
  pgProd.properties.storage = { ...pgProd.properties.storage, autoGrow: 'Enabled' };
  pgProd.properties.maintenanceWindow = { customWindow: 'Enabled', dayOfWeek: 0, startHour: 2, startMinute: 0 };
  // dev: B1ms, 7 days, no geo backup, no HA, auto-grow off (the one capacity gap), system-managed window.
  pgDev.sku = { name: 'Standard_B1ms', tier: 'Burstable' };
  pgDev.properties.backup = { ...pgDev.properties.backup, backupRetentionDays: 7, geoRedundantBackup: 'Disabled' };
  pgDev.properties.storage = { ...pgDev.properties.storage, storageSizeGB: 32, tier: 'P4', iops: 120, autoGrow: 'Disabled' };
  // uat: D2s_v3, 14 days, HA in the same zone (healthy, but not zone-redundant), auto-grow on.
  pgUat.sku = { name: 'Standard_D2s_v3', tier: 'GeneralPurpose' };
  pgUat.properties.backup = { ...pgUat.properties.backup, backupRetentionDays: 14, geoRedundantBackup: 'Disabled' };
  pgUat.properties.highAvailability = { mode: 'SameZone', standbyAvailabilityZone: pgUat.properties.availabilityZone ?? '1', state: 'Healthy' };
  pgUat.properties.storage = { ...pgUat.properties.storage, autoGrow: 'Enabled' };

  const servers: Server[] = [
    {
      doc: pgProd,
      configs: { require_secure_transport: 'on', ssl_min_protocol_version: 'TLSv1.2', 'azure.extensions': 'VECTOR,PG_STAT_STATEMENTS', max_connections: '859' },
      firewall: [],
      diagnostics: 'law',
    },
    {
      doc: pgDev,
      configs: { require_secure_transport: 'on', ssl_min_protocol_version: 'TLSv1', 'azure.extensions': 'PG_TRGM', max_connections: '50' },
      firewall: [['AllowAll', '0.0.0.0', '255.255.255.255'], ['office', '203.0.113.0', '203.0.113.255']],
      diagnostics: 'none',
    },
    {
      doc: pgUat,
      configs: { require_secure_transport: 'ON', ssl_min_protocol_version: 'TLSv1.3', 'azure.extensions': 'vector', max_connections: '859' },
      firewall: [['office', '203.0.113.0', '203.0.113.255']],
      diagnostics: 'law',
    },
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
  // Redundancy (AI-RES-01/02): GZRS in prod is geo- and zone-redundant; the pinned prod account is LRS (neither).
  stProd.sku = { name: 'Standard_GZRS', tier: 'Standard' };
  stPinned.sku = { name: 'Standard_LRS', tier: 'Standard' };
  stHostile.sku = { name: 'Standard_ZRS', tier: 'Standard' };
  // Version-level immutability on the prod record account (StorageAccountCreateWithImmutabilityPolicy.json's block, locked).
  const versionWorm = example('storage/2025-08-01/StorageAccountCreateWithImmutabilityPolicy.json').properties.immutableStorageWithVersioning;
  stProd.properties.immutableStorageWithVersioning = { ...versionWorm, immutabilityPolicy: { ...versionWorm.immutabilityPolicy, immutabilityPeriodSinceCreationInDays: 2555, allowProtectedAppendWrites: false, state: 'Locked' } };

  // Lifecycle (AI-DATA-01): ManagementPolicies_Get's rule shape with the record-plane prefix and the strategy's days.
  const rule = (name: string, enabled: boolean, prefix: string, cool: number, archive: number, del: number): Json => {
    const r = clone(example('storage/2025-08-01/StorageAccountGetManagementPolicy.json').properties.policy.rules[0]);
    r.name = name;
    r.enabled = enabled;
    r.definition.filters.prefixMatch = [prefix];
    r.definition.actions.baseBlob.tierToCool.daysAfterModificationGreaterThan = cool;
    r.definition.actions.baseBlob.tierToArchive.daysAfterModificationGreaterThan = archive;
    r.definition.actions.baseBlob.delete.daysAfterModificationGreaterThan = del;
    r.definition.actions.snapshot.delete.daysAfterCreationGreaterThan = 90;
    return r;
  };
  const accounts: Account[] = [
    {
      doc: stProd,
      containers: [{ name: 'record-plane', access: 'None', immutability: { days: 2555, state: 'Locked' } }, { name: 'embeddings', access: 'None' }],
      lifecycle: [rule('record-plane-retention', true, 'record-plane/', 30, 90, 2555), rule('embeddings-cool', true, 'embeddings/', 60, 180, 3650)],
      blob: {
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 35 },
        containerDeleteRetentionPolicy: { enabled: true, days: 35 },
        restorePolicy: { enabled: true, days: 30, minRestoreTime: '2026-10-02T00:00:00.0000000Z' },
        changeFeed: { enabled: true, retentionInDays: 90 },
      },
      diagnostics: 'law',
    },
    {
      doc: stPinned,
      // A prod record container under an unlocked, one-year policy: not WORM, and shorter than the retention period.
      containers: [{ name: 'models', access: 'None' }, { name: 'record-plane', access: 'None', immutability: { days: 365, state: 'Unlocked' } }],
      blob: { isVersioningEnabled: false, deleteRetentionPolicy: { enabled: false }, containerDeleteRetentionPolicy: { enabled: false }, restorePolicy: { enabled: false }, changeFeed: { enabled: false } },
      diagnostics: 'storage',
    },
    {
      doc: stHostile,
      // uat: an unlocked 7-year policy plus a legal hold (locking is a prod requirement).
      containers: [{ name: 'uat-data', access: 'None' }, { name: 'record-plane', access: 'None', immutability: { days: 2555, state: 'Unlocked' }, legalHold: ['litigation-2026'] }],
      // The right days, but the rule is disabled: it does not count.
      lifecycle: [rule('record-plane-retention', false, 'record-plane/', 30, 90, 2555)],
      blob: {
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 14 },
        containerDeleteRetentionPolicy: { enabled: true, days: 14 },
        restorePolicy: { enabled: true, days: 7, minRestoreTime: '2026-10-25T00:00:00.0000000Z' },
        changeFeed: { enabled: true, retentionInDays: 14 },
      },
      diagnostics: 'law',
    },
    {
      // Four containers with page size 2: the containers list pages with a nextLink.
      doc: stLegacy,
      containers: [
        { name: 'public-assets', access: 'Container' },
        { name: 'scratch', access: 'Blob' },
        { name: 'exports', access: 'None' },
        { name: 'record-plane', access: 'None' },
      ],
      // dev: a record-plane rule with the wrong days (cool at 60, archive at 180, delete after one year).
      lifecycle: [rule('record-plane-retention', true, 'record-plane/', 60, 180, 365)],
      blob: {},
      diagnostics: 'none',
    },
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
  // Metric alerts (AI-MON-01), prod only: getMetricAlertSingleResource.json's rule scoped to the prod server, one per
  // metric at the strategy's thresholds (connections: 80 % of max_connections 859 = 687).
  const alertBase = example('monitor/2018-03-01/getMetricAlertSingleResource.json');
  const actionGroup = rid(SUB_PROD, 'rg-ai-ops', 'microsoft.insights/actionGroups', 'ag-ai-oncall');
  const alert = (server: Json, metric: string, threshold: number, severity: number): Json => {
    const a = clone(alertBase);
    const name = `${server.name}-${metric.replace(/_/g, '-')}`;
    a.id = rid(/^\/subscriptions\/([^/]+)/.exec(server.id)![1]!, /\/resourceGroups\/([^/]+)/.exec(server.id)![1]!, 'microsoft.insights/metricalerts', name);
    a.name = name;
    a.tags = {};
    a.properties.description = `${metric} above ${threshold} on ${server.name}`;
    a.properties.severity = severity;
    a.properties.scopes = [server.id];
    a.properties.windowSize = 'PT5M';
    a.properties.autoMitigate = true;
    a.properties.criteria.allOf = [
      { criterionType: 'StaticThresholdCriterion', name: `${metric}_gt_${threshold}`, metricName: metric, metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers', dimensions: [], operator: 'GreaterThan', threshold, timeAggregation: 'Average' },
    ];
    a.properties.actions = [{ actionGroupId: actionGroup, webHookProperties: {} }];
    return a;
  };
  const metricAlerts = [alert(pgProd, 'cpu_percent', 70, 2), alert(pgProd, 'memory_percent', 80, 2), alert(pgProd, 'active_connections', 687, 2), alert(pgProd, 'storage_percent', 85, 1)];
  return { servers, accounts, vaults, metricAlerts };
}

/** A diagnostic setting of `resourceId` (listDiagnosticSettings.json's item) sending `categories` to Log Analytics or a storage account. */
function diagnosticSetting(resourceId: string, to: Exclude<Diagnostics, 'none'>, categories: string[], metrics: string[]): Json {
  const ds = example('monitor/2021-05-01-preview/listDiagnosticSettings.json').value[0];
  const name = to === 'law' ? 'send-to-law' : 'archive-to-storage';
  ds.id = `${resourceId}/providers/microsoft.insights/diagnosticSettings/${name}`;
  ds.name = name;
  delete ds.properties.storageAccountId;
  delete ds.properties.eventHubAuthorizationRuleId;
  delete ds.properties.workspaceId;
  if (to === 'law') ds.properties.workspaceId = rid(SUB_PROD, 'rg-ai-ops', 'Microsoft.OperationalInsights/workspaces', 'law-ai-ops');
  else ds.properties.storageAccountId = rid(SUB_PROD, 'rg-ai-ops', 'Microsoft.Storage/storageAccounts', 'staiopslogs');
  ds.properties.logs = categories.map((category) => ({ category, enabled: true, retentionPolicy: { enabled: false, days: 0 } }));
  ds.properties.metrics = metrics.map((category) => ({ category, enabled: true, retentionPolicy: { enabled: false, days: 0 } }));
  return ds;
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

/** The descriptive fields of each server parameter served (the rest comes from ConfigurationsGet.json). */
const CONFIG_META: Record<string, Json> = {
  require_secure_transport: {
    description: 'Whether client connections to the server are required to use some form of secure transport.',
    allowedValues: 'on,off',
    dataType: 'Boolean',
    defaultValue: 'on',
    documentationLink: 'https://www.postgresql.org/docs/16/runtime-config-connection.html',
  },
  ssl_min_protocol_version: {
    description: 'Sets the minimum SSL/TLS protocol version to use.',
    allowedValues: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    dataType: 'Enumeration',
    defaultValue: 'TLSv1.2',
    documentationLink: 'https://www.postgresql.org/docs/16/runtime-config-connection.html',
  },
  'azure.extensions': {
    description: 'Specifies which extensions are allowed to be created in the server.',
    allowedValues: 'ADDRESS_STANDARDIZER,AMCHECK,AZURE_STORAGE,BLOOM,BTREE_GIN,BTREE_GIST,CITEXT,CUBE,HSTORE,PG_STAT_STATEMENTS,PG_TRGM,PGCRYPTO,POSTGIS,UUID-OSSP,VECTOR',
    dataType: 'Set',
    defaultValue: '',
    documentationLink: 'https://go.microsoft.com/fwlink/?linkid=2274269',
  },
  max_connections: {
    description: 'Sets the maximum number of concurrent connections.',
    allowedValues: '25-5000',
    dataType: 'Integer',
    defaultValue: '859',
    documentationLink: 'https://www.postgresql.org/docs/16/runtime-config-connection.html#GUC-MAX-CONNECTIONS',
    isDynamicConfig: false,
  },
};

/** BlobContainers_Get for one container: BlobContainersGet.json with this container's policy and legal hold. */
function containerGet(account: Json, c: Container): Json {
  const g = example('storage/2025-08-01/BlobContainersGet.json');
  g.id = `${account.id}/blobServices/default/containers/${c.name}`;
  g.name = c.name;
  g.properties.publicAccess = c.access;
  if (c.immutability) {
    const ip = g.properties.immutabilityPolicy;
    ip.properties = { immutabilityPeriodSinceCreationInDays: c.immutability.days, state: c.immutability.state };
    ip.updateHistory = ip.updateHistory
      .filter((h: Json) => c.immutability!.state === 'Locked' || h.update === 'put')
      .map((h: Json) => ({ ...h, immutabilityPeriodSinceCreationInDays: c.immutability!.days, objectIdentifier: '00000000-0000-0000-0000-0000000000e1', tenantId: TENANT }));
  } else {
    delete g.properties.immutabilityPolicy;
  }
  g.properties.legalHold = {
    hasLegalHold: Boolean(c.legalHold?.length),
    tags: (c.legalHold ?? []).map((tag) => ({ tag, timestamp: '2026-09-01T00:00:00.0000000Z', objectIdentifier: '00000000-0000-0000-0000-0000000000e1', tenantId: TENANT })),
  };
  g.properties.hasImmutabilityPolicy = Boolean(c.immutability);
  g.properties.hasLegalHold = Boolean(c.legalHold?.length);
  return g;
}

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
          const all = [...estate.servers.map((s) => s.doc), ...estate.accounts.map((a) => a.doc), ...estate.vaults.map((v) => v.doc), ...estate.metricAlerts];
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
          Object.assign(c.properties, CONFIG_META[name] ?? {});
          return respond(request, 200, c);
        }
        if (lower === `${base}/providers/microsoft.insights/diagnosticsettings`) {
          return respond(request, 200, { value: s.diagnostics === 'none' ? [] : [diagnosticSetting(s.doc.id, s.diagnostics, ['PostgreSQLLogs', 'PostgreSQLFlexSessions'], ['AllMetrics'])] });
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
          Object.assign(b.properties, clone(a.blob));
          b.sku = clone(a.doc.sku);
          return respond(request, 200, b);
        }
        if (lower === `${base}/blobservices/default/providers/microsoft.insights/diagnosticsettings`) {
          const id = `${a.doc.id}/blobServices/default`;
          return respond(request, 200, { value: a.diagnostics === 'none' ? [] : [diagnosticSetting(id, a.diagnostics, ['StorageRead', 'StorageWrite', 'StorageDelete'], ['Transaction'])] });
        }
        if (lower.startsWith(`${base}/blobservices/default/containers/`)) {
          const name = path.split('/').pop()!;
          const c = a.containers.find((x) => x.name.toLowerCase() === name.toLowerCase());
          return c ? respond(request, 200, containerGet(a.doc, c)) : notFound(request, 'ContainerNotFound', `The specified container does not exist.`);
        }
        if (lower === `${base}/blobservices/default/containers`) {
          const tmpl = example('storage/2025-08-01/BlobContainersList.json').value[0];
          const all = a.containers.map((c) => ({
            ...clone(tmpl),
            id: `${a.doc.id}/blobServices/default/containers/${c.name}`,
            name: c.name,
            properties: { ...clone(tmpl.properties), publicAccess: c.access, hasImmutabilityPolicy: Boolean(c.immutability), hasLegalHold: Boolean(c.legalHold?.length) },
          }));
          const second = u.searchParams.get('$skipToken');
          if (second) return respond(request, 200, { value: all.slice(GRAPH_PAGE) });
          const more = all.length > GRAPH_PAGE;
          return respond(request, 200, {
            value: all.slice(0, GRAPH_PAGE),
            ...(more ? { nextLink: `https://management.azure.com${a.doc.id}/blobServices/default/containers?api-version=2025-08-01&$maxpagesize=${GRAPH_PAGE}&$skipToken=/${a.doc.name}/${all[GRAPH_PAGE]!.name}` } : {}),
          });
        }
        if (lower === `${base}/managementpolicies/default`) {
          if (!a.lifecycle) return notFound(request, 'ManagementPolicyNotFound', `No ManagementPolicy found for account ${a.doc.name}`);
          const mp = example('storage/2025-08-01/StorageAccountGetManagementPolicy.json');
          mp.id = `${a.doc.id}/managementPolicies/default`;
          mp.properties.policy.rules = clone(a.lifecycle);
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
          return respond(request, 200, { value: [diagnosticSetting(v.doc.id, 'law', ['AuditEvent'], ['AllMetrics'])] });
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
  writeFileSync(fixture('demo', 'snapshot.json'), demoSnapshotText(replayed));
}

/**
 * The bytes of fixtures/demo/snapshot.json for a replay of the demo: its documents and the list records, so
 * `evaluate --evidence` tells "read and empty" from "never read" exactly as the scan does.
 */
export function demoSnapshotText(replayed: { documents: unknown[]; lists: unknown[] }): string {
  return canonicalJson({ documents: replayed.documents, lists: replayed.lists });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  generateDemoFixtures().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
