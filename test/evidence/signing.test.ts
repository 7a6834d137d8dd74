import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../../src/errors.js';
import { loadSigner, normaliseFingerprint, publicKeyFingerprint, verifyWithKey } from '../../src/evidence/signing.js';
import { tempDir, writeKeyFiles } from './support.js';

let tmp: ReturnType<typeof tempDir>;
let keys: ReturnType<typeof writeKeyFiles>;
before(() => {
  tmp = tempDir();
  keys = writeKeyFiles(tmp.dir);
});
after(() => tmp.cleanup());

const data = Buffer.from('abc  results.json\n');

test('an Ed25519 PEM key signs; the signature is 64 raw bytes and the fingerprint is SHA-256 of the DER SPKI', async () => {
  const s = await loadSigner(keys.ed25519);
  assert.equal(s.info.algorithm, 'ed25519');
  assert.equal(s.info.ephemeral, false);
  assert.equal(s.info.keySource, 'file:ed25519.pem');
  const sig = await s.sign(data);
  assert.equal(sig.length, 64);
  assert.ok(verifyWithKey(createPublicKey(s.publicKeyPem), data, sig));
  assert.ok(!verifyWithKey(createPublicKey(s.publicKeyPem), Buffer.from('abd  results.json\n'), sig));
  // Independent fingerprint: openssl's DER output through sha256sum, as docs/verifying.md tells auditors.
  const pub = join(tmp.dir, 'fp.pub.pem');
  writeFileSync(pub, s.publicKeyPem);
  const out = execFileSync('bash', ['-c', `openssl pkey -pubin -in ${pub} -outform DER | sha256sum`], { encoding: 'utf8' });
  assert.equal(out.split(' ')[0], s.info.fingerprint);
  assert.match(s.info.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(s.publicKeyPem, readFileSync(keys.ed25519Pub, 'utf8'));
});

test('an ECDSA P-256 key (PKCS#8 and SEC1) signs with a DER signature over SHA-256', async () => {
  for (const file of [keys.ecdsa, keys.ecdsaSec1]) {
    const s = await loadSigner(file);
    assert.equal(s.info.algorithm, 'ecdsa-p256');
    const sig = await s.sign(data);
    assert.equal(sig[0], 0x30, 'DER SEQUENCE');
    assert.ok(verifyWithKey(createPublicKey(s.publicKeyPem), data, sig));
    assert.equal(s.info.fingerprint, publicKeyFingerprint(readFileSync(keys.ecdsaPub, 'utf8')));
  }
});

test('with no key an ephemeral Ed25519 key is made, labelled, and differs on every run', async () => {
  const a = await loadSigner();
  const b = await loadSigner(undefined);
  assert.equal(a.info.ephemeral, true);
  assert.equal(a.info.keySource, 'ephemeral');
  assert.equal(a.info.algorithm, 'ed25519');
  assert.notEqual(a.info.fingerprint, b.info.fingerprint);
  assert.ok(!a.publicKeyPem.includes('PRIVATE'));
  assert.ok(verifyWithKey(createPublicKey(a.publicKeyPem), data, await a.sign(data)));
});

async function rejects(spec: string, code: string, message: RegExp, hint?: RegExp) {
  await assert.rejects(loadSigner(spec), (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.details.file, spec, 'the file is named');
    assert.match(err.message, message);
    if (hint) assert.match(String(err.details.hint), hint);
    assert.equal(err.exitCode, 2);
    assert.ok(err.format().startsWith(`${spec}: `));
    return true;
  });
}

test('bad key files are InputErrors that name the file and say what to do', async () => {
  await rejects(keys.encrypted, 'E_SIGN_KEY_ENCRYPTED', /encrypted/, /openssl pkey -in encrypted\.pem -out/);
  await rejects(keys.ed25519Pub, 'E_SIGN_KEY_PUBLIC', /public key/, /private key/);
  await rejects(keys.garbage, 'E_SIGN_KEY_INVALID', /could not be parsed/, /genpkey/);
  await rejects(keys.missing, 'E_SIGN_KEY_UNREADABLE', /not found/);
  await rejects(tmp.dir, 'E_SIGN_KEY_UNREADABLE', /directory/);
  await rejects(keys.rsa, 'E_SIGN_KEY_UNSUPPORTED', /RSA key \(2048 bits\).*only Ed25519 and ECDSA P-256/);
  await rejects(keys.p384, 'E_SIGN_KEY_UNSUPPORTED', /secp384r1/);
  const text = join(tmp.dir, 'notes.txt');
  writeFileSync(text, 'hello\n');
  await rejects(text, 'E_SIGN_KEY_INVALID', /not a PEM private key/);
});

test('an encrypted key loads with its passphrase and is refused with a wrong one', async () => {
  const s = await loadSigner(keys.encrypted, { passphrase: 'correct horse' });
  assert.equal(s.info.fingerprint, publicKeyFingerprint(readFileSync(keys.ed25519Pub, 'utf8')));
  await assert.rejects(loadSigner(keys.encrypted, { passphrase: 'wrong' }), (e: unknown) => e instanceof InputError && e.code === 'E_SIGN_KEY_ENCRYPTED' && e.details.file === keys.encrypted);
});

test('a Key Vault key spec is a clear usage error until Key Vault signing exists', async () => {
  await assert.rejects(loadSigner('azurekeyvault://kv/keys/sign'), (e: unknown) => e instanceof UsageError && /Key Vault/.test(e.message));
});

test('fingerprints typed with colons, spaces, upper case or a sha256: prefix normalise to the same value', () => {
  assert.equal(normaliseFingerprint('SHA256:AB:cd ef'), 'abcdef');
});
