import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { keyvaultCryptoProbe, parseKeyvaultCryptoArgs, runKeyvaultCrypto } from '../../src/probes/keyvault-crypto.js';
import { observationToDocument, type ProbeContext } from '../../src/probes/types.js';
import { encodingsOf, fakeCredential, startKeyVaultServer, type KeyVaultTestServer } from '../support/keyvault-server.js';

const FIXED_NOW = new Date('2026-01-02T03:04:05.000Z');

function ctxFor(extra: Partial<ProbeContext> = {}): ProbeContext {
  return { timeoutMs: 10_000, credential: fakeCredential(), now: () => FIXED_NOW, env: {}, ...extra };
}

describe('keyvault-crypto probe against the loopback Key Vault server', () => {
  let kv: KeyVaultTestServer;
  const opts = () => ({ ca: kv.ca, disableChallengeResourceVerification: true });

  before(async () => {
    kv = await startKeyVaultServer();
    kv.createKey('rotated', { created: 1_700_000_000 });
    kv.rotate('rotated', 1_700_000_100);
    kv.createKey('single');
    kv.createKey('prevdisabled', { created: 1_700_000_000 });
    kv.rotate('prevdisabled', 1_700_000_100);
    kv.setEnabled('prevdisabled', kv.versions('prevdisabled')[0], false);
    kv.createKey('nowrap', { keyOps: ['sign', 'verify'] });
    kv.createKey('forbidden', { created: 1_700_000_000 });
    kv.rotate('forbidden', 1_700_000_100);
    kv.createKey('slow');
  });
  after(async () => {
    await kv.close();
  });

  it('is compliant when both the current and the previous version round-trip, after the 401 challenge', async () => {
    const cred = fakeCredential('token-for-compliant');
    const before = kv.requests.length;
    const resourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/keys/rotated';
    const obs = await runKeyvaultCrypto(kv.keyId('rotated'), { ...opts(), resourceId }, ctxFor({ credential: cred }));
    assert.equal(obs.status, 'compliant', obs.summary);
    const [v1, v2] = kv.versions('rotated');
    const cur = obs.observed.current as Record<string, unknown>;
    const prev = obs.observed.previous as Record<string, unknown>;
    assert.equal(cur.version, v2);
    assert.equal(prev.version, v1);
    assert.equal(cur.keyId, kv.keyId('rotated', v2));
    assert.equal(cur.roundTrip, true);
    assert.equal(prev.roundTrip, true);
    assert.equal(obs.observed.algorithm, 'RSA-OAEP-256');
    assert.deepEqual((obs.observed.versions as { total: number; enabled: number }).total, 2);
    assert.equal(obs.observed.reason, 'dual_key_ok');
    // The challenge flow: the client's first request came without a token and got 401, then it asked the credential
    // for a vault token for the challenge's tenant and resent with it.
    const mine = kv.requests.slice(before);
    assert.equal(mine[0].hadToken, false);
    assert.equal(mine[0].status, 401);
    assert.equal(mine[1].hadToken, true);
    assert.equal(mine[1].op, mine[0].op);
    assert.equal(mine[1].status, 200);
    assert.ok(cred.calls.length >= 1);
    assert.deepEqual(cred.calls[0].scopes, ['https://vault.azure.net/.default']);
    assert.equal(cred.calls[0].tenantId, kv.tenantId);
    assert.ok(kv.tokensSeen.includes('token-for-compliant'));
    // Both unwraps really ran in the vault with the version the probe reports.
    const unwraps = mine.filter((r) => r.op === 'unwrapKey' && r.status === 200).map((r) => r.path);
    assert.deepEqual(unwraps.sort(), [`/keys/rotated/${v1}/unwrapkey`, `/keys/rotated/${v2}/unwrapkey`].sort());
    assert.equal(obs.resourceId, resourceId);
    assert.equal(obs.startedAt, FIXED_NOW.toISOString());
    const doc = observationToDocument(obs);
    assert.equal(doc.document.type, 'engram.probe/keyvault-crypto');
    assert.equal(doc.document.id, `${resourceId}/probes/keyvault-crypto`);
  });

  it('never writes the value, the wrapped bytes or the token into the observation', async () => {
    const fixed = Buffer.from('0123456789abcdef0123456789ABCDEF');
    const start = kv.cryptoLog.length;
    const obs = await runKeyvaultCrypto(
      kv.keyId('rotated'),
      { ...opts(), algorithm: 'RSA-OAEP', randomBytes: () => fixed },
      ctxFor({ credential: fakeCredential('secret-token-value-123') }),
    );
    assert.equal(obs.status, 'compliant', obs.summary);
    const json = JSON.stringify(obs);
    const seen = kv.cryptoLog.slice(start);
    assert.ok(seen.some((c) => c.op === 'unwrapKey'), 'the vault unwrapped something');
    const secrets = [fixed, ...seen.flatMap((c) => [c.input, c.output])];
    for (const s of secrets) for (const enc of encodingsOf(s)) assert.ok(!json.includes(enc), `leaked ${enc.slice(0, 12)}...`);
    assert.ok(!json.includes('secret-token-value-123'));
    assert.ok(!json.includes(fixed.toString('utf8')));
    // Digests are recorded instead.
    assert.match(String((obs.observed.current as Record<string, unknown>).valueSha256), /^[0-9a-f]{64}$/);
  });

  it('is non-compliant when the previous version is disabled', async () => {
    const obs = await runKeyvaultCrypto(kv.keyId('prevdisabled'), opts(), ctxFor());
    assert.equal(obs.status, 'non_compliant');
    assert.equal(obs.observed.reason, 'previous_disabled');
    assert.equal((obs.observed.previous as Record<string, unknown>).enabled, false);
    assert.equal((obs.observed.current as Record<string, unknown>).roundTrip, true);
  });

  it('is non-compliant when the key has a single version (never rotated)', async () => {
    const obs = await runKeyvaultCrypto(kv.keyId('single'), opts(), ctxFor());
    assert.equal(obs.status, 'non_compliant');
    assert.equal(obs.observed.reason, 'single_version');
    assert.equal(obs.observed.previous, null);
  });

  it('is non-compliant when the key does not permit wrapKey/unwrapKey', async () => {
    const obs = await runKeyvaultCrypto(kv.keyId('nowrap'), opts(), ctxFor());
    assert.equal(obs.status, 'non_compliant');
    assert.equal(obs.observed.reason, 'key_ops_missing');
  });

  it('is an error (not a finding) when the caller lacks permission to unwrap (403)', async () => {
    kv.intercept = (c) =>
      c.op === 'unwrapKey' && c.keyName === 'forbidden'
        ? { status: 403, body: { error: { code: 'Forbidden', message: 'Caller is not authorized to perform action on resource.', innererror: { code: 'ForbiddenByRbac' } } } }
        : undefined;
    try {
      const obs = await runKeyvaultCrypto(kv.keyId('forbidden'), opts(), ctxFor());
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'http_403');
      assert.match(obs.error?.message ?? '', /unwrapkey/);
      assert.ok((obs.observed.attempted as string[]).some((s) => s.includes('/unwrapkey')));
    } finally {
      kv.intercept = undefined;
    }
  });

  it('is an error when the vault rejects the api-version the client sends', async () => {
    const old = await startKeyVaultServer({ apiVersions: ['7.4'] });
    try {
      old.createKey('k');
      const obs = await runKeyvaultCrypto(old.keyId('k'), { ca: old.ca, disableChallengeResourceVerification: true }, ctxFor());
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'http_400');
      assert.match(obs.error?.message ?? '', /not recognized/);
      const viaOld = await runKeyvaultCrypto(
        old.keyId('k'),
        { ca: old.ca, disableChallengeResourceVerification: true, serviceVersion: '7.4' },
        ctxFor(),
      );
      assert.equal(viaOld.observed.reason, 'single_version');
    } finally {
      await old.close();
    }
  });

  it('is an error when the token is refused', async () => {
    const strict = await startKeyVaultServer({ requiredToken: 'the-right-one' });
    try {
      strict.createKey('k');
      const obs = await runKeyvaultCrypto(strict.keyId('k'), { ca: strict.ca, disableChallengeResourceVerification: true }, ctxFor({ credential: fakeCredential('wrong') }));
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'http_401');
    } finally {
      await strict.close();
    }
  });

  it('is an error when the server certificate is not trusted', async () => {
    const obs = await runKeyvaultCrypto(kv.keyId('rotated'), { disableChallengeResourceVerification: true }, ctxFor());
    assert.equal(obs.status, 'error');
    assert.match(obs.error?.code ?? '', /self_signed|unable_to_verify/);
  });

  it('is an error when the vault is unreachable', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const obs = await runKeyvaultCrypto(`https://127.0.0.1:${free}/keys/k`, opts(), ctxFor());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'econnrefused');
    assert.match(obs.error?.message ?? '', /KeyClient\.getKey/);
  });

  it('ends at its timeout with an error when the vault never answers', async () => {
    kv.intercept = (c) => (c.op === 'GetKeyVersions' ? 'hang' : undefined);
    try {
      const obs = await runKeyvaultCrypto(kv.keyId('slow'), opts(), ctxFor({ timeoutMs: 400 }));
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'timeout');
      assert.match(obs.error?.message ?? '', /versions/);
    } finally {
      kv.intercept = undefined;
    }
  });

  it('is an error (aborted) when the caller cancels', async () => {
    const ac = new AbortController();
    kv.intercept = (c) => {
      if (c.op === 'GetKeyVersions') ac.abort();
      return c.op === 'GetKeyVersions' ? 'hang' : undefined;
    };
    try {
      const obs = await runKeyvaultCrypto(kv.keyId('slow'), opts(), ctxFor({ signal: ac.signal }));
      assert.equal(obs.status, 'error');
      assert.equal(obs.error?.code, 'aborted');
    } finally {
      kv.intercept = undefined;
    }
  });

  it('is an error without a credential, and for a target that is not a key URL', async () => {
    const noCred = await runKeyvaultCrypto(kv.keyId('rotated'), opts(), ctxFor({ credential: undefined }));
    assert.equal(noCred.status, 'error');
    assert.equal(noCred.error?.code, 'no_credential');
    const bad = await keyvaultCryptoProbe.run('http://example.org/keys/x', {}, ctxFor());
    assert.equal(bad.status, 'error');
    assert.equal(bad.error?.code, 'bad_target');
  });
});

describe('parseKeyvaultCryptoArgs', () => {
  it('parses the target and options', () => {
    const p = parseKeyvaultCryptoArgs([
      'https://v.vault.azure.net/keys/k', '--algorithm', 'RSA-OAEP', '--timeout-ms=5000', '--json', '--ca-file', '/tmp/ca.pem',
    ]);
    assert.deepEqual(p, { target: 'https://v.vault.azure.net/keys/k', options: { algorithm: 'RSA-OAEP', caFile: '/tmp/ca.pem' }, timeoutMs: 5000, json: true });
  });
  it('rejects bad usage with UsageError', () => {
    assert.throws(() => parseKeyvaultCryptoArgs([]), UsageError);
    assert.throws(() => parseKeyvaultCryptoArgs(['https://v.vault.azure.net/keys/k', '--algorithm', 'RSA1_5']), UsageError);
    assert.throws(() => parseKeyvaultCryptoArgs(['https://v.vault.azure.net/keys/k', '--bogus']), UsageError);
    assert.throws(() => parseKeyvaultCryptoArgs(['https://v.vault.azure.net/keys/k', '--timeout-ms', '-3']), UsageError);
    assert.throws(() => parseKeyvaultCryptoArgs(['https://v.vault.azure.net/secrets/k']), UsageError);
    assert.throws(() => parseKeyvaultCryptoArgs(['http://v.vault.azure.net/keys/k']), UsageError);
  });
});
