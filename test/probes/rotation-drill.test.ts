import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { UsageError } from '../../src/errors.js';
import { parsePostgresTarget, parseRotationDrillArgs, rotationDrillProbe, runRotationDrill, type DrillStep } from '../../src/probes/rotation-drill.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { freePort, startAzurite, type AzuriteInstance } from '../support/azurite.js';
import { makeTestCert, type TestCert } from '../support/https-cert.js';
import { fakeCredential, startKeyVaultServer, type KeyVaultTestServer } from '../support/keyvault-server.js';

let clock = Date.parse('2026-05-06T07:00:00.000Z');
/** A clock that advances one second per reading, so the timeline's order is visible in its timestamps. */
const ticking = (): Date => new Date((clock += 1000));

async function listNames(c: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const b of c.listBlobsFlat()) names.push(b.name);
  return names;
}

describe('rotation-drill against the loopback Key Vault, Azurite and PGlite', () => {
  let cert: TestCert;
  let kv: KeyVaultTestServer;
  let az: AzuriteInstance;
  let svc: BlobServiceClient;
  let db: PGlite;
  let pgServer: PGLiteSocketServer;
  let pgPort: number;
  const env = (): NodeJS.ProcessEnv => ({ AZ_STORAGE: az.connectionString, PGPASS: 'unused-by-pglite' });
  const ctx = (extra: Partial<ProbeContext> = {}): ProbeContext => ({ timeoutMs: 20_000, credential: fakeCredential(), now: ticking, env: env(), ...extra });
  const base = () => ({ container: az.containerUrl('drill'), connectionStringEnv: 'AZ_STORAGE', ca: cert.certPem, disableChallengeResourceVerification: true });

  before(async () => {
    // One certificate for both HTTPS servers, so one `ca` serves the whole drill (as one private CA would).
    cert = makeTestCert();
    kv = await startKeyVaultServer({ cert });
    az = await startAzurite({ cert });
    svc = BlobServiceClient.fromConnectionString(az.connectionString, { agent: az.agent() } as StoragePipelineOptions);
    await svc.getContainerClient('drill').create();
    await svc.getContainerClient('prodmeta').create({ metadata: { environment: 'Production' } });
    kv.createKey('cmk', { tags: { environment: 'dev' } });
    kv.createKey('prodkey', { tags: { Environment: 'prod' } });
    kv.createKey('revoked');
    db = new PGlite();
    pgPort = await freePort();
    pgServer = new PGLiteSocketServer({ db, port: pgPort, host: '127.0.0.1' });
    await pgServer.start();
  });
  after(async () => {
    await pgServer?.stop();
    await db?.close();
    await az?.stop();
    await kv?.close();
    cert?.cleanup();
  });

  it('rotates, then shows the blob and the PostgreSQL row written before are still readable (compliant)', async () => {
    const versionsBefore = kv.versions('cmk');
    const obs = await runRotationDrill(
      kv.keyId('cmk'),
      {
        ...base(),
        postgres: [{ host: '127.0.0.1', port: pgPort }],
        postgresUser: 'postgres',
        postgresPasswordEnv: 'PGPASS',
        postgresSslMode: 'disable',
        randomSuffix: () => 'd1d1d1d1',
      },
      ctx(),
    );
    assert.equal(obs.status, 'compliant', `${obs.summary} ${JSON.stringify(obs.error)}`);
    const versionsAfter = kv.versions('cmk');
    assert.equal(versionsAfter.length, versionsBefore.length + 1, 'the vault holds one more version');
    const timeline = obs.observed.timeline as DrillStep[];
    const steps = timeline.map((s) => s.step);
    assert.deepEqual(steps, [
      'key read',
      'canary blob written',
      'canary row written',
      'key rotated',
      'canary blob read after rotation',
      'canary row read after rotation',
      'key versions after rotation',
      'canary blob deleted',
      'canary row deleted',
    ]);
    assert.ok(timeline.every((s) => s.ok));
    const times = timeline.map((s) => Date.parse(s.at));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'timeline is in order');
    const rotated = timeline.find((s) => s.step === 'key rotated')!.detail!;
    assert.equal(rotated.versionBefore, versionsBefore[0]);
    assert.equal(rotated.versionAfter, versionsAfter[1]);
    const kvReport = (obs.observed.keyVersions as { keyVault: Record<string, unknown> }).keyVault;
    assert.deepEqual(kvReport, { before: versionsBefore[0], after: versionsAfter[1], previousEnabled: true });
    assert.deepEqual(obs.observed.leftovers, []);
    assert.deepEqual(await listNames(svc.getContainerClient('drill')), [], 'canary blob removed');
    const rows = await db.query('SELECT count(*)::int AS n FROM engram_audit_canary');
    assert.equal((rows.rows[0] as { n: number }).n, 0, 'canary row removed');
    const json = JSON.stringify(obs);
    assert.ok(!json.includes(az.accountKey) && !json.includes('AccountKey'));
  });

  it('reads, after the rotation, which key version each service reports through ARM (storage and PostgreSQL)', async () => {
    // A loopback ARM answering GET storage account / GET flexible server in the shapes of the shared examples
    // (StorageAccountGetPropertiesCMKEnabled.json; ServersListBySubscription.json server 3), with the vault's new version.
    const sub = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-drill/providers';
    const storageId = `${sub}/Microsoft.Storage/storageAccounts/stdrill`;
    const pgId = `${sub}/Microsoft.DBforPostgreSQL/flexibleServers/psql-drill`;
    const seen: string[] = [];
    const arm = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ? 'with token' : 'no token'}`);
      const [path] = (req.url ?? '').split('?');
      const latest = kv.versions('cmk').at(-1);
      if (path === storageId) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          id: storageId, name: 'stdrill', type: 'Microsoft.Storage/storageAccounts',
          properties: { encryption: { keySource: 'Microsoft.Keyvault', keyvaultproperties: { keyvaulturi: kv.vaultUrl, keyname: 'cmk', keyversion: '', currentVersionedKeyIdentifier: kv.keyId('cmk', latest), lastKeyRotationTimestamp: '2026-05-06T07:00:30.0000000Z' } } },
        }));
      } else if (path === pgId) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          id: pgId, name: 'psql-drill', type: 'Microsoft.DBforPostgreSQL/flexibleServers',
          properties: { dataEncryption: { type: 'AzureKeyVault', primaryKeyURI: `${kv.vaultUrl}/keys/cmk`, primaryEncryptionKeyStatus: 'Valid' } },
        }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => arm.listen(0, '127.0.0.1', r));
    try {
      const armEndpoint = `https://127.0.0.1:${(arm.address() as AddressInfo).port}`;
      const obs = await runRotationDrill(kv.keyId('cmk'), { ...base(), armResources: [storageId, pgId], armEndpoint, randomSuffix: () => 'a1a1a1a1' }, ctx());
      assert.equal(obs.status, 'compliant', `${obs.summary} ${JSON.stringify(obs.error)}`);
      const services = (obs.observed.keyVersions as { services: Array<Record<string, unknown>> }).services;
      const rotatedTo = (obs.observed.keyVersions as { keyVault: { after: string } }).keyVault.after;
      assert.equal(services[0].reportedKeyVersion, rotatedTo, 'storage reports the rotated version');
      assert.equal(services[1].followsLatestVersion, true, 'PostgreSQL uses a versionless key URI');
      assert.equal(services[1].primaryEncryptionKeyStatus, 'Valid');
      assert.ok(seen.every((l) => l.endsWith('with token')), 'ARM reads carry a token');
      const steps = (obs.observed.timeline as DrillStep[]).map((x) => x.step);
      assert.ok(steps.indexOf('service key version (ARM)') > steps.indexOf('key rotated'), 'read after the rotation');
      assert.ok(!JSON.stringify(obs).includes('fake-kv-token'), 'no token in the observation');
    } finally {
      arm.close();
    }
  });

  it('is non-compliant when rotation leaves the pre-rotation version disabled', async () => {
    // A misbehaving rotation (e.g. an automation that disables old versions): the old version is turned off on rotate.
    const [oldVersion] = kv.versions('revoked');
    kv.intercept = (c) => {
      if (c.op === 'RotateKey' && c.keyName === 'revoked') kv.setEnabled('revoked', oldVersion, false);
      return undefined;
    };
    try {
      const obs = await runRotationDrill(kv.keyId('revoked'), base(), ctx());
      assert.equal(obs.status, 'non_compliant');
      assert.match(obs.summary, /no longer enabled/);
      assert.equal((obs.observed.keyVersions as { keyVault: { previousEnabled: boolean } }).keyVault.previousEnabled, false);
    } finally {
      kv.intercept = undefined;
    }
  });

  it('refuses a key tagged environment=prod without writing or rotating', async () => {
    const before = kv.versions('prodkey');
    const seen = kv.requests.length;
    const obs = await rotationDrillProbe.run(kv.keyId('prodkey'), base(), ctx());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'refused_production');
    assert.match(obs.summary, /Environment=prod/);
    assert.deepEqual(kv.versions('prodkey'), before);
    assert.ok(kv.requests.slice(seen).every((r) => r.method === 'GET'), 'only reads reached the vault');
    assert.deepEqual(await listNames(svc.getContainerClient('drill')), []);
  });

  it('refuses a container whose metadata says production', async () => {
    const before = kv.versions('cmk');
    const obs = await runRotationDrill(kv.keyId('cmk'), { ...base(), container: az.containerUrl('prodmeta') }, ctx());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'refused_production');
    assert.deepEqual(kv.versions('cmk'), before);
    assert.deepEqual(await listNames(svc.getContainerClient('prodmeta')), []);
  });

  it('refuses an explicit --environment prod (or prod tags from the inventory) before any network call', async () => {
    const seen = kv.requests.length;
    const a = await runRotationDrill(kv.keyId('cmk'), { ...base(), environment: 'prod' }, ctx());
    const b = await runRotationDrill(kv.keyId('cmk'), { ...base(), tags: { env: 'PRODUCTION' } }, ctx());
    for (const obs of [a, b]) {
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'refused_production');
    }
    assert.equal(kv.requests.length, seen, 'the vault was not called');
  });

  it('is an error, and cleans up the canary, when the caller may not rotate (403)', async () => {
    kv.intercept = (c) =>
      c.op === 'RotateKey' ? { status: 403, body: { error: { code: 'Forbidden', message: 'Caller is not authorized to perform action on resource.', innererror: { code: 'ForbiddenByRbac' } } } } : undefined;
    try {
      const obs = await runRotationDrill(kv.keyId('cmk'), base(), ctx());
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'http_403');
      assert.match(obs.error?.message ?? '', /rotateKey/);
      const steps = (obs.observed.timeline as DrillStep[]).map((s) => s.step);
      assert.ok(steps.includes('canary blob deleted'));
      assert.deepEqual(obs.observed.leftovers, []);
      assert.deepEqual(await listNames(svc.getContainerClient('drill')), []);
    } finally {
      kv.intercept = undefined;
    }
  });

  it('ends at its timeout with an error when the vault hangs on rotate', async () => {
    kv.intercept = (c) => (c.op === 'RotateKey' ? 'hang' : undefined);
    try {
      const obs = await runRotationDrill(kv.keyId('cmk'), base(), ctx({ timeoutMs: 1500 }));
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'timeout');
      assert.match(obs.error?.message ?? '', /rotate/);
      // The probe stops at its deadline rather than cleaning up past it, and says what it left behind.
      assert.equal((obs.observed.leftovers as string[]).length, 1);
      assert.match((obs.observed.leftovers as string[])[0], /^blob .*\/drill\/engram-audit-canary-/);
    } finally {
      kv.intercept = undefined;
    }
  });

  it('is an error when the PostgreSQL server is unreachable', async () => {
    const port = await freePort();
    const obs = await runRotationDrill(
      kv.keyId('cmk'),
      { ...base(), postgres: [{ host: '127.0.0.1', port }], postgresUser: 'postgres', postgresPasswordEnv: 'PGPASS', postgresSslMode: 'disable' },
      ctx(),
    );
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'econnrefused');
    assert.deepEqual(obs.observed.leftovers, [], 'the canary blob written first was removed');
  });
});

describe('parseRotationDrillArgs', () => {
  it('parses the options', () => {
    const p = parseRotationDrillArgs([
      '--key', 'https://v.vault.azure.net/keys/cmk',
      '--container', 'https://a.blob.core.windows.net/c',
      '--postgres', 'db1.postgres.database.azure.com:5432',
      '--postgres', '[::1]:6432',
      '--postgres-user', 'drill',
      '--postgres-password-env', 'PGPASSWORD',
      '--environment', 'staging',
      '--arm-resource', '/subscriptions/0/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st1',
      '--json',
    ]);
    assert.equal(p.target, 'https://v.vault.azure.net/keys/cmk');
    assert.deepEqual(p.options, {
      container: 'https://a.blob.core.windows.net/c',
      postgres: [{ host: 'db1.postgres.database.azure.com', port: 5432 }, { host: '::1', port: 6432 }],
      postgresUser: 'drill',
      postgresPasswordEnv: 'PGPASSWORD',
      environment: 'staging',
      armResources: ['/subscriptions/0/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st1'],
    });
    assert.equal(p.json, true);
  });
  it('rejects bad usage', () => {
    assert.throws(() => parseRotationDrillArgs(['--container', 'https://a.blob.core.windows.net/c']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k', '--container', 'https://a.blob.core.windows.net/c', '--postgres', 'db:5432']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k', '--container', 'https://a.blob.core.windows.net/c', '--arm-resource', '/subscriptions/0/resourceGroups/g/providers/Microsoft.Web/sites/x']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k', '--container', 'https://a.blob.core.windows.net/c', '--arm-endpoint', 'http://127.0.0.1:1']), UsageError);
    assert.throws(() => parsePostgresTarget('db'), UsageError);
    assert.throws(() => parsePostgresTarget('db:99999'), UsageError);
  });
});
