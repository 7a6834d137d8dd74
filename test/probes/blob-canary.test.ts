import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { UsageError } from '../../src/errors.js';
import {
  blobCanaryProbe,
  canaryBlobName,
  isImmutabilityRefusal,
  parseBlobCanaryArgs,
  parseContainerTarget,
  runBlobCanary,
} from '../../src/probes/blob-canary.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { freePort, startAzurite, type AzuriteInstance } from '../support/azurite.js';
import { makeTestCert, type TestCert } from '../support/https-cert.js';
import { encodingsOf } from '../support/keyvault-server.js';

const FIXED_NOW = new Date('2026-03-04T05:06:07.000Z');
const ctxFor = (env: NodeJS.ProcessEnv, extra: Partial<ProbeContext> = {}): ProbeContext => ({
  timeoutMs: 15_000,
  now: () => FIXED_NOW,
  env,
  ...extra,
});

/** An unsigned JWT shaped like an Entra storage token; Azurite's `--oauth basic` checks claims, not signatures. */
function entraLikeCredential(): TokenCredential {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const t = Math.floor(Date.now() / 1000);
  const jwt = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
    aud: 'https://storage.azure.com',
    iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/',
    iat: t - 60,
    nbf: t - 60,
    exp: t + 3600,
    oid: '00000000-0000-0000-0000-000000000001',
  })}.c2ln`;
  return { getToken: async (): Promise<AccessToken> => ({ token: jwt, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

async function listNames(c: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const b of c.listBlobsFlat()) names.push(b.name);
  return names;
}

describe('blob-canary probe against Azurite over HTTPS', () => {
  let az: AzuriteInstance;
  let svc: BlobServiceClient;
  const env = (): NodeJS.ProcessEnv => ({ AZ_STORAGE: az.connectionString });

  before(async () => {
    az = await startAzurite({ oauth: true });
    svc = BlobServiceClient.fromConnectionString(az.connectionString, { agent: az.agent() } as StoragePipelineOptions);
    await svc.getContainerClient('private').create();
    await svc.getContainerClient('public-blob').create({ access: 'blob' });
    await svc.getContainerClient('public-container').create({ access: 'container' });
    await svc.getContainerClient('entra').create();
  });
  after(async () => {
    await az.stop();
  });

  it('is compliant for a private container: encrypted, read back intact, anonymous read refused, canary deleted', async () => {
    const obs = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'AZ_STORAGE', ca: az.ca, randomSuffix: () => 'c0ffee01' }, ctxFor(env()));
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.equal(obs.observed.canaryBlob, 'engram-audit-canary-20260304T050607Z-c0ffee01');
    assert.equal(obs.observed.authMode, 'shared-key');
    const upload = obs.observed.upload as { headers: Record<string, string | null> };
    assert.equal(upload.headers['x-ms-request-server-encrypted'], 'true');
    assert.equal(upload.headers['x-ms-encryption-key-sha256'], null);
    assert.equal((obs.observed.readBack as { matches: boolean }).matches, true);
    const anon = obs.observed.anonymousRead as Record<string, { status: number; result: string }>;
    assert.equal(anon.blob.result, 'refused');
    assert.ok([401, 403, 404].includes(anon.blob.status));
    assert.equal(anon.list.result, 'refused');
    assert.equal((obs.observed.container as { publicAccess: string }).publicAccess, 'none');
    assert.deepEqual(obs.observed.cleanup, { deleted: true, reason: null });
    assert.deepEqual(await listNames(svc.getContainerClient('private')), [], 'the canary is gone');
  });

  it('never writes the account key or the connection string into the observation', async () => {
    const obs = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'AZ_STORAGE', ca: az.ca }, ctxFor(env()));
    const json = JSON.stringify(obs);
    for (const enc of [az.accountKey, az.accountKey.replace(/=+$/, ''), ...encodingsOf(Buffer.from(az.accountKey, 'base64'))]) {
      assert.ok(!json.includes(enc), 'account key leaked');
    }
    assert.ok(!json.includes('AccountKey'));
    assert.ok(!json.includes(az.connectionString));
  });

  it('flags a container with public access "blob" as non-compliant (anonymous read answers 200)', async () => {
    const obs = await blobCanaryProbe.run(az.containerUrl('public-blob'), { connectionStringEnv: 'AZ_STORAGE', ca: az.ca }, ctxFor(env()));
    assert.equal(obs.status, 'non_compliant');
    const anon = obs.observed.anonymousRead as Record<string, { status: number; result: string }>;
    assert.equal(anon.blob.status, 200);
    assert.equal(anon.blob.result, 'allowed');
    assert.equal((obs.observed.container as { publicAccess: string }).publicAccess, 'blob');
    assert.match(obs.summary, /anonymous read of the canary succeeded/);
    assert.deepEqual(obs.observed.cleanup, { deleted: true, reason: null });
    assert.deepEqual(await listNames(svc.getContainerClient('public-blob')), []);
  });

  it('flags public access "container" (anonymous listing allowed)', async () => {
    const obs = await runBlobCanary(az.containerUrl('public-container'), { connectionStringEnv: 'AZ_STORAGE', ca: az.ca }, ctxFor(env()));
    assert.equal(obs.status, 'non_compliant');
    const anon = obs.observed.anonymousRead as Record<string, { status: number; result: string }>;
    assert.equal(anon.list.result, 'allowed');
  });

  it('works with a SAS connection string and keeps the signature out of the output', async () => {
    const sas = generateBlobSASQueryParameters(
      { containerName: 'private', permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3_600_000), version: '2021-12-02' },
      new StorageSharedKeyCredential(az.accountName, az.accountKey),
    );
    const sig = sas.signature;
    const obs = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'SAS_CS', ca: az.ca }, ctxFor({ SAS_CS: `BlobEndpoint=${az.blobEndpoint};SharedAccessSignature=${sas.toString()}` }));
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.equal(obs.observed.authMode, 'sas');
    assert.equal((obs.observed.container as { publicAccess: unknown }).publicAccess, null, 'a service SAS cannot read container properties');
    const json = JSON.stringify(obs);
    assert.ok(!json.includes(sig) && !json.includes(encodeURIComponent(sig)));
  });

  it('works with a Microsoft Entra (bearer) credential', async () => {
    const obs = await runBlobCanary(az.containerUrl('entra'), { ca: az.ca }, ctxFor({}, { credential: entraLikeCredential() }));
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.equal(obs.observed.authMode, 'entra');
  });

  it('is an error when the container does not exist (nothing written)', async () => {
    const obs = await runBlobCanary(az.containerUrl('missing'), { connectionStringEnv: 'AZ_STORAGE', ca: az.ca }, ctxFor(env()));
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'http_404');
    assert.equal(obs.observed.upload, undefined);
  });

  it('is an error when the key is wrong, not a finding', async () => {
    const wrong = az.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 7).toString('base64')}`);
    const obs = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'BAD', ca: az.ca }, ctxFor({ BAD: wrong }));
    assert.equal(obs.status, 'error');
    // Azure answers 403 AuthenticationFailed; Azurite 3.35 answers 400 InvalidAuthenticationInfo. Either is "could not observe".
    assert.match(obs.error?.code ?? '', /^http_40[03]$/);
    assert.equal(obs.observed.upload, undefined);
  });

  it('is an error when the server certificate is not trusted', async () => {
    const obs = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'AZ_STORAGE' }, ctxFor(env()));
    assert.equal(obs.status, 'error');
    assert.match(obs.error?.code ?? '', /self_signed|unable_to_verify/);
  });

  it('is an error when Azurite is unreachable', async () => {
    const port = await freePort();
    const obs = await runBlobCanary(`https://127.0.0.1:${port}/devstoreaccount1/private`, { connectionStringEnv: 'AZ_STORAGE', ca: az.ca }, ctxFor(env()));
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'econnrefused');
    assert.match(obs.error?.message ?? '', /container properties/);
  });

  it('is an error without any credential, or with an unset connection-string variable', async () => {
    const none = await runBlobCanary(az.containerUrl('private'), { ca: az.ca }, ctxFor({}));
    assert.equal(none.status, 'error');
    assert.equal(none.error?.code, 'bad_input');
    const unset = await runBlobCanary(az.containerUrl('private'), { connectionStringEnv: 'NOPE', ca: az.ca }, ctxFor({}));
    assert.equal(unset.status, 'error');
    assert.match(unset.error?.message ?? '', /NOPE is not set/);
  });
});

describe('blob-canary timeout', () => {
  let cert: TestCert;
  let hang: Server;
  before(async () => {
    cert = makeTestCert();
    hang = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, () => {
      /* never answers */
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    hang.closeAllConnections();
    await new Promise<void>((r) => hang.close(() => r()));
    cert.cleanup();
  });

  it('ends at its timeout with an error when the endpoint accepts but never answers', async () => {
    const port = (hang.address() as AddressInfo).port;
    const cs = 'AccountName=devstoreaccount1;AccountKey=' + Buffer.alloc(64, 1).toString('base64');
    const obs = await runBlobCanary(`https://127.0.0.1:${port}/devstoreaccount1/c`, { connectionStringEnv: 'CS', ca: cert.certPem }, ctxFor({ CS: cs }, { timeoutMs: 300 }));
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'timeout');
  });
});

describe('blob-canary helpers', () => {
  it('treats an immutability refusal of the delete as an observation', () => {
    assert.deepEqual(isImmutabilityRefusal({ statusCode: 409, details: { errorCode: 'BlobImmutableDueToPolicy' } }), { immutable: true, code: 'BlobImmutableDueToPolicy' });
    assert.deepEqual(isImmutabilityRefusal({ statusCode: 409, code: 'BlobImmutableDueToLegalHold' }), { immutable: true, code: 'BlobImmutableDueToLegalHold' });
    assert.equal(isImmutabilityRefusal({ statusCode: 403, code: 'AuthorizationPermissionMismatch' }).immutable, false);
  });

  it('names canaries sortably', () => {
    assert.equal(canaryBlobName(new Date('2026-12-31T23:59:58.123Z'), 'ab12cd34'), 'engram-audit-canary-20261231T235958Z-ab12cd34');
  });

  it('parses container URLs in Azure and path style', () => {
    assert.deepEqual(parseContainerTarget('https://acct.blob.core.windows.net/data'), { containerUrl: 'https://acct.blob.core.windows.net/data', containerName: 'data' });
    assert.deepEqual(parseContainerTarget('https://127.0.0.1:10000/devstoreaccount1/data'), { containerUrl: 'https://127.0.0.1:10000/devstoreaccount1/data', containerName: 'data' });
    assert.throws(() => parseContainerTarget('http://acct.blob.core.windows.net/data'), UsageError);
    assert.throws(() => parseContainerTarget('https://acct.blob.core.windows.net/data?sv=x&sig=y'), UsageError);
    assert.throws(() => parseContainerTarget('https://acct.blob.core.windows.net/data/blob'), UsageError);
  });

  it('parses argv', () => {
    assert.deepEqual(parseBlobCanaryArgs(['https://a.blob.core.windows.net/c', '--connection-string-env', 'AZ_CS', '--json']), {
      target: 'https://a.blob.core.windows.net/c',
      options: { connectionStringEnv: 'AZ_CS' },
      timeoutMs: undefined,
      json: true,
    });
    assert.throws(() => parseBlobCanaryArgs(['https://a.blob.core.windows.net/c', '--connection-string-env', 'DefaultEndpointsProtocol=https;AccountKey=x']), UsageError);
    assert.throws(() => parseBlobCanaryArgs([]), UsageError);
  });
});
