/**
 * The auditor's view: bundles made by the whole pipeline (scan of the demo replay, through the CLI) are checked with
 * exactly the commands docs/verifying.md prints (read from the document), with sha256sum, openssl and pdfsig only, intact
 * and after a one-byte change; and `engram-audit verify` agrees. RSA key (PDF signed with the bundle key), a PKCS#12
 * file, and the default ephemeral Ed25519 key (PDF signed by a labelled ephemeral RSA identity).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { verifyBundle } from '../../src/evidence/verify.js';
import { runDocCommand } from '../support/verifying-doc.js';
import { runCli, tempDir } from '../support/cli.js';


const run = runDocCommand;

const work = tempDir('engram-auditor-');
const bundles: Record<'rsa' | 'p12' | 'ephemeral', string> = { rsa: '', p12: '', ephemeral: '' };
let n = 0;
const copy = (b: string): string => {
  const dir = join(work, `case-${++n}`);
  cpSync(b, dir, { recursive: true });
  return dir;
};
const fingerprintOf = (dir: string): string => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).signing.fingerprint;

before(async () => {
  const key = join(work, 'rsa.pem');
  assert.equal(spawnSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]).status, 0);
  const scan = ['--control', 'AI-SEC-01', '--replay', 'fixtures/demo/replay', '--format', 'json,pdf'];
  const rsa = await runCli([...scan, '--out', join(work, 'rsa'), '--sign-key', key, '--org', 'Contoso AI']);
  assert.equal(rsa.code, 1, rsa.stderr);
  bundles.rsa = join(work, 'rsa');

  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0c';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2031-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'Contoso PKCS12 signer' }]);
  cert.setIssuer([{ name: 'commonName', value: 'Contoso PKCS12 signer' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const p12 = join(work, 'signer.p12');
  writeFileSync(p12, Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(keys.privateKey, [cert], 's3cret', { algorithm: '3des' })).getBytes(), 'binary'));
  const viaP12 = await runCli([...scan, '--out', join(work, 'p12'), '--sign-p12', p12, '--sign-passphrase-env', 'P12_PASS'], {
    env: { PATH: process.env.PATH, P12_PASS: 's3cret' },
  });
  assert.equal(viaP12.code, 1, viaP12.stderr);
  bundles.p12 = join(work, 'p12');

  const eph = await runCli([...scan, '--out', join(work, 'ephemeral')]);
  assert.equal(eph.code, 1, eph.stderr);
  bundles.ephemeral = join(work, 'ephemeral');
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('docs/verifying.md commands on pipeline bundles', () => {
  it('RSA key: sha256sum, the added-files check, openssl, the fingerprint, pdfsig, the PDF key and the DSSE script all pass', async () => {
    const dir = copy(bundles.rsa);
    assert.equal(run('sha256sum', dir).status, 0);
    assert.equal(run('added', dir).status, 0);
    assert.match(run('key-type', dir).out, /Public-Key: \(2048 bit\)/);
    const sig = run('rsa', dir);
    assert.equal(sig.status, 0, sig.out);
    assert.match(sig.out, /Verified OK/);
    const fp = fingerprintOf(dir);
    assert.equal(run('fingerprint', dir).out.split(/\s/)[0], fp);
    const pdf = run('pdfsig', dir);
    assert.match(pdf.out, /Signature Validation: Signature is Valid\./);
    assert.match(pdf.out, /Contoso AI evidence signer/);
    assert.equal(run('pdfsig-check', dir).status, 0);
    assert.equal(run('pdf-key', dir).out.split(/\s/)[0], fp, 'the PDF is signed with the bundle key');
    const dsse = run('dsse', dir);
    assert.equal(dsse.status, 0, dsse.out);
    assert.match(dsse.out, /Verified OK/);
    assert.match(dsse.out, /report\.pdf: OK/);
    assert.equal(run('added', dir).status, 0, 'the documented commands leave nothing behind in the bundle');
    const report = await verifyBundle(dir, { trustedFingerprints: [fp] });
    assert.equal(report.ok, true, report.problems.join('; '));
    assert.equal(report.trust, 'trusted-fingerprint');
    assert.equal(report.pdf?.valid, true);
    assert.deepEqual(report.pdf?.checkedBy, ['node-forge', 'pdfsig']);
    assert.equal(report.pdf?.signedByBundleKey, true);
    assert.equal(report.dsse.valid, true);
  });

  it('one byte changed in report.pdf: sha256sum FAILED, pdfsig Digest Mismatch, the DSSE script fails, verify names both', async () => {
    const dir = copy(bundles.rsa);
    const file = join(dir, 'report.pdf');
    const pdf = readFileSync(file);
    const at = pdf.indexOf(Buffer.from('/Type /Page')) + 2;
    pdf[at] = pdf[at]! ^ 0x01;
    writeFileSync(file, pdf);
    assert.match(run('sha256sum', dir).out, /report\.pdf: FAILED/);
    assert.match(run('pdfsig', dir).out, /Digest Mismatch/);
    assert.equal(run('pdfsig-check', dir).status, 1);
    const dsse = run('dsse', dir);
    assert.notEqual(dsse.status, 0);
    assert.match(dsse.out, /report\.pdf: FAILED/);
    const report = await verifyBundle(dir);
    assert.equal(report.ok, false);
    assert.deepEqual(report.changed.map((c) => c.path), ['report.pdf']);
    assert.equal(report.pdf?.valid, false);
    assert.match(report.pdf?.error ?? '', /digest mismatch|Digest Mismatch/i);
    assert.ok(report.dsse.mismatches.some((m) => m.startsWith('report.pdf:')));
  });

  it('a forger who re-signs SHA256SUMS with their own key passes integrity only; the trusted fingerprint and --key catch it', async () => {
    const dir = copy(bundles.rsa);
    const forgedKey = join(work, 'forged.pem');
    assert.equal(spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', forgedKey]).status, 0);
    writeFileSync(join(dir, 'results.json'), readFileSync(join(dir, 'results.json'), 'utf8').replace('"fail"', '"pass"'));
    spawnSync('bash', ['-c', `openssl pkey -in ${forgedKey} -pubout -out signing-key.pub.pem && grep -v -E '  (results.json|signing-key.pub.pem)$' SHA256SUMS > s && sha256sum results.json signing-key.pub.pem >> s && LC_ALL=C sort -k2 s > SHA256SUMS && rm s && openssl pkeyutl -sign -inkey ${forgedKey} -rawin -in SHA256SUMS -out SHA256SUMS.sig`], { cwd: dir });
    assert.equal(run('sha256sum', dir).status, 0);
    assert.equal(run('ed25519', dir).status, 0, 'the forgery is self-consistent');
    const original = fingerprintOf(bundles.rsa);
    assert.notEqual(run('fingerprint', dir).out.split(/\s/)[0], original, 'the fingerprint step exposes it');
    const report = await verifyBundle(dir, { trustedFingerprints: [original] });
    assert.equal(report.ok, false);
    assert.equal(report.signature.trusted, false);
    assert.equal(report.dsse.valid, false, 'the DSSE envelope was signed by the original key');
    const cli = await runCli(['verify', dir, '--fingerprint', original]);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /NOT one of the trusted fingerprints/);
  });

  it('PKCS#12: the bundle and the PDF are signed by the certificate key', async () => {
    const dir = copy(bundles.p12);
    assert.equal(run('rsa', dir).status, 0);
    const pdf = run('pdfsig', dir);
    assert.match(pdf.out, /Signature is Valid/);
    assert.match(pdf.out, /Contoso PKCS12 signer/);
    assert.equal(run('pdf-key', dir).out.split(/\s/)[0], fingerprintOf(dir));
    assert.equal(run('dsse', dir).status, 0);
    const cli = await runCli(['verify', dir]);
    assert.equal(cli.code, 0, cli.stdout);
    assert.match(cli.stdout, /PDF signature: valid \(report\.pdf, checked by node-forge and pdfsig\), signed with the bundle key/);
    assert.match(cli.stdout, /DSSE attestation: valid/);
  });

  it('ephemeral Ed25519: openssl pkeyutl verifies; the PDF carries a labelled ephemeral RSA signature, not the bundle key', async () => {
    const dir = copy(bundles.ephemeral);
    assert.match(run('key-type', dir).out, /ED25519/);
    assert.match(run('ed25519', dir).out, /Signature Verified Successfully/);
    const pdf = run('pdfsig', dir);
    assert.match(pdf.out, /Signature is Valid/);
    assert.match(pdf.out, /engram-audit ephemeral PDF signer \(integrity only\)/);
    assert.notEqual(run('pdf-key', dir).out.split(/\s/)[0], fingerprintOf(dir));
    const dsse = run('dsse', dir);
    assert.equal(dsse.status, 0, dsse.out);
    assert.match(dsse.out, /Signature Verified Successfully/);
    const report = await verifyBundle(dir);
    assert.equal(report.ok, true, report.problems.join('; '));
    assert.equal(report.pdf?.signedByBundleKey, false);
    const text = spawnSync('pdftotext', [join(dir, 'report.pdf'), '-'], { encoding: 'utf8' }).stdout;
    assert.match(text, /EPHEMERAL PDF signing identity/);
  });
});

describe('signing flags', () => {
  const scan = ['--control', 'AI-SEC-01', '--replay', 'fixtures/demo/replay', '--format', 'json'];
  it('refuse contradictory or incomplete combinations with a usage error that names the flag', async () => {
    const ed = join(work, 'ed.pem');
    assert.equal(spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', ed]).status, 0);
    const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
      [['--sign-key', ed, '--sign-p12', 'x.p12'], /--sign-key and --sign-p12 cannot be combined/],
      [['--sign-p12', 'x.p12'], /--sign-p12 needs --sign-passphrase-env/],
      [['--sign-p12', 'x.p12', '--sign-passphrase-env', 'NOPE_UNSET'], /NOPE_UNSET, which is not set/],
      [['--sign-cert', 'c.pem'], /--sign-cert needs --sign-key/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli([...scan, '--out', join(work, `never-${++n}`), ...flags]);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const cert = join(work, 'ed-cert.pem');
    assert.equal(spawnSync('openssl', ['req', '-x509', '-new', '-key', ed, '-subj', '/CN=ed', '-days', '1', '-out', cert]).status, 0);
    const r = await runCli([...scan, '--out', join(work, `never-${++n}`), '--sign-key', ed, '--sign-cert', cert]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--sign-cert needs an RSA --sign-key; this key is ed25519/);
  });

  it('a wrong PKCS#12 passphrase is an input error naming the file; the passphrase never appears in output', async () => {
    const r = await runCli([...scan, '--out', join(work, `never-${++n}`), '--sign-p12', join(work, 'signer.p12'), '--sign-passphrase-env', 'P12_PASS'], {
      env: { PATH: process.env.PATH, P12_PASS: 'wrong-horse-battery' },
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /signer\.p12/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('wrong-horse-battery'));
  });
});
