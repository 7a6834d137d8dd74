/**
 * PDF signatures: embeds a PKCS#7 detached signature (adbe.pkcs7.detached) in report.pdf so that any PDF reader and
 * `pdfsig` can check it. Uses @signpdf (placeholder via pdf-lib, signature via node-forge); RSA keys, from a PEM key
 * (with a self-signed certificate made for it when none is given) or a PKCS#12 file.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { PDFDocument } from 'pdf-lib';
import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { SignPdf } from '@signpdf/signpdf';
import { P12Signer } from '@signpdf/signer-p12';
import { InputError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import { applyPdfMetadata, type PdfMetadata } from '../reporters/pdf-metadata.js';


export interface PdfSignerIdentity {
  /** PKCS#12 bytes holding the RSA key and its certificate. */
  p12: Buffer;
  passphrase: string;
  /** Certificate subject common name, shown by PDF readers. */
  commonName: string;
  /** SHA-256 of the certificate (DER), hex: what pdfsig and readers show as the signer. */
  certificateSha256: string;
  selfSigned: boolean;
}

export interface PdfSignInfo {
  reason: string;
  location: string;
  contactInfo: string;
  name: string;
  signingTime?: Date;
}

/**
 * Builds a signing identity from an RSA private key in PEM, with an optional certificate in PEM. Without a certificate
 * a self-signed one (CN = `commonName`, valid 1 year from `now`) is made for the key.
 */
export function identityFromPem(
  privateKeyPem: string,
  options: { certificatePem?: string; commonName?: string; now?: Date; file?: string } = {},
): PdfSignerIdentity {
  let key: forge.pki.rsa.PrivateKey;
  try {
    const pkcs8 = createPrivateKey(privateKeyPem).export({ format: 'pem', type: 'pkcs1' }) as string;
    key = forge.pki.privateKeyFromPem(pkcs8);
  } catch (err) {
    throw new InputError('E_PDF_KEY', `the PDF signature needs an RSA private key: ${(err as Error).message}`, {
      file: options.file,
      hint: 'Create one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out key.pem',
    });
  }
  const commonName = options.commonName ?? 'engram-audit evidence signer';
  let cert: forge.pki.Certificate;
  let selfSigned = false;
  if (options.certificatePem) {
    cert = forge.pki.certificateFromPem(options.certificatePem);
    const certKey = createPublicKey(forge.pki.publicKeyToPem(cert.publicKey as forge.pki.rsa.PublicKey)).export({ type: 'spki', format: 'der' });
    const ourKey = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' });
    if (!Buffer.from(certKey).equals(Buffer.from(ourKey))) {
      throw new InputError('E_PDF_CERT_MISMATCH', 'the certificate does not belong to the signing key', {
        file: options.file,
        hint: 'Pass the certificate issued for this key with --sign-cert, or omit it to get a self-signed one.',
      });
    }
  } else {
    selfSigned = true;
    const now = options.now ?? new Date();
    cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
    cert.validity.notBefore = new Date(now.getTime() - 60_000);
    cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3600 * 1000);
    const attrs = [
      { name: 'commonName', value: commonName },
      { name: 'organizationName', value: 'engram-audit' },
    ];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
    ]);
    cert.sign(key, forge.md.sha256.create());
  }
  const passphrase = randomBytes(16).toString('hex');
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [cert], passphrase, { algorithm: '3des' });
  const p12 = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { p12, passphrase, commonName: String(cert.subject.getField('CN')?.value ?? commonName), certificateSha256: sha256Hex(der), selfSigned };
}

/** Reads a PKCS#12 file (RSA key + certificate) as a signing identity. */
export function identityFromP12(p12: Buffer, passphrase: string, file?: string): PdfSignerIdentity {
  try {
    const asn1 = forge.asn1.fromDer(p12.toString('binary'));
    const parsed = forge.pkcs12.pkcs12FromAsn1(asn1, passphrase);
    const bags = parsed.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];
    const cert = bags[0]?.cert;
    if (!cert) throw new Error('no certificate inside');
    const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
    return {
      p12,
      passphrase,
      commonName: String(cert.subject.getField('CN')?.value ?? ''),
      certificateSha256: sha256Hex(der),
      selfSigned: cert.isIssuer(cert),
    };
  } catch (err) {
    throw new InputError('E_PDF_P12', `cannot read the PKCS#12 file: ${(err as Error).message}`, {
      file,
      hint: 'Check the passphrase (environment variable named by --sign-passphrase-env) and that the file holds an RSA key and certificate.',
    });
  }
}

/** The RSA private key inside a PKCS#12 file, as PKCS#8 PEM (kept in memory only; never written). */
export function p12PrivateKeyPem(p12: Buffer, passphrase: string, file?: string): string {
  try {
    const parsed = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(p12.toString('binary')), passphrase);
    const oid = forge.pki.oids.pkcs8ShroudedKeyBag;
    const bag = parsed.getBags({ bagType: oid })[oid]?.[0] ?? parsed.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag]?.[0];
    if (!bag?.key) throw new Error('no private key inside');
    return forge.pki.privateKeyToPem(bag.key as forge.pki.rsa.PrivateKey);
  } catch (err) {
    throw new InputError('E_PDF_P12', `cannot read the key in the PKCS#12 file: ${(err as Error).message}`, {
      file,
      hint: 'Check the passphrase (environment variable named by --sign-passphrase-env) and that the file holds an RSA key and certificate.',
    });
  }
}

/** SHA-256 (hex) of the DER SubjectPublicKeyInfo of the identity's certificate: compare with the bundle fingerprint. */
export function identityKeyFingerprint(identity: PdfSignerIdentity): string {
  const parsed = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(identity.p12.toString('binary')), identity.passphrase);
  const cert = parsed.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag]?.[0]?.cert;
  if (!cert) return '';
  const pem = forge.pki.publicKeyToPem(cert.publicKey as forge.pki.rsa.PublicKey);
  return sha256Hex(createPublicKey(pem).export({ type: 'spki', format: 'der' }));
}

/** Returns `pdf` with an embedded PKCS#7 detached signature by `identity`. */
export async function signPdf(
  pdf: Buffer,
  identity: PdfSignerIdentity,
  info: PdfSignInfo,
  documentInfo?: { title: string; metadata: PdfMetadata },
): Promise<Buffer> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  // Setting the document information here, in the pass that adds the placeholder, spares a second parse of the PDF.
  if (documentInfo) applyPdfMetadata(doc, documentInfo.title, documentInfo.metadata);
  pdflibAddPlaceholder({
    pdfDoc: doc,
    reason: info.reason,
    contactInfo: info.contactInfo,
    name: info.name,
    location: info.location,
    signingTime: info.signingTime,
    signatureLength: 16384,
    appName: 'engram-audit',
  });
  const withPlaceholder = Buffer.from(await doc.save({ useObjectStreams: false, updateFieldAppearances: false }));
  const signer = new P12Signer(identity.p12, { passphrase: identity.passphrase });
  return new SignPdf().sign(withPlaceholder, signer, info.signingTime);
}
