import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import forge from 'node-forge';
import { identityFromP12, identityFromPem, signPdf } from '../../src/evidence/pdf-sign.js';
import { InputError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdf-sign-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function samplePdf(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.setTitle('engram-audit sample');
  const page = doc.addPage();
  page.drawText('AI-SEC-01 Data encryption: FAIL', { x: 50, y: 700, font: await doc.embedFont(StandardFonts.Helvetica) });
  return Buffer.from(await doc.save());
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const info = { reason: 'engram-audit evidence packet', location: 'pipeline', contactInfo: 'sre@example.com', name: 'engram-audit', signingTime: new Date('2026-11-28T09:00:00Z') };

function pdfsig(file: string): string {
  // pdfsig exits 0 whether or not the signature is valid: read its output.
  return execFileSync('pdfsig', [file], { encoding: 'utf8' });
}

test('a PEM RSA key with a self-signed certificate gives a signature pdfsig reports as valid', async () => {
  const identity = identityFromPem(rsaPem, { commonName: 'Contoso audit signer', now: info.signingTime });
  assert.equal(identity.selfSigned, true);
  const signed = await signPdf(await samplePdf(), identity, info);
  const file = join(dir, 'signed.pdf');
  writeFileSync(file, signed);
  const out = pdfsig(file);
  assert.match(out, /Signature is Valid/);
  assert.match(out, /Contoso audit signer/);
  assert.ok(!signed.includes(Buffer.from(identity.passphrase)), 'the p12 passphrase is not in the PDF');
  assert.match(execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }), /AI-SEC-01/);
});

test('any one-byte change inside the signed range is a digest mismatch', async () => {
  const identity = identityFromPem(rsaPem, { now: info.signingTime });
  const signed = await signPdf(await samplePdf(), identity, info);
  const at = signed.indexOf(Buffer.from('AI-SEC-01')) >= 0 ? signed.indexOf(Buffer.from('/Title')) : 200;
  const tampered = Buffer.from(signed);
  tampered[at + 1] = tampered[at + 1] ^ 0x01;
  const file = join(dir, 'tampered.pdf');
  writeFileSync(file, tampered);
  assert.match(pdfsig(file), /Digest Mismatch/);
});

test('a PKCS#12 file works as well', async () => {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0a';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2030-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'P12 signer' }]);
  cert.setIssuer([{ name: 'commonName', value: 'P12 signer' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const p12 = Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(keys.privateKey, [cert], 'pw', { algorithm: '3des' })).getBytes(), 'binary');
  const identity = identityFromP12(p12, 'pw');
  assert.equal(identity.commonName, 'P12 signer');
  const file = join(dir, 'p12.pdf');
  writeFileSync(file, await signPdf(await samplePdf(), identity, info));
  assert.match(pdfsig(file), /Signature is Valid/);
  assert.throws(() => identityFromP12(p12, 'wrong', 'signer.p12'), (e: unknown) => e instanceof InputError && /signer\.p12/.test(e.format()));
});

test('a non-RSA key is refused with a message that says how to make an RSA key', () => {
  const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => identityFromPem(ed, { file: 'ed.pem' }), (e: unknown) => e instanceof InputError && /RSA/.test(e.message) && /ed\.pem/.test(e.format()));
});
