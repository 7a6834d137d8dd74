import assert from 'node:assert/strict';
import { createHash, createVerify, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { fakeCredential, startKeyVaultServer, type KeyVaultTestServer } from '../support/keyvault-server.js';

// The loopback server is shared test infrastructure (signing through Key Vault, the fake Azure server): these tests pin
// the behaviour other suites rely on, through the real SDK clients.
describe('loopback Key Vault server', () => {
  let kv: KeyVaultTestServer;
  let keys: KeyClient;
  const cred = fakeCredential();
  const opts = () => ({ disableChallengeResourceVerification: true, agent: kv.agent(), retryOptions: { maxRetries: 0 } });

  before(async () => {
    kv = await startKeyVaultServer();
    keys = new KeyClient(kv.vaultUrl, cred, opts());
  });
  after(async () => {
    await kv.close();
  });

  it('creates, rotates and lists versions; old versions stay enabled', async () => {
    const created = await keys.createRsaKey('signing', { keySize: 2048, tags: { environment: 'test' } });
    assert.equal(created.keyType, 'RSA');
    const rotated = await keys.rotateKey('signing');
    assert.notEqual(rotated.properties.version, created.properties.version);
    const versions: Array<{ version?: string; enabled?: boolean }> = [];
    for await (const p of keys.listPropertiesOfKeyVersions('signing')) versions.push(p);
    assert.equal(versions.length, 2);
    assert.ok(versions.every((v) => v.enabled === true));
    assert.deepEqual(rotated.properties.tags, { environment: 'test' });
  });

  it('pages key versions with nextLink', async () => {
    kv.createKey('paged');
    for (let i = 0; i < 4; i++) kv.rotate('paged');
    const seen: string[] = [];
    for await (const page of keys.listPropertiesOfKeyVersions('paged').byPage({ maxPageSize: 2 })) {
      assert.ok(page.length <= 2);
      seen.push(...page.map((p) => p.version ?? ''));
    }
    assert.deepEqual(seen, kv.versions('paged'));
  });

  it('signs digests with RS256 so that node:crypto verifies them with the public key, and verifies remotely', async () => {
    const key = await keys.getKey('signing');
    const crypto = new CryptographyClient(key.id!, cred, opts());
    const data = randomBytes(100);
    const digest = createHash('sha256').update(data).digest();
    const sig = await crypto.sign('RS256', digest);
    const ok = createVerify('sha256').update(data).verify(kv.publicKeyPem('signing', key.properties.version), Buffer.from(sig.result));
    assert.equal(ok, true);
    assert.equal((await crypto.verify('RS256', digest, sig.result)).result, true);
    const tampered = Buffer.from(sig.result);
    tampered[0] ^= 1;
    assert.equal((await crypto.verify('RS256', digest, tampered)).result, false);
  });

  it('refuses crypto with a disabled version (403 KeyDisabled) and answers a rotation policy', async () => {
    const [v1] = kv.versions('signing');
    await keys.updateKeyProperties('signing', v1, { enabled: false });
    const crypto = new CryptographyClient(kv.keyId('signing', v1), cred, opts());
    await assert.rejects(() => crypto.unwrapKey('RSA-OAEP-256', randomBytes(256)), (e: { statusCode?: number; message: string }) => e.statusCode === 403 && /disabled/.test(e.message));
    await keys.updateKeyRotationPolicy('signing', { lifetimeActions: [{ action: 'Rotate', timeAfterCreate: 'P90D' }], expiresIn: 'P2Y' });
    const policy = await keys.getKeyRotationPolicy('signing');
    assert.equal(policy.expiresIn, 'P2Y');
    assert.deepEqual(policy.lifetimeActions?.map((a) => [a.action, a.timeAfterCreate]), [['Rotate', 'P90D']]);
  });

  it('answers 404 KeyNotFound for unknown keys', async () => {
    await assert.rejects(() => keys.getKey('nope'), (e: { statusCode?: number; code?: string }) => e.statusCode === 404 && e.code === 'KeyNotFound');
  });
});
