import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { writeBundle } from '../../src/evidence/bundle.js';
import { formatManifest, manifestEntries } from '../../src/evidence/manifest.js';
import { loadSigner, type Signer } from '../../src/evidence/signing.js';
import { formatVerifyReport, verifyBundle, type VerifyReport } from '../../src/evidence/verify.js';
import { sampleEvidence, tempDir, writeKeyFiles, signedSamplePdf } from './support.js';

let tmp: ReturnType<typeof tempDir>;
let keys: ReturnType<typeof writeKeyFiles>;
let ed: Signer;
let ec: Signer;
const pristine: Record<string, string> = {};

before(async () => {
  const pdf = await signedSamplePdf();
  tmp = tempDir();
  keys = writeKeyFiles(tmp.dir);
  ed = await loadSigner(keys.ed25519);
  ec = await loadSigner(keys.ecdsa);
  for (const [name, signer] of [['ed25519', ed], ['ecdsa', ec]] as const) {
    pristine[name] = join(tmp.dir, `pristine-${name}`);
    await writeBundle({
      outDir: pristine[name]!,
      files: {
        'results.json': `${JSON.stringify({ tool: 'engram-audit', signing: signer.info })}\n`,
        'report.html': '<!doctype html><title>packet</title><p>ok</p>\n',
        'report.pdf': pdf,
      },
      evidence: sampleEvidence(),
      signer,
    });
  }
});
after(() => tmp.cleanup());

let n = 0;
/** A fresh copy of a pristine bundle to tamper with. */
function copy(alg: 'ed25519' | 'ecdsa' = 'ed25519'): string {
  const dir = join(tmp.dir, `case-${++n}`);
  cpSync(pristine[alg]!, dir, { recursive: true });
  return dir;
}

function flipByte(path: string, at = 10): void {
  const b = readFileSync(path);
  b[at] = b[at]! ^ 0x01;
  writeFileSync(path, b);
}

const STORAGE = 'evidence/microsoft.storage-storageaccounts-0001.json';

function onlyProblem(r: VerifyReport, kind: 'changed' | 'added' | 'removed', path: string) {
  assert.equal(r.ok, false);
  const lists = { changed: r.changed.map((c) => c.path), added: r.added, removed: r.removed };
  for (const k of ['changed', 'added', 'removed'] as const) assert.deepEqual(lists[k], k === kind ? [path] : [], k);
  assert.deepEqual(r.malformed, []);
  assert.equal(r.signature.valid, true, 'SHA256SUMS itself is untouched, so its signature still holds');
  const text = formatVerifyReport(r);
  assert.match(text, new RegExp(`${kind.toUpperCase()}\\s+${path.replace(/\./g, '\\.')}`));
  assert.match(text, /Result: NOT INTACT/);
}

for (const alg of ['ed25519', 'ecdsa'] as const) {
  test(`${alg}: an intact bundle verifies with its own key and says that proves integrity, not origin`, async () => {
    const r = await verifyBundle(copy(alg));
    assert.equal(r.ok, true, r.problems.join('; '));
    assert.equal(r.listed, 8);
    assert.equal(r.intact, 8);
    assert.equal(r.signature.valid, true);
    assert.equal(r.signature.encoding, 'raw');
    assert.equal(r.signature.algorithm, alg === 'ed25519' ? 'ed25519' : 'ecdsa-p256');
    assert.equal(r.signature.checkedWith, 'bundle-key');
    assert.equal(r.trust, 'integrity-only');
    const signer = alg === 'ed25519' ? ed : ec;
    assert.equal(r.signature.fingerprint, signer.info.fingerprint);
    const text = formatVerifyReport(r);
    assert.match(text, /Result: INTACT/);
    assert.match(text, /integrity, not origin/);
    assert.ok(text.includes(signer.info.fingerprint));
  });

  test(`${alg}: one byte changed in a report, in evidence, in results.json is named`, async () => {
    for (const path of ['report.pdf', STORAGE, 'results.json']) {
      const dir = copy(alg);
      flipByte(join(dir, path));
      const r = await verifyBundle(dir);
      onlyProblem(r, 'changed', path);
      assert.equal(r.intact, 7);
      assert.match(r.changed[0]!.actual!, /^[0-9a-f]{64}$/);
      assert.notEqual(r.changed[0]!.actual, r.changed[0]!.expected);
    }
  });

  test(`${alg}: a base64 signature (in .sig, or only a .sig.b64) verifies`, async () => {
    const dir = copy(alg);
    const raw = readFileSync(join(dir, 'SHA256SUMS.sig'));
    writeFileSync(join(dir, 'SHA256SUMS.sig'), `${raw.toString('base64')}\n`);
    const r = await verifyBundle(dir);
    assert.equal(r.ok, true, r.problems.join('; '));
    assert.equal(r.signature.encoding, 'base64');
    rmSync(join(dir, 'SHA256SUMS.sig'));
    writeFileSync(join(dir, 'SHA256SUMS.sig.b64'), raw.toString('base64'));
    const r2 = await verifyBundle(dir);
    assert.equal(r2.ok, true, r2.problems.join('; '));
    assert.equal(r2.signature.file, 'SHA256SUMS.sig.b64');
  });
}

test('a file added (top level or inside evidence/) is named', async () => {
  const dir = copy();
  writeFileSync(join(dir, 'extra.txt'), 'hello');
  onlyProblem(await verifyBundle(dir), 'added', 'extra.txt');
  const dir2 = copy();
  writeFileSync(join(dir2, 'evidence', 'injected.json'), '{"documents":[]}');
  onlyProblem(await verifyBundle(dir2), 'added', 'evidence/injected.json');
});

test('a file removed is named', async () => {
  const dir = copy();
  rmSync(join(dir, 'report.pdf'));
  onlyProblem(await verifyBundle(dir), 'removed', 'report.pdf');
});

test('SHA256SUMS edited to hide a change breaks the signature; a malformed line is named with its number', async () => {
  const dir = copy();
  writeFileSync(join(dir, 'results.json'), '{"tool":"engram-audit","forged":true}\n');
  const files: Record<string, Buffer> = {};
  for (const line of readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trimEnd().split('\n')) {
    const p = line.slice(66);
    files[p] = readFileSync(join(dir, p));
  }
  writeFileSync(join(dir, 'SHA256SUMS'), formatManifest(manifestEntries(files)));
  const r = await verifyBundle(dir);
  assert.equal(r.ok, false);
  assert.deepEqual(r.changed, []);
  assert.equal(r.signature.valid, false);
  assert.match(r.problems.join('\n'), /signature in SHA256SUMS\.sig is not valid/);
  assert.match(formatVerifyReport(r), /Signature: INVALID/);

  const dir2 = copy();
  appendFileSync(join(dir2, 'SHA256SUMS'), 'not a checksum line\n');
  appendFileSync(join(dir2, 'SHA256SUMS'), `${'0'.repeat(64)}  ../../etc/passwd\n`);
  const r2 = await verifyBundle(dir2);
  assert.equal(r2.ok, false);
  assert.deepEqual(r2.malformed.map((m) => m.line), [9, 10]);
  assert.match(r2.malformed[1]!.reason, /\.\. segments/);
  assert.equal(r2.signature.valid, false);
  assert.match(formatVerifyReport(r2), /MALFORMED SHA256SUMS line 9/);
});

test('a replaced or removed signature is named', async () => {
  const dir = copy();
  const other = await loadSigner();
  writeFileSync(join(dir, 'SHA256SUMS.sig'), await other.sign(readFileSync(join(dir, 'SHA256SUMS'))));
  const r = await verifyBundle(dir);
  assert.equal(r.ok, false);
  assert.equal(r.signature.present, true);
  assert.equal(r.signature.valid, false);
  assert.equal(r.trust, 'none');
  const dir2 = copy();
  rmSync(join(dir2, 'SHA256SUMS.sig'));
  const r2 = await verifyBundle(dir2);
  assert.equal(r2.ok, false);
  assert.equal(r2.signature.present, false);
  assert.match(r2.problems.join('\n'), /SHA256SUMS\.sig is missing/);
  assert.match(formatVerifyReport(r2), /Signature: MISSING/);
});

test('--key: the right key gives origin; a wrong key is named; a re-signed forgery passes only integrity', async () => {
  const right = await verifyBundle(copy(), { publicKeyPem: ed.publicKeyPem, publicKeyLabel: 'producer.pub.pem' });
  assert.equal(right.ok, true);
  assert.equal(right.trust, 'given-key');
  assert.equal(right.signature.bundleKeyMatchesGiven, true);
  assert.doesNotMatch(formatVerifyReport(right), /integrity, not origin/);

  const wrong = await verifyBundle(copy(), { publicKeyPem: ec.publicKeyPem, publicKeyLabel: 'other.pub.pem' });
  assert.equal(wrong.ok, false);
  assert.equal(wrong.signature.valid, false);
  assert.equal(wrong.signature.checkedWith, 'given-key');
  assert.equal(wrong.signature.bundleKeyMatchesGiven, false);
  assert.match(wrong.problems.join('\n'), /not valid for the given key other\.pub\.pem/);
  assert.match(wrong.problems.join('\n'), /signing-key\.pub\.pem \(fingerprint [0-9a-f]{64}\) is not the given key/);

  // An attacker rewrites results.json, ships their own key and re-signs: self-consistent, so only --key catches it.
  const forged = copy();
  const attacker = await loadSigner();
  writeFileSync(join(forged, 'results.json'), '{"tool":"engram-audit","all":"pass"}\n');
  writeFileSync(join(forged, 'signing-key.pub.pem'), attacker.publicKeyPem);
  const files: Record<string, Buffer> = {};
  for (const line of readFileSync(join(forged, 'SHA256SUMS'), 'utf8').trimEnd().split('\n')) files[line.slice(66)] = readFileSync(join(forged, line.slice(66)));
  const sums = Buffer.from(formatManifest(manifestEntries(files)));
  writeFileSync(join(forged, 'SHA256SUMS'), sums);
  writeFileSync(join(forged, 'SHA256SUMS.sig'), await attacker.sign(sums));
  const selfCheck = await verifyBundle(forged);
  assert.equal(selfCheck.ok, true);
  assert.equal(selfCheck.trust, 'integrity-only');
  assert.notEqual(selfCheck.signature.fingerprint, ed.info.fingerprint, 'the fingerprint printed differs from the producer\'s');
  const withKey = await verifyBundle(forged, { publicKeyPem: ed.publicKeyPem });
  assert.equal(withKey.ok, false);
  const withTrust = await verifyBundle(forged, { trustedFingerprints: [`SHA256:${ed.info.fingerprint.toUpperCase()}`] });
  assert.equal(withTrust.ok, false);
  assert.equal(withTrust.signature.trusted, false);
  const trusted = await verifyBundle(copy(), { trustedFingerprints: [ed.info.fingerprint.match(/../g)!.join(':')] });
  assert.equal(trusted.ok, true);
  assert.equal(trusted.trust, 'trusted-fingerprint');
});

test('a symlink in the bundle is reported and never followed', async () => {
  const dir = copy();
  const outside = join(tmp.dir, 'outside.txt');
  writeFileSync(outside, 'secret');
  symlinkSync(outside, join(dir, 'link.txt'));
  rmSync(join(dir, 'report.html'));
  symlinkSync(outside, join(dir, 'report.html'));
  const r = await verifyBundle(dir);
  assert.equal(r.ok, false);
  assert.deepEqual(r.special, ['link.txt', 'report.html']);
  assert.deepEqual(r.changed.map((c) => [c.path, c.reason]), [['report.html', 'not a regular file']]);

  // evidence/ swapped for a symlink to a copy elsewhere: the copy is intact, but it is not in the bundle.
  const dir2 = copy();
  const elsewhere = join(tmp.dir, `elsewhere-${n}`);
  cpSync(join(dir2, 'evidence'), elsewhere, { recursive: true });
  rmSync(join(dir2, 'evidence'), { recursive: true });
  symlinkSync(elsewhere, join(dir2, 'evidence'));
  const r2 = await verifyBundle(dir2);
  assert.equal(r2.ok, false);
  assert.deepEqual(r2.special, ['evidence']);
  assert.equal(r2.changed.length, 4);
  assert.match(r2.changed[0]!.reason!, /reached through evidence/);
  assert.equal(r2.intact, 4);
});

test('an ephemeral-key bundle is labelled in the report', async () => {
  const out = join(tmp.dir, 'eph');
  const signer = await loadSigner();
  await writeBundle({ outDir: out, files: { 'results.json': `${JSON.stringify({ signing: signer.info })}\n` }, evidence: sampleEvidence(), signer });
  const r = await verifyBundle(out);
  assert.equal(r.ok, true);
  assert.equal(r.bundleSigning?.ephemeral, true);
  assert.match(formatVerifyReport(r), /ephemeral key/);
});

test('not a directory, or an unusable --key, is an InputError', async () => {
  await assert.rejects(verifyBundle(join(tmp.dir, 'nope')), (e: unknown) => e instanceof InputError && e.code === 'E_VERIFY_NOT_BUNDLE');
  await assert.rejects(verifyBundle(copy(), { publicKeyPem: 'garbage', publicKeyLabel: 'k.pem' }), (e: unknown) => e instanceof InputError && e.details.file === 'k.pem');
  const dir = join(tmp.dir, 'empty-dir');
  mkdirSync(dir);
  const r = await verifyBundle(dir);
  assert.equal(r.ok, false);
  assert.equal(r.manifestPresent, false);
  assert.match(formatVerifyReport(r), /MISSING\s+SHA256SUMS/);
});
