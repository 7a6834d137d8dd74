import assert from 'node:assert/strict';
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
      '--json',
    ]);
    assert.equal(p.target, 'https://v.vault.azure.net/keys/cmk');
    assert.deepEqual(p.options, {
      container: 'https://a.blob.core.windows.net/c',
      postgres: [{ host: 'db1.postgres.database.azure.com', port: 5432 }, { host: '::1', port: 6432 }],
      postgresUser: 'drill',
      postgresPasswordEnv: 'PGPASSWORD',
      environment: 'staging',
    });
    assert.equal(p.json, true);
  });
  it('rejects bad usage', () => {
    assert.throws(() => parseRotationDrillArgs(['--container', 'https://a.blob.core.windows.net/c']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k']), UsageError);
    assert.throws(() => parseRotationDrillArgs(['--key', 'https://v.vault.azure.net/keys/k', '--container', 'https://a.blob.core.windows.net/c', '--postgres', 'db:5432']), UsageError);
    assert.throws(() => parsePostgresTarget('db'), UsageError);
    assert.throws(() => parsePostgresTarget('db:99999'), UsageError);
  });
});
