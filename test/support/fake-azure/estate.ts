/**
 * A synthetic estate for the fake Azure server and the benchmark: any number of subscriptions, storage accounts,
 * PostgreSQL flexible servers and key vaults with keys, built deterministically (seeded) from the
 * ../shared/azure-api-examples shapes, copied then varied: a mix of compliant and non-compliant settings and an
 * `environment` tag on every resource.
 */
import { readFileSync } from 'node:fs';
import { shared } from '../paths.js';
import type { AzureDocument, CollectionError } from '../../../src/model.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** Size and seed of a synthetic estate. */
export interface EstateOptions {
  subscriptions: number;
  storage: number;
  postgres: number;
  vaults: number;
  keysPerVault: number;
  /** PRNG seed; same options and seed give the same estate. Default 1. */
  seed?: number;
}

export interface EstateServer {
  doc: Json;
  /** `require_secure_transport` and `ssl_min_protocol_version` values. */
  configs: Record<string, string>;
  /** Firewall rules: name, start IP, end IP. */
  firewall: Array<[string, string, string]>;
}

export interface EstateAccount {
  doc: Json;
  /** Containers: name, publicAccess (`None`, `Blob`, `Container`). */
  containers: Array<[string, string]>;
  /** False: the management policy GET answers 404 ManagementPolicyNotFound. */
  managementPolicy: boolean;
}

export interface EstateVault {
  doc: Json;
  /** Keys and the ARM rotation policy each carries (none when undefined). */
  keys: Array<{ name: string; rotation?: Json }>;
  /** True: one diagnostic setting sending AuditEvent to Log Analytics; false: an empty list. */
  diagnostics: boolean;
}

/** The generated estate. */
export interface SyntheticEstate {
  options: Required<EstateOptions>;
  tenantId: string;
  /** The one management group that holds every subscription. */
  managementGroup: string;
  subscriptions: Array<{ subscriptionId: string; name: string }>;
  servers: EstateServer[];
  accounts: EstateAccount[];
  vaults: EstateVault[];
}

/** Environments the `environment` tag takes. */
export const ENVIRONMENTS = ['dev', 'test', 'uat', 'prod'] as const;

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const exampleCache = new Map<string, Json>();
/** The 2xx body of a shared example file (cached; callers get a copy). */
export function example(path: string, status = '200'): Json {
  let body = exampleCache.get(`${path}#${status}`);
  if (!body) {
    body = JSON.parse(readFileSync(shared('azure-api-examples', path), 'utf8')).responses[status].body as Json;
    exampleCache.set(`${path}#${status}`, body);
  }
  return clone(body);
}

/** mulberry32: a small deterministic PRNG, so the estate depends only on the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Subscription GUID number `i` (PostgreSQL and Monitor clients insist on GUIDs). */
export function subscriptionId(i: number): string {
  return `5ca1e000-0000-4000-8000-${(i + 1).toString(16).padStart(12, '0')}`;
}

const rid = (sub: string, rg: string, provider: string, name: string): string =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/${provider}/${name}`;

/** Builds the estate. Resource `i` of each family lives in subscription `i mod subscriptions`. */
export function generateEstate(options: EstateOptions): SyntheticEstate {
  const opts: Required<EstateOptions> = { seed: 1, ...options };
  for (const k of ['subscriptions', 'storage', 'postgres', 'vaults', 'keysPerVault'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) throw new RangeError(`${k} must be a non-negative integer, got ${opts[k]}`);
  }
  if (opts.subscriptions < 1) throw new RangeError('an estate needs at least one subscription');
  const rnd = prng(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const tenantId = '5ca1e000-0000-4000-8000-00000000000a';
  const subscriptions = Array.from({ length: opts.subscriptions }, (_, i) => ({
    subscriptionId: subscriptionId(i),
    name: `ai-estate-${String(i + 1).padStart(4, '0')}`,
  }));
  const subOf = (i: number) => subscriptions[i % subscriptions.length]!.subscriptionId;
  const tags = (env: string) => ({ environment: env, workload: 'ai-platform' });

  // PostgreSQL: server 3 of ServersListBySubscription (the CMK one) or ServersGet (SystemManaged), varied.
  const pgCmk = example('postgresql-flexible/2025-08-01/ServersListBySubscription.json').value[2];
  const pgPlain = example('postgresql-flexible/2025-08-01/ServersGet.json');
  const servers: EstateServer[] = [];
  for (let i = 0; i < opts.postgres; i++) {
    const env = pick(ENVIRONMENTS);
    const sub = subOf(i);
    const rg = `rg-ai-${env}`;
    const name = `psql-ai-${String(i).padStart(5, '0')}`;
    const cmk = chance(0.75);
    const s = clone(cmk ? pgCmk : pgPlain);
    s.id = rid(sub, rg, 'Microsoft.DBforPostgreSQL/flexibleServers', name);
    s.name = name;
    s.location = 'westeurope';
    s.tags = tags(env);
    s.properties.fullyQualifiedDomainName = `${name}.postgres.database.azure.com`;
    if (cmk) {
      const uami = rid(sub, rg, 'Microsoft.ManagedIdentity/userAssignedIdentities', 'id-ai-cmk');
      s.identity = { type: 'UserAssigned', userAssignedIdentities: { [uami]: { principalId: tenantId, clientId: tenantId } } };
      // Mostly versionless key URIs (rotation takes effect), some pinned to a version (a finding).
      const vault = `kv-ai-${String(i % Math.max(1, opts.vaults)).padStart(5, '0')}`;
      s.properties.dataEncryption = {
        type: 'AzureKeyVault',
        primaryKeyURI: `https://${vault}.vault.azure.net/keys/pg-cmk${chance(0.15) ? '/0123456789abcdef0123456789abcdef' : ''}`,
        primaryUserAssignedIdentityId: uami,
        primaryEncryptionKeyStatus: 'Valid',
      };
      if (s.properties.authConfig) s.properties.authConfig.tenantId = tenantId;
    }
    const open = chance(0.25);
    s.properties.network = { publicNetworkAccess: open ? 'Enabled' : 'Disabled' };
    const firewall: Array<[string, string, string]> = !open ? [] : chance(0.5) ? [['AllowAll', '0.0.0.0', '255.255.255.255']] : [['office', '203.0.113.0', '203.0.113.255']];
    servers.push({
      doc: s,
      configs: {
        require_secure_transport: chance(0.9) ? pick(['on', 'ON']) : 'off',
        ssl_min_protocol_version: pick(['TLSv1.2', 'TLSv1.2', 'TLSv1.3', 'TLSv1']),
      },
      firewall,
    });
  }

  // Storage: the CMK example with the TLS/public-access flags of StorageAccountCreate, varied.
  const stBase = example('storage/2025-08-01/StorageAccountGetPropertiesCMKEnabled.json');
  const accounts: EstateAccount[] = [];
  for (let i = 0; i < opts.storage; i++) {
    const env = pick(ENVIRONMENTS);
    const sub = subOf(i);
    const name = `staudit${String(i).padStart(6, '0')}`;
    const a = clone(stBase);
    a.id = rid(sub, `rg-ai-${env}`, 'Microsoft.Storage/storageAccounts', name);
    a.name = name;
    a.location = 'westeurope';
    a.tags = tags(env);
    const p = a.properties;
    p.minimumTlsVersion = pick(['TLS1_2', 'TLS1_2', 'TLS1_2', 'TLS1_3', 'TLS1_0']);
    p.allowBlobPublicAccess = chance(0.15);
    p.allowSharedKeyAccess = chance(0.3);
    p.supportsHttpsTrafficOnly = chance(0.95);
    p.publicNetworkAccess = chance(0.7) ? 'Disabled' : 'Enabled';
    p.networkAcls = { bypass: 'AzureServices', virtualNetworkRules: [], ipRules: [], defaultAction: p.publicNetworkAccess === 'Disabled' ? 'Deny' : 'Allow' };
    p.encryption.requireInfrastructureEncryption = chance(0.8);
    if (chance(0.2)) {
      // Microsoft-managed keys: no key vault properties at all.
      p.encryption.keySource = 'Microsoft.Storage';
      delete p.encryption.keyvaultproperties;
    } else {
      const kvp = p.encryption.keyvaultproperties;
      kvp.keyvaulturi = `https://kv-ai-${String(i % Math.max(1, opts.vaults)).padStart(5, '0')}.vault.azure.net`;
      kvp.keyname = 'storage-cmk';
      kvp.keyversion = chance(0.15) ? '0123456789abcdef0123456789abcdef' : '';
      kvp.currentVersionedKeyIdentifier = `${kvp.keyvaulturi}/keys/storage-cmk/0123456789abcdef0123456789abcdef`;
    }
    for (const ep of Object.keys(p.primaryEndpoints ?? {})) {
      if (typeof p.primaryEndpoints[ep] === 'string') p.primaryEndpoints[ep] = `https://${name}.${ep}.core.windows.net/`;
    }
    delete p.primaryEndpoints?.microsoftEndpoints;
    delete p.primaryEndpoints?.internetEndpoints;
    const containers: Array<[string, string]> = [['record-plane', 'None']];
    const extra = Math.floor(rnd() * 3);
    for (let c = 0; c < extra; c++) containers.push([`data-${c}`, chance(0.1) ? pick(['Blob', 'Container']) : 'None']);
    accounts.push({ doc: a, containers, managementPolicy: chance(0.6) });
  }

  // Vaults: getVault plus the VaultProperties no example carries; keys shaped like the demo estate's ARM keys.
  const vaultBase = example('keyvault-mgmt/2025-05-01/getVault.json');
  const networkAcls = example('keyvault-mgmt/2026-02-01/createVaultWithNetworkAcls.json').properties.networkAcls;
  const policy = example('keyvault-data/7.6/GetKeyRotationPolicy-example.json');
  const vaults: EstateVault[] = [];
  for (let i = 0; i < opts.vaults; i++) {
    const env = pick(ENVIRONMENTS);
    const sub = subOf(i);
    const name = `kv-ai-${String(i).padStart(5, '0')}`;
    const v = clone(vaultBase);
    v.id = rid(sub, `rg-ai-${env}`, 'Microsoft.KeyVault/vaults', name);
    v.name = name;
    v.location = 'westeurope';
    v.tags = tags(env);
    const rbac = chance(0.8);
    Object.assign(v.properties, {
      tenantId,
      vaultUri: `https://${name}.vault.azure.net/`,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enablePurgeProtection: chance(0.8),
      enableRbacAuthorization: rbac,
      publicNetworkAccess: chance(0.75) ? 'Disabled' : 'Enabled',
      networkAcls: { ...clone(networkAcls), defaultAction: chance(0.8) ? 'Deny' : 'Allow', ipRules: [], virtualNetworkRules: [] },
    });
    if (rbac) v.properties.accessPolicies = [];
    else for (const ap of v.properties.accessPolicies ?? []) ap.tenantId = tenantId;
    delete v.properties.hsmPoolResourceId;
    const keys: EstateVault['keys'] = [];
    for (let k = 0; k < opts.keysPerVault; k++) {
      const r = rnd();
      const after = r < 0.6 ? 'P90D' : r < 0.75 ? 'P30D' : r < 0.9 ? 'P1Y' : undefined;
      keys.push({
        name: `key-${String(k).padStart(3, '0')}`,
        ...(after
          ? {
              rotation: {
                attributes: { created: policy.attributes.created, updated: policy.attributes.updated, expiryTime: 'P2Y' },
                lifetimeActions: [
                  { trigger: { timeAfterCreate: after }, action: { type: 'rotate' } },
                  { trigger: { timeBeforeExpiry: policy.lifetimeActions[1].trigger.timeBeforeExpiry }, action: { type: 'notify' } },
                ],
              },
            }
          : {}),
      });
    }
    vaults.push({ doc: v, keys, diagnostics: chance(0.7) });
  }
  return { options: opts, tenantId, managementGroup: 'mg-ai-estate', subscriptions, servers, accounts, vaults };
}

/** The ARM `vaults/keys` body of a key (shape assembled as in test/support/demo-estate.ts). */
export function armKey(vault: Json, name: string, rotation: Json | undefined): Json {
  const host = new URL(vault.properties.vaultUri).host;
  return {
    id: `${vault.id}/keys/${name}`,
    name,
    type: 'Microsoft.KeyVault/vaults/keys',
    location: vault.location,
    tags: {},
    properties: {
      attributes: { enabled: true, created: 1493942451, updated: 1493942451, recoveryLevel: 'Recoverable+Purgeable', exportable: false },
      kty: 'RSA',
      keyOps: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
      keySize: 2048,
      keyUri: `https://${host}/keys/${name}`,
      keyUriWithVersion: `https://${host}/keys/${name}/78deebed173b48e48f55abf87ed4cf71`,
      ...(rotation ? { rotationPolicy: rotation } : {}),
    },
  };
}

/** Counts of the estate: main resources and every document a complete scan must produce. */
/** Server parameters the fake serves for every server beyond the estate's own (server.ts EXTRA_CONFIG_VALUES). */
export const FAKE_EXTRA_CONFIGS = ['azure.extensions', 'max_connections'] as const;

export function estateCounts(estate: SyntheticEstate): { resources: number; keys: number; expectedDocuments: number } {
  let docs = 0;
  // Each server: itself, its configurations (the estate's two TLS ones plus azure.extensions and max_connections, which
  // the fake serves for every server), its firewall rules. Diagnostic settings lists of servers and blob services are empty.
  for (const s of estate.servers) docs += 1 + new Set([...Object.keys(s.configs), ...FAKE_EXTRA_CONFIGS]).size + s.firewall.length;
  for (const a of estate.accounts) docs += 1 + 1 + a.containers.length + (a.managementPolicy ? 1 : 0);
  let keys = 0;
  for (const v of estate.vaults) {
    docs += 1 + v.keys.length + (v.diagnostics ? 1 : 0);
    keys += v.keys.length;
  }
  return { resources: estate.servers.length + estate.accounts.length + estate.vaults.length, keys, expectedDocuments: docs };
}

/** What a collection returned, as far as the loss check needs it. */
export interface CollectedEvidence {
  documents: ReadonlyArray<Pick<AzureDocument, 'id' | 'properties'>>;
  errors: readonly CollectionError[];
  lists: ReadonlyArray<{ parentId: string; resourceType: string }>;
}

/**
 * Every piece of evidence the estate should yield that came back neither as a document (or list record) nor as a
 * CollectionError naming it: main resources, the PostgreSQL configurations and firewall list, blob service, containers
 * list and management policy, each key (with its rotation policy when it has one), the keys list and the diagnostic
 * settings list. A Resource Graph error for a family accounts for that family's resources (the inventory failed
 * loudly). Returns the unaccounted items as `<id> <what>`; empty = nothing lost.
 */
export function lostEvidence(estate: SyntheticEstate, result: CollectedEvidence): string[] {
  const docs = new Map<string, Pick<AzureDocument, 'id' | 'properties'>>();
  for (const d of result.documents) docs.set(d.id.toLowerCase(), d);
  const lists = new Set(result.lists.map((l) => `${l.parentId.toLowerCase()} ${l.resourceType.toLowerCase()}`));
  const errById = new Set<string>();
  const graphFailed = new Set<string>();
  for (const e of result.errors) {
    if (e.resourceId) errById.add(`${e.resourceId.toLowerCase()} ${String(e.resourceType ?? '').toLowerCase()}`);
    if (e.resourceId) errById.add(`${e.resourceId.toLowerCase()} *`);
    if (e.collector === 'resource-graph' && e.resourceType) graphFailed.add(e.resourceType.toLowerCase());
  }
  const lost: string[] = [];
  const has = (id: string) => docs.has(id.toLowerCase());
  const err = (id: string, type: string) => errById.has(`${id.toLowerCase()} ${type}`);
  const child = (parent: string, id: string, type: string, what: string) => {
    if (!has(id) && !err(parent, type) && !err(id, type)) lost.push(`${id} ${what}`);
  };
  const list = (parent: string, type: string, what: string) => {
    if (!lists.has(`${parent.toLowerCase()} ${type}`) && !err(parent, type)) lost.push(`${parent} ${what}`);
  };
  const main = (id: string, type: string): boolean => {
    if (has(id)) return true;
    if (!graphFailed.has(type) && !errById.has(`${id.toLowerCase()} *`)) lost.push(`${id} resource`);
    return false;
  };
  for (const s of estate.servers) {
    const id = s.doc.id as string;
    if (!main(id, 'microsoft.dbforpostgresql/flexibleservers')) continue;
    for (const c of new Set([...Object.keys(s.configs), ...FAKE_EXTRA_CONFIGS])) child(id, `${id}/configurations/${c}`, 'microsoft.dbforpostgresql/flexibleservers/configurations', `configuration ${c}`);
    list(id, 'microsoft.dbforpostgresql/flexibleservers/firewallrules', 'firewall rules');
    list(id, 'microsoft.insights/diagnosticsettings', 'diagnostic settings');
  }
  for (const a of estate.accounts) {
    const id = a.doc.id as string;
    if (!main(id, 'microsoft.storage/storageaccounts')) continue;
    child(id, `${id}/blobServices/default`, 'microsoft.storage/storageaccounts/blobservices', 'blob service');
    list(id, 'microsoft.storage/storageaccounts/blobservices/containers', 'containers');
    list(id, 'microsoft.storage/storageaccounts/managementpolicies', 'management policy');
    list(`${id}/blobServices/default`, 'microsoft.insights/diagnosticsettings', 'blob service diagnostic settings');
  }
  for (const v of estate.vaults) {
    const id = v.doc.id as string;
    if (!main(id, 'microsoft.keyvault/vaults')) continue;
    const keyType = 'microsoft.keyvault/vaults/keys';
    list(id, keyType, 'keys');
    if (!err(id, keyType)) {
      for (const k of v.keys) {
        const kid = `${id}/keys/${k.name}`;
        const d = docs.get(kid.toLowerCase());
        if (!d) {
          if (!err(kid, keyType)) lost.push(`${kid} key`);
        } else if (k.rotation && !(d.properties as Json | undefined)?.rotationPolicy && !err(kid, keyType)) {
          lost.push(`${kid} rotation policy`);
        }
      }
    }
    list(id, 'microsoft.insights/diagnosticsettings', 'diagnostic settings');
  }
  return lost;
}
