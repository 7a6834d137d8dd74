import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../../src/errors.js';
import forge from 'node-forge';
import { ephemeralPdfIdentity, loadP12Signer, loadSigner, normaliseFingerprint, publicKeyFingerprint, verifyWithKey } from '../../src/evidence/signing.js';
import { identityKeyFingerprint } from '../../src/evidence/pdf-sign.js';
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
  const small = join(tmp.dir, 'rsa1024.pem');
  writeFileSync(small, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await rejects(small, 'E_SIGN_KEY_UNSUPPORTED', /RSA key \(1024 bits\).*RSA of at least 2048 bits/);
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

test('a malformed Key Vault key reference is an InputError with the expected form, before any request', async () => {
  await assert.rejects(loadSigner('azurekeyvault://kv/sign'), (e: unknown) => e instanceof InputError && e.code === 'E_SIGN_KEYVAULT_URI' && /azurekeyvault:\/\/<vault-name>\/keys/.test(e.format()));
  assert.ok(UsageError, 'usage errors stay for flags');
});

test('an RSA key signs the bundle with PKCS#1 v1.5 / SHA-256 (openssl dgst verifies) and signs the PDF with the same key', async () => {
  const s = await loadSigner(keys.rsa);
  assert.equal(s.info.algorithm, 'rsa');
  const sig = await s.sign(data);
  assert.equal(sig.length, 256);
  const dir = tmp.dir;
  writeFileSync(join(dir, 'rsa.data'), data);
  writeFileSync(join(dir, 'rsa.sig'), sig);
  writeFileSync(join(dir, 'rsa.pub.pem'), s.publicKeyPem);
  const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'rsa.pub.pem'), '-signature', join(dir, 'rsa.sig'), join(dir, 'rsa.data')], { encoding: 'utf8' });
  assert.match(out, /Verified OK/);
  const identity = s.pdfIdentity!({ now: new Date('2026-11-28T09:00:00Z'), commonName: 'Contoso audit' });
  assert.equal(identity.selfSigned, true);
  assert.equal(identity.commonName, 'Contoso audit');
  assert.equal(identityKeyFingerprint(identity), s.info.fingerprint, 'the PDF certificate carries the bundle key');
  for (const other of [await loadSigner(keys.ed25519), await loadSigner(keys.ecdsa), await loadSigner()]) assert.equal(other.pdfIdentity, undefined);
});

test('an RSA key with --sign-cert uses that certificate, and refuses one for another key', async () => {
  const key = forge.pki.privateKeyFromPem(createPrivateKeyPkcs1(readFileSync(keys.rsa, 'utf8')));
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2030-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'Contoso Issued Signer' }]);
  cert.setIssuer([{ name: 'commonName', value: 'Contoso Test CA' }]);
  cert.sign(key, forge.md.sha256.create());
  const s = await loadSigner(keys.rsa, { certificatePem: forge.pki.certificateToPem(cert), certificateFile: 'cert.pem' });
  const identity = s.pdfIdentity!({ now: new Date() });
  assert.equal(identity.commonName, 'Contoso Issued Signer');
  assert.equal(identity.selfSigned, false);
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const otherFile = join(tmp.dir, 'other-rsa.pem');
  writeFileSync(otherFile, otherKey);
  const mismatched = await loadSigner(otherFile, { certificatePem: forge.pki.certificateToPem(cert), certificateFile: 'cert.pem' });
  assert.throws(() => mismatched.pdfIdentity!({ now: new Date() }), (e: unknown) => e instanceof InputError && e.code === 'E_PDF_CERT_MISMATCH' && /cert\.pem/.test(e.format()));
});

test('a PKCS#12 file signs the bundle and the PDF with its key; a wrong passphrase names the file', async () => {
  const keysP12 = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keysP12.publicKey;
  cert.serialNumber = '0b';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2030-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'P12 audit signer' }]);
  cert.setIssuer([{ name: 'commonName', value: 'P12 audit signer' }]);
  cert.sign(keysP12.privateKey, forge.md.sha256.create());
  const file = join(tmp.dir, 'signer.p12');
  writeFileSync(file, Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(keysP12.privateKey, [cert], 'pw', { algorithm: '3des' })).getBytes(), 'binary'));
  const s = await loadP12Signer(file, 'pw');
  assert.equal(s.info.algorithm, 'rsa');
  assert.equal(s.info.keySource, 'p12:signer.p12');
  assert.ok(verifyWithKey(createPublicKey(s.publicKeyPem), data, await s.sign(data)));
  const identity = s.pdfIdentity!({ now: new Date() });
  assert.equal(identity.commonName, 'P12 audit signer');
  assert.equal(identityKeyFingerprint(identity), s.info.fingerprint);
  await assert.rejects(loadP12Signer(file, 'wrong'), (e: unknown) => e instanceof InputError && /signer\.p12/.test(e.format()));
});

test('the ephemeral PDF identity is RSA, self-signed and says it is ephemeral', () => {
  const id = ephemeralPdfIdentity(new Date('2026-11-28T09:00:00Z'));
  assert.match(id.commonName, /ephemeral/);
  assert.equal(id.selfSigned, true);
});

function createPrivateKeyPkcs1(pem: string): string {
  return execFileSync('openssl', ['pkey', '-traditional'], { input: pem, encoding: 'utf8' });
}

test('fingerprints typed with colons, spaces, upper case or a sha256: prefix normalise to the same value', () => {
  assert.equal(normaliseFingerprint('SHA256:AB:cd ef'), 'abcdef');
});
