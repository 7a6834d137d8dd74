import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../../src/errors.js';
import { writeBundle, walkFiles } from '../../src/evidence/bundle.js';
import { serializeEvidence } from '../../src/evidence/serialize.js';
import { loadSigner, verifyWithKey, type Signer } from '../../src/evidence/signing.js';
import { ACCOUNT_KEY, sampleEvidence, tempDir, writeKeyFiles } from './support.js';

let tmp: ReturnType<typeof tempDir>;
let keys: ReturnType<typeof writeKeyFiles>;
before(() => {
  tmp = tempDir();
  keys = writeKeyFiles(tmp.dir);
});
after(() => tmp.cleanup());

const files = () => ({
  'results.json': '{"tool":"engram-audit"}\n',
  'report.html': '<!doctype html><title>r</title>\n',
  'report.pdf': Buffer.from('%PDF-1.7\n%\u00e2\u00e3\n', 'latin1'),
});

/** Entries in the parent directory that are not the bundles we expect: temp and aside directories left behind. */
function leftovers(parent: string): string[] {
  return readdirSync(parent).filter((n) => /\.tmp-|\.old-/.test(n));
}

test('writeBundle writes the files, evidence/, the public key, SHA256SUMS and its signature', async () => {
  const out = join(tmp.dir, 'out', 'bundle');
  const signer = await loadSigner(keys.ed25519);
  const summary = await writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer, now: new Date('2026-01-02T03:04:05Z') });
  assert.equal(summary.outDir, out);
  const { files: onDisk } = await walkFiles(out);
  assert.deepEqual(onDisk, [
    'SHA256SUMS',
    'SHA256SUMS.sig',
    'evidence/index.json',
    'evidence/microsoft.dbforpostgresql-flexibleservers-0001.json',
    'evidence/microsoft.keyvault-vaults-0001.json',
    'evidence/microsoft.storage-storageaccounts-0001.json',
    'report.html',
    'report.pdf',
    'results.json',
    'signing-key.pub.pem',
  ]);
  const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
  const lines = sums.trimEnd().split('\n');
  assert.equal(lines.length, onDisk.length - 2, 'every file but SHA256SUMS and its signature');
  const paths = lines.map((l) => l.slice(66));
  assert.deepEqual(paths, [...paths].sort(), 'sorted');
  for (const l of lines) {
    assert.match(l, /^[0-9a-f]{64} {2}\S+$/);
    const p = l.slice(66);
    assert.equal(l.slice(0, 64), createHash('sha256').update(readFileSync(join(out, p))).digest('hex'), p);
  }
  assert.deepEqual(summary.files.map((f) => f.path), paths);
  assert.equal(summary.evidence.length, 4);
  assert.ok(verifyWithKey(createPublicKey(readFileSync(join(out, 'signing-key.pub.pem'), 'utf8')), Buffer.from(sums), readFileSync(join(out, 'SHA256SUMS.sig'))));
  assert.equal(summary.signing.fingerprint, signer.info.fingerprint);
  assert.equal(statSync(join(out, 'report.pdf')).mtime.toISOString(), '2026-01-02T03:04:05.000Z');
  assert.deepEqual(leftovers(join(tmp.dir, 'out')), []);
});

test('the same inputs and key give byte-identical bundles; a pre-serialised evidence set gives the same bytes', async () => {
  const signer = await loadSigner(keys.ed25519);
  const a = await writeBundle({ outDir: join(tmp.dir, 'same-a'), files: files(), evidence: sampleEvidence(), signer });
  const b = await writeBundle({ outDir: join(tmp.dir, 'same-b'), files: files(), evidence: serializeEvidence(sampleEvidence()), signer });
  assert.deepEqual(a.files, b.files);
  assert.deepEqual(a.manifest, b.manifest);
  assert.deepEqual(a.signature, b.signature, 'Ed25519 signatures are deterministic');
});

test('an ephemeral key is labelled and its private key is nowhere in the bundle', async () => {
  const out = join(tmp.dir, 'ephemeral');
  const signer = await loadSigner();
  const summary = await writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer });
  assert.equal(summary.signing.ephemeral, true);
  assert.equal(summary.signing.keySource, 'ephemeral');
  const { files: all } = await walkFiles(out);
  for (const f of all) {
    const text = readFileSync(join(out, f), 'latin1');
    assert.ok(!/PRIVATE KEY/.test(text), `${f} holds no private key`);
  }
  assert.ok(!readdirSync(tmp.dir).some((n) => /\.pem$/.test(n) && !Object.values(keys).some((k) => k.endsWith(n))), 'no key file written beside it');
});

test('a file whose content throws while the bundle is written leaves no outDir and no temporary directory', async () => {
  const parent = join(tmp.dir, 'fail-write');
  mkdirSync(parent);
  const out = join(parent, 'bundle');
  const f: Record<string, string | Buffer> = { 'a-first.json': '{}\n' };
  Object.defineProperty(f, 'b-report.pdf', { enumerable: true, get: () => { throw new Error('renderer crashed'); } });
  f['c-last.html'] = '<p>x</p>';
  await assert.rejects(writeBundle({ outDir: out, files: f, evidence: sampleEvidence(), signer: await loadSigner() }), /renderer crashed/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(parent), []);
});

test('a signer that fails (e.g. Key Vault unreachable) leaves no outDir, no temp dir, and an old bundle untouched', async () => {
  const parent = join(tmp.dir, 'fail-sign');
  const out = join(parent, 'bundle');
  const good = await loadSigner(keys.ecdsa);
  await writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer: good });
  const before = readFileSync(join(out, 'SHA256SUMS'));
  const failing: Signer = { ...good, sign: async () => { throw new Error('vault unreachable'); } };
  await assert.rejects(writeBundle({ outDir: out, files: { ...files(), 'results.json': '{"changed":true}\n' }, evidence: sampleEvidence(), signer: failing }), /vault unreachable/);
  assert.ok(readFileSync(join(out, 'SHA256SUMS')).equals(before), 'previous bundle unchanged');
  assert.deepEqual(leftovers(parent), []);
});

test('an existing previous bundle is replaced; anything else at outDir is refused and left alone', async () => {
  const parent = join(tmp.dir, 'replace');
  const out = join(parent, 'bundle');
  const signer = await loadSigner(keys.ed25519);
  await writeBundle({ outDir: out, files: { ...files(), 'old-only.txt': 'old\n' }, evidence: sampleEvidence(), signer });
  const s2 = await writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer });
  assert.equal(s2.replacedPrevious, true);
  assert.equal(existsSync(join(out, 'old-only.txt')), false, 'the old bundle is gone, not merged');
  assert.deepEqual(leftovers(parent), []);

  // A user's file inside the old bundle: refuse, keep everything.
  writeFileSync(join(out, 'my-notes.txt'), 'mine\n');
  await assert.rejects(writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.code, 'E_OUT_EXISTS');
    assert.equal(e.details.file, out);
    assert.match(e.message, /my-notes\.txt/);
    return true;
  });
  assert.equal(readFileSync(join(out, 'my-notes.txt'), 'utf8'), 'mine\n');

  // A directory that is not a bundle, and a plain file.
  const other = join(parent, 'src');
  mkdirSync(other);
  writeFileSync(join(other, 'main.ts'), 'code');
  await assert.rejects(writeBundle({ outDir: other, files: files(), evidence: sampleEvidence(), signer }), /not an engram-audit bundle/);
  assert.equal(readFileSync(join(other, 'main.ts'), 'utf8'), 'code');
  const plain = join(parent, 'file.txt');
  writeFileSync(plain, 'x');
  await assert.rejects(writeBundle({ outDir: plain, files: files(), evidence: sampleEvidence(), signer }), /not a directory/);

  // An empty directory is fine.
  const empty = join(parent, 'empty');
  mkdirSync(empty);
  await writeBundle({ outDir: empty, files: files(), evidence: sampleEvidence(), signer });
  assert.ok(existsSync(join(empty, 'SHA256SUMS')));
  assert.deepEqual(leftovers(parent), []);
});

test('bad file names are usage errors and nothing is written', async () => {
  const signer = await loadSigner();
  const out = join(tmp.dir, 'bad-names');
  for (const name of ['../escape.txt', '/abs.txt', 'SHA256SUMS', 'signing-key.pub.pem', 'evidence/x.json', 'a b.txt', '.hidden', 'x/../y']) {
    await assert.rejects(writeBundle({ outDir: out, files: { [name]: 'x' }, evidence: sampleEvidence(), signer }), (e: unknown) => e instanceof UsageError, name);
  }
  await assert.rejects(writeBundle({ outDir: out, files: { a: 'x', 'a/b': 'y' }, evidence: sampleEvidence(), signer }), /both a file and a directory/);
  assert.equal(existsSync(out), false);
});

test('evidence is redacted again as it is written: a secret the caller missed never reaches disk', async () => {
  const out = join(tmp.dir, 'secrets');
  // sampleEvidence() is not redacted (a connection string sits in a tag): the writer is the last line of defence.
  await writeBundle({ outDir: out, files: files(), evidence: sampleEvidence(), signer: await loadSigner() });
  const { files: all } = await walkFiles(out);
  for (const f of all) assert.ok(!readFileSync(join(out, f), 'latin1').includes(ACCOUNT_KEY), f);
  const st = JSON.parse(readFileSync(join(out, 'evidence/microsoft.storage-storageaccounts-0001.json'), 'utf8'));
  assert.match(st.documents.find((d: { id: string }) => !d.id.includes('/blobServices') && !d.id.includes('/probes')).tags.note, /AccountKey=\[REDACTED\]/);
  assert.equal(st.provenance[0].redacted, true);
});
