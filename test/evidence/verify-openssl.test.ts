/**
 * Cross-check with independent tools: runs exactly the commands docs/verifying.md gives auditors (sha256sum, openssl,
 * base64), read from the document itself, on intact and tampered bundles, and compares with verifyBundle.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundle } from '../../src/evidence/bundle.js';
import { loadSigner, type Signer } from '../../src/evidence/signing.js';
import { verifyBundle } from '../../src/evidence/verify.js';
import { docCommands, runDocCommand } from '../support/verifying-doc.js';
import { sampleEvidence, tempDir, signedSamplePdf } from './support.js';


const cmd = docCommands();

const run = runDocCommand;

let tmp: ReturnType<typeof tempDir>;
const bundles: Record<string, string> = {};
const signers: Record<string, Signer> = {};

before(async () => {
  const pdf = await signedSamplePdf();
  tmp = tempDir();
  // Keys made by openssl itself, as a producer would.
  const gen = {
    ed25519: ['genpkey', '-algorithm', 'ed25519', '-out', join(tmp.dir, 'ed25519.pem')],
    ecdsa: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tmp.dir, 'ecdsa.pem')],
  };
  for (const [alg, args] of Object.entries(gen)) {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    signers[alg] = await loadSigner(join(tmp.dir, `${alg}.pem`));
    bundles[alg] = join(tmp.dir, `bundle-${alg}`);
    await writeBundle({
      outDir: bundles[alg]!,
      files: { 'results.json': '{"tool":"engram-audit"}\n', 'report.pdf': pdf },
      evidence: sampleEvidence(),
      signer: signers[alg]!,
    });
  }
});
after(() => tmp.cleanup());

let n = 0;
function copy(alg: string): string {
  const dir = join(tmp.dir, `case-${++n}`);
  cpSync(bundles[alg]!, dir, { recursive: true });
  return dir;
}

test('docs/verifying.md has every command the tests run', () => {
  for (const name of ['sha256sum', 'added', 'key-type', 'ed25519', 'ecdsa', 'base64', 'fingerprint']) assert.ok(cmd[name], name);
});

const verifyCmd = { ed25519: 'ed25519', ecdsa: 'ecdsa' } as const;
const okText = { ed25519: /Signature Verified Successfully/, ecdsa: /Verified OK/ } as const;
const badText = { ed25519: /Signature Verification Failure/, ecdsa: /Verification failure/ } as const;

for (const alg of ['ed25519', 'ecdsa'] as const) {
  test(`${alg}: an intact bundle passes sha256sum, the added-files check and openssl; the fingerprint matches`, async () => {
    const dir = copy(alg);
    const sums = run('sha256sum', dir);
    assert.equal(sums.status, 0, sums.out);
    assert.equal(sums.out.trim().split('\n').filter((l) => l.endsWith(': OK')).length, 7);
    const added = run('added', dir);
    assert.equal(added.status, 0, added.out);
    assert.equal(added.out, '');
    const type = run('key-type', dir);
    assert.match(type.out, alg === 'ed25519' ? /ED25519 Public-Key/ : /Public-Key: \(256 bit\)/);
    const sig = run(verifyCmd[alg], dir);
    assert.equal(sig.status, 0, sig.out);
    assert.match(sig.out, okText[alg]);
    const fp = run('fingerprint', dir);
    assert.equal(fp.out.split(/\s/)[0], signers[alg]!.info.fingerprint);
    assert.equal((await verifyBundle(dir)).ok, true);
  });

  test(`${alg}: sha256sum names a changed and a removed file; the added-files check names an added one`, async () => {
    const dir = copy(alg);
    const pdf = readFileSync(join(dir, 'report.pdf'));
    pdf[3] = pdf[3]! ^ 1;
    writeFileSync(join(dir, 'report.pdf'), pdf);
    rmSync(join(dir, 'evidence', 'microsoft.keyvault-vaults-0001.json'));
    writeFileSync(join(dir, 'evidence', 'planted.json'), '{}');
    const sums = run('sha256sum', dir);
    assert.equal(sums.status, 1);
    assert.match(sums.out, /report\.pdf: FAILED/);
    assert.match(sums.out, /evidence\/microsoft\.keyvault-vaults-0001\.json: FAILED open or read/);
    const added = run('added', dir);
    assert.equal(added.status, 1);
    assert.match(added.out, /< evidence\/planted\.json/);
    // The manifest itself is intact, so its signature still verifies: the two checks are both needed.
    assert.equal(run(verifyCmd[alg], dir).status, 0);
    const r = await verifyBundle(dir);
    assert.equal(r.ok, false);
    assert.deepEqual([r.changed.map((c) => c.path), r.removed, r.added], [['report.pdf'], ['evidence/microsoft.keyvault-vaults-0001.json'], ['evidence/planted.json']]);
  });

  test(`${alg}: an edited SHA256SUMS or a replaced signature fails openssl, as it fails verifyBundle`, async () => {
    const dir = copy(alg);
    writeFileSync(join(dir, 'results.json'), '{"tool":"engram-audit","forged":true}\n');
    const sums = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').split('\n');
    const i = sums.findIndex((l) => l.endsWith('  results.json'));
    const digest = spawnSync('sha256sum', ['results.json'], { cwd: dir, encoding: 'utf8' }).stdout.split(' ')[0];
    sums[i] = `${digest}  results.json`;
    writeFileSync(join(dir, 'SHA256SUMS'), sums.join('\n'));
    assert.equal(run('sha256sum', dir).status, 0, 'the forged manifest matches the forged file');
    const sig = run(verifyCmd[alg], dir);
    assert.equal(sig.status, 1);
    assert.match(sig.out, badText[alg]);
    assert.equal((await verifyBundle(dir)).signature.valid, false);

    // A signature by another key of the same algorithm, made by openssl: openssl must reject it for the bundle's key.
    const dir2 = copy(alg);
    const otherKey = join(tmp.dir, `other-${alg}-${n}.pem`);
    const gen = alg === 'ed25519' ? ['-algorithm', 'ed25519'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    assert.equal(spawnSync('openssl', ['genpkey', ...gen, '-out', otherKey]).status, 0);
    const other = await loadSigner(otherKey);
    writeFileSync(join(dir2, 'SHA256SUMS.sig'), await other.sign(readFileSync(join(dir2, 'SHA256SUMS'))));
    const sig2 = run(verifyCmd[alg], dir2);
    assert.equal(sig2.status, 1, sig2.out);
    assert.equal((await verifyBundle(dir2)).signature.valid, false);
  });

  test(`${alg}: a base64 signature decoded with the documented command verifies with openssl`, async () => {
    const dir = copy(alg);
    writeFileSync(join(dir, 'SHA256SUMS.sig.b64'), `${readFileSync(join(dir, 'SHA256SUMS.sig')).toString('base64')}\n`);
    rmSync(join(dir, 'SHA256SUMS.sig'));
    assert.equal((await verifyBundle(dir)).ok, true, 'verifyBundle reads the .b64 form directly');
    const dec = run('base64', dir);
    assert.equal(dec.status, 0, dec.out);
    const sig = run(verifyCmd[alg], dir);
    assert.equal(sig.status, 0, sig.out);
    assert.match(sig.out, okText[alg]);
  });
}

test('signatures made by openssl over SHA256SUMS verify with verifyBundle (Ed25519 byte-identical to ours)', async () => {
  const ed = copy('ed25519');
  const r1 = spawnSync('openssl', ['pkeyutl', '-sign', '-inkey', join(tmp.dir, 'ed25519.pem'), '-rawin', '-in', 'SHA256SUMS', '-out', 'openssl.sig'], { cwd: ed });
  assert.equal(r1.status, 0, String(r1.stderr));
  assert.ok(readFileSync(join(ed, 'openssl.sig')).equals(readFileSync(join(ed, 'SHA256SUMS.sig'))), 'Ed25519 is deterministic');
  const ec = copy('ecdsa');
  const r2 = spawnSync('openssl', ['dgst', '-sha256', '-sign', join(tmp.dir, 'ecdsa.pem'), '-out', join(tmp.dir, 'ec-openssl.sig'), 'SHA256SUMS'], { cwd: ec });
  assert.equal(r2.status, 0, String(r2.stderr));
  writeFileSync(join(ec, 'SHA256SUMS.sig'), readFileSync(join(tmp.dir, 'ec-openssl.sig')));
  const report = await verifyBundle(ec);
  assert.equal(report.ok, true, report.problems.join('; '));
});
