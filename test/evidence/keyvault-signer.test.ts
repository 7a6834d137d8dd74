/**
 * The Key Vault signer against the loopback Key Vault server (real KeyClient/CryptographyClient, real RSA keys, the 401
 * challenge): signatures verify with openssl and the vault's public key, the version is pinned, a bundle signed through
 * the vault verifies, and failures name the key and what to do. Plus the r||s -> DER conversion ES256 needs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyVaultSigner, p1363ToDer, parseKeyVaultUri, publicKeyFromJwk } from '../../src/evidence/keyvault-signer.js';
import { loadSigner, publicKeyFingerprint } from '../../src/evidence/signing.js';
import { writeBundle } from '../../src/evidence/bundle.js';
import { verifyBundle } from '../../src/evidence/verify.js';
import { InputError } from '../../src/errors.js';
import { buildStatement, signDsse, verifyDsse } from '../../src/evidence/dsse.js';
import { fakeCredential, startKeyVaultServer, type KeyVaultTestServer } from '../support/keyvault-server.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-signer-'));
let server: KeyVaultTestServer;
let options: Parameters<typeof createKeyVaultSigner>[1];

before(async () => {
  server = await startKeyVaultServer();
  server.createKey('audit-signing', { keySize: 2048, keyOps: ['sign', 'verify'] });
  server.createKey('wrap-only', { keySize: 2048, keyOps: ['wrapKey', 'unwrapKey'] });
  options = { vaultUrl: server.vaultUrl, credential: fakeCredential(), agent: server.agent(), disableChallengeResourceVerification: true };
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('createKeyVaultSigner', () => {
  it('signs through CryptographyClient.sign (RS256) after the bearer challenge; openssl verifies with the fetched key', async () => {
    const signer = await createKeyVaultSigner('azurekeyvault://contoso-kv/keys/audit-signing', options);
    const version = server.versions('audit-signing')[0]!;
    assert.equal(signer.info.algorithm, 'rsa');
    assert.equal(signer.info.ephemeral, false);
    assert.equal(signer.info.keySource, `azurekeyvault://contoso-kv/keys/audit-signing/${version}`);
    assert.equal(signer.publicKeyPem, server.publicKeyPem('audit-signing'));
    assert.equal(signer.info.fingerprint, publicKeyFingerprint(server.publicKeyPem('audit-signing')));
    assert.equal(signer.pdfIdentity, undefined, 'a vault key never leaves the vault, so it cannot make a PKCS#12 identity');

    const data = Buffer.from('0123abcd  results.json\n');
    const sig = await signer.sign(data);
    const ops = server.requests.map((r) => r.op);
    assert.ok(ops.includes('GetKey') && ops.includes('sign'), ops.join(','));
    assert.equal(server.requests[0]!.status, 401, 'the first request is answered with the challenge');
    assert.equal(server.requests[0]!.hadToken, false);
    const signReq = server.requests.find((r) => r.op === 'sign')!;
    assert.equal(signReq.hadToken, true);
    assert.ok(signReq.path.includes(`/keys/audit-signing/${version}/sign`), `pinned to the fetched version: ${signReq.path}`);

    writeFileSync(join(dir, 'data'), data);
    writeFileSync(join(dir, 'data.sig'), sig);
    writeFileSync(join(dir, 'pub.pem'), signer.publicKeyPem);
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'data.sig'), join(dir, 'data')], { encoding: 'utf8' });
    assert.match(out, /Verified OK/);
  });

  it('keeps signing with the version it published when the key rotates mid-run', async () => {
    const signer = await createKeyVaultSigner('azurekeyvault://contoso-kv/keys/audit-signing', options);
    const published = signer.publicKeyPem;
    server.rotate('audit-signing');
    const sig = await signer.sign(Buffer.from('after rotation'));
    assert.ok(cryptoVerify('sha256', Buffer.from('after rotation'), published, sig));
    const pinned = await createKeyVaultSigner(`azurekeyvault://contoso-kv/keys/audit-signing/${server.versions('audit-signing')[0]}`, options);
    assert.equal(pinned.publicKeyPem, published, 'an explicit version selects that version');
  });

  it('signs a whole bundle through loadSigner; verify and openssl accept it, and the private key is nowhere in it', async () => {
    const signer = await loadSigner('azurekeyvault://contoso-kv/keys/audit-signing', { keyVault: options });
    const out = join(dir, 'bundle');
    await writeBundle({ outDir: out, files: { 'results.json': '{"tool":"engram-audit"}\n' }, evidence: { documents: [], provenance: [], errors: [] }, signer });
    const report = await verifyBundle(out, { publicKeyPem: signer.publicKeyPem });
    assert.equal(report.ok, true, report.problems.join('; '));
    assert.equal(report.signature.algorithm, 'rsa');
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-verify', 'signing-key.pub.pem', '-signature', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
    assert.match(openssl, /Verified OK/);
  });

  it('signs a DSSE envelope through the vault that verifies with the vault key and fails with another', async () => {
    const signer = await createKeyVaultSigner('azurekeyvault://contoso-kv/keys/audit-signing', options);
    const statement = buildStatement([{ path: 'results.json', sha256: 'a'.repeat(64) }]);
    const envelope = await signDsse(statement, (d) => signer.sign(d), signer.info.fingerprint);
    const ok = verifyDsse(envelope, signer.publicKeyPem);
    assert.equal(ok.valid, true, ok.error);
    assert.equal(ok.keyid, signer.info.fingerprint);
    assert.equal(verifyDsse(envelope, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey).valid, false);
  });

  it('fails with the key named and a hint: missing key, no sign permission, refused sign, malformed reference', async () => {
    await assert.rejects(createKeyVaultSigner('azurekeyvault://contoso-kv/keys/nope', options), (e: unknown) => {
      assert.ok(e instanceof InputError && e.code === 'E_SIGN_KEYVAULT');
      assert.match(e.message, /keys\/nope.*404/);
      assert.match(e.format(), /az keyvault key show/);
      return true;
    });
    await assert.rejects(createKeyVaultSigner('azurekeyvault://contoso-kv/keys/wrap-only', options), /does not allow the sign operation/);
    const signer = await createKeyVaultSigner('azurekeyvault://contoso-kv/keys/audit-signing', options);
    server.intercept = (ctx) => (ctx.op === 'sign' ? { status: 403, body: { error: { code: 'Forbidden', message: 'Caller is not authorized to perform action on resource.' } } } : undefined);
    try {
      await assert.rejects(signer.sign(Buffer.from('x')), (e: unknown) => e instanceof InputError && /403/.test(e.message) && /Key Vault Crypto User/.test(e.format()));
    } finally {
      server.intercept = undefined;
    }
    assert.throws(() => parseKeyVaultUri('azurekeyvault://contoso-kv/secrets/x'), (e: unknown) => e instanceof InputError && /azurekeyvault:\/\/<vault-name>/.test(e.format()));
    assert.deepEqual(parseKeyVaultUri('azurekeyvault://contoso-kv/keys/k1/0123abcd'), {
      vault: 'contoso-kv',
      name: 'k1',
      version: '0123abcd',
      vaultUrl: 'https://contoso-kv.vault.azure.net',
    });
    assert.equal(parseKeyVaultUri('azurekeyvault://kv.vault.azure.cn/keys/k1').vaultUrl, 'https://kv.vault.azure.cn');
  });
});

describe('ES256 encoding', () => {
  it('p1363ToDer turns r||s into a DER signature openssl and Node accept, for every leading-bit case', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(`SHA256SUMS ${i}`);
      const raw = cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      assert.equal(raw.length, 64);
      const der = p1363ToDer(raw);
      assert.equal(der[0], 0x30);
      assert.ok(cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, der), `case ${i}`);
    }
    assert.throws(() => p1363ToDer(new Uint8Array(63)), /even/);
  });

  it('publicKeyFromJwk reads Key Vault RSA and EC P-256 JWKs and refuses other curves', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const jwk = ec.export({ format: 'jwk' }) as { x: string; y: string };
    const back = publicKeyFromJwk({ kty: 'EC-HSM', crv: 'P-256', x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') });
    assert.equal(publicKeyFingerprint(back), publicKeyFingerprint(ec));
    assert.throws(() => publicKeyFromJwk({ kty: 'EC', crv: 'P-384' }), /P-384/);
    assert.throws(() => publicKeyFromJwk({ kty: 'oct' }), /cannot sign/);
  });
});
