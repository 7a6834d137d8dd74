import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import {
  ENGRAM_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_V1,
  buildStatement,
  compareSubjects,
  keyIdFor,
  preAuthEncoding,
  signDsse,
  verifyDsse,
  type DsseEnvelope,
} from '../../src/evidence/dsse.js';
import { InputError } from '../../src/errors.js';
import { sha256Hex } from '../../src/util/hash.js';
import { repoRoot } from '../support/paths.js';

const FILES = [
  { path: 'results.json', sha256: sha256Hex('results') },
  { path: 'evidence/documents.json', sha256: sha256Hex('documents') },
  { path: 'report.pdf', sha256: sha256Hex('pdf').toUpperCase() },
];

type Alg = 'ed25519' | 'ecdsa-p256' | 'rsa';
function keys(alg: Alg): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'ed25519') return generateKeyPairSync('ed25519');
  if (alg === 'ecdsa-p256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}
function signer(alg: Alg, key: KeyObject) {
  return async (data: Buffer) => cryptoSign(alg === 'ed25519' ? null : 'sha256', data, key);
}

/** Verifies an envelope the way sigstore-js does for a key-based (no Fulcio, no Rekor) bundle v0.3. */
function sigstoreVerify(envelopeJson: string, publicKey: KeyObject, keyid: string): void {
  const env = JSON.parse(envelopeJson) as DsseEnvelope;
  const bundle = bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: keyid }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: env,
  });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const trust = toTrustMaterial(
    { mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] },
    // keyDetails is informational for sigstore-js (it parses the SPKI); the cast keeps us off protobuf-specs' enum.
    { [keyid]: { rawBytes: spki, keyDetails: 0 as never, validFor: undefined } },
  );
  // Offline: no transparency log, no timestamp authority, no certificate; only the key vouches for the signature.
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
}

test('buildStatement makes an in-toto Statement v1 over the bundle files, sorted, digests lower-case', () => {
  const st = buildStatement(FILES, { runId: 'r1' });
  assert.equal(st._type, IN_TOTO_STATEMENT_V1);
  assert.equal(st.predicateType, ENGRAM_PREDICATE_TYPE);
  assert.deepEqual(st.predicate, { runId: 'r1' });
  assert.deepEqual(
    st.subject.map((s) => s.name),
    ['evidence/documents.json', 'report.pdf', 'results.json'],
  );
  assert.equal(st.subject[1]!.digest.sha256, sha256Hex('pdf'));
});

test('buildStatement refuses empty lists, duplicates and malformed digests, naming each problem', () => {
  assert.throws(() => buildStatement([]), (e: unknown) => e instanceof InputError && /no files/.test(e.message));
  assert.throws(
    () => buildStatement([FILES[0]!, FILES[0]!, { path: 'x', sha256: 'abc' }]),
    (e: unknown) => e instanceof InputError && /listed twice/.test(e.message) && /files\[2\]\.sha256/.test(e.message),
  );
});

test('PAE follows the DSSE v1 spec byte for byte (spec test vector)', () => {
  // From the DSSE protocol document: PAE("http://example.com/HelloWorld", "hello world").
  const pae = preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world'));
  assert.equal(pae.toString('utf8'), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  // Lengths are byte counts, not character counts.
  assert.equal(preAuthEncoding('t', Buffer.from('é', 'utf8')).toString('utf8'), 'DSSEv1 1 t 2 é');
});

for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
  test(`${alg}: the envelope verifies with our verifier and offline with @sigstore/verify`, async () => {
    const { privateKey, publicKey } = keys(alg);
    const keyid = keyIdFor(publicKey);
    const statement = buildStatement(FILES, { tool: 'engram-audit' });
    const json = await signDsse(statement, signer(alg, privateKey), keyid);
    const env = JSON.parse(json) as DsseEnvelope;
    assert.equal(env.payloadType, IN_TOTO_PAYLOAD_TYPE);
    assert.deepEqual(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')), JSON.parse(JSON.stringify(statement)));
    assert.equal(env.signatures[0]!.keyid, keyid);

    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ours = verifyDsse(json, pem);
    assert.equal(ours.valid, true, ours.error);
    assert.equal(ours.keyid, keyid);
    assert.deepEqual(compareSubjects(ours.statement!, FILES), []);

    sigstoreVerify(json, publicKey, keyid);
  });

  test(`${alg}: a changed payload, a changed signature or another key is rejected by both verifiers`, async () => {
    const { privateKey, publicKey } = keys(alg);
    const other = keys(alg).publicKey;
    const keyid = keyIdFor(publicKey);
    const json = await signDsse(buildStatement(FILES), signer(alg, privateKey), keyid);
    const env = JSON.parse(json) as DsseEnvelope;

    const forged = buildStatement([{ path: 'results.json', sha256: sha256Hex('forged') }]);
    const tampered = { ...env, payload: Buffer.from(JSON.stringify(forged)).toString('base64') };
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    sig[sig.length - 5]! ^= 0x01;
    const badSig = { ...env, signatures: [{ keyid, sig: sig.toString('base64') }] };

    for (const bad of [tampered, badSig]) {
      const r = verifyDsse(bad, publicKey);
      assert.equal(r.valid, false);
      assert.match(r.error!, /no signature verifies/);
      assert.throws(() => sigstoreVerify(JSON.stringify(bad), publicKey, keyid), /signature verification failed/);
    }
    assert.equal(verifyDsse(json, other).valid, false);
    assert.throws(() => sigstoreVerify(json, other, keyid), /signature verification failed/);
  });
}

test('RSA (PKCS#1 v1.5, SHA-256) envelopes verify too', async () => {
  const { privateKey, publicKey } = keys('rsa');
  const json = await signDsse(buildStatement(FILES), signer('rsa', privateKey), keyIdFor(publicKey));
  assert.equal(verifyDsse(json, publicKey).valid, true);
  sigstoreVerify(json, publicKey, keyIdFor(publicKey));
});

test('an ECDSA signature in r||s form (as Key Vault returns it) verifies with our verifier', async () => {
  const { privateKey, publicKey } = keys('ecdsa-p256');
  const json = await signDsse(
    buildStatement(FILES),
    async (data) => cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    'kv',
  );
  assert.equal(Buffer.from((JSON.parse(json) as DsseEnvelope).signatures[0]!.sig, 'base64').length, 64);
  assert.equal(verifyDsse(json, publicKey).valid, true);
});

test('verifyDsse reports malformed envelopes instead of throwing', () => {
  const { publicKey } = keys('ed25519');
  assert.match(verifyDsse('{not json', publicKey).error!, /not JSON/);
  assert.match(verifyDsse('{}', publicKey).error!, /lacks payload/);
  assert.match(
    verifyDsse({ payloadType: 'text/plain', payload: '', signatures: [] }, publicKey).error!,
    /payloadType is "text\/plain"/,
  );
  assert.match(
    verifyDsse({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: '%%%', signatures: [] }, publicKey).error!,
    /not base64/,
  );
  assert.match(verifyDsse({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: 'e30=', signatures: [] }, 'nope').error!, /public key/);
});

test('a valid signature over something that is not an in-toto statement is not accepted', async () => {
  const { privateKey, publicKey } = keys('ed25519');
  const payload = Buffer.from('{"hello":"world"}');
  const sig = cryptoSign(null, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload), privateKey);
  const r = verifyDsse(
    { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: 'k', sig: sig.toString('base64') }] },
    publicKey,
  );
  assert.equal(r.valid, false);
  assert.match(r.error!, /not an in-toto Statement v1/);
});

test('compareSubjects names missing, extra and changed files', () => {
  const st = buildStatement(FILES);
  const onDisk = [
    { path: 'results.json', sha256: sha256Hex('changed') },
    { path: 'report.pdf', sha256: sha256Hex('pdf') },
    { path: 'extra.txt', sha256: sha256Hex('x') },
  ];
  assert.deepEqual(compareSubjects(st, onDisk), [
    'evidence/documents.json: signed but missing',
    `results.json: sha256 ${sha256Hex('changed')} differs from the signed ${sha256Hex('results')}`,
    'extra.txt: present but not signed',
  ]);
});

test('the same statement always signs the same payload bytes (Ed25519 is deterministic)', async () => {
  const { privateKey } = keys('ed25519');
  const a = await signDsse(buildStatement(FILES, { b: 1, a: 2 }), signer('ed25519', privateKey), 'k');
  const b = await signDsse(buildStatement([...FILES].reverse(), { a: 2, b: 1 }), signer('ed25519', privateKey), 'k');
  assert.equal(a, b);
});

/** The `sh dsse-verify` block of docs/outputs.md, so the documented commands are the tested ones. */
function documentedScript(): string {
  const doc = readFileSync(join(repoRoot, 'docs', 'outputs.md'), 'utf8');
  const m = /```sh dsse-verify\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/outputs.md has a ```sh dsse-verify block');
  return m[1]!;
}

function runScript(dir: string) {
  writeFileSync(join(dir, 'verify-dsse.sh'), documentedScript());
  return spawnSync('bash', ['verify-dsse.sh'], { cwd: dir, encoding: 'utf8' });
}

for (const alg of ['ed25519', 'ecdsa-p256', 'rsa'] as const) {
  test(`${alg}: the documented bash + openssl + sha256sum commands verify the envelope and catch tampering`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-dsse-'));
    try {
      mkdirSync(join(dir, 'evidence'));
      const contents: Record<string, string> = {
        'results.json': '{"tool":"engram-audit"}\n',
        'evidence/documents.json': '{"documents":[]}\n',
        'SHA256SUMS': 'x\n',
      };
      for (const [p, c] of Object.entries(contents)) writeFileSync(join(dir, p), c);
      const files = Object.entries(contents).map(([path, c]) => ({ path, sha256: sha256Hex(c) }));
      const { privateKey, publicKey } = keys(alg);
      writeFileSync(join(dir, 'public.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
      const envelope = await signDsse(buildStatement(files, { runId: 'r' }), signer(alg, privateKey), keyIdFor(publicKey));
      writeFileSync(join(dir, 'bundle.dsse.json'), envelope);

      const ok = runScript(dir);
      assert.equal(ok.status, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, alg === 'ed25519' ? /Signature Verified Successfully/ : /Verified OK/);
      assert.match(ok.stdout, /results\.json: OK/);
      assert.match(ok.stdout, /evidence\/documents\.json: OK/);

      // One changed byte in a bundle file: the signature still verifies, sha256sum does not.
      writeFileSync(join(dir, 'results.json'), '{"tool":"engram-audiT"}\n');
      const changed = runScript(dir);
      assert.notEqual(changed.status, 0);
      assert.match(changed.stdout, /results\.json: FAILED/);
      writeFileSync(join(dir, 'results.json'), contents['results.json']!);

      // A forged statement under the old signature: openssl refuses before any digest is trusted.
      const env = JSON.parse(envelope) as DsseEnvelope;
      const forged = buildStatement([{ path: 'results.json', sha256: sha256Hex('forged') }]);
      env.payload = Buffer.from(JSON.stringify(forged)).toString('base64');
      writeFileSync(join(dir, 'bundle.dsse.json'), `${JSON.stringify(env, null, 2)}\n`);
      const bad = runScript(dir);
      assert.notEqual(bad.status, 0);
      assert.doesNotMatch(bad.stdout, /: OK/);
      assert.match(bad.stdout + bad.stderr, /Verif(ication|y) Fail|Signature Verification Failure|bad signature/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
