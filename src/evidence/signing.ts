/**
 * Signing keys: the Signer interface every key source implements (local PEM, PKCS#12, Azure Key Vault), loading a local
 * Ed25519 / ECDSA P-256 / RSA key, the ephemeral key, fingerprints and signature checks, and the RSA identity that signs
 * the PDF. Formats are fixed in docs/decisions/0001-signature-format.md and 0003-pdf-and-rsa-signatures.md so one
 * `openssl` command verifies them.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import type { SigningInfo } from '../model.js';
import { sha256Hex } from '../util/hash.js';
import { identityFromP12, identityFromPem, p12PrivateKeyPem, type PdfSignerIdentity } from './pdf-sign.js';
import type { KeyVaultSignerOptions } from './keyvault-signer.js';

/**
 * Something that signs bytes. `sign` receives the exact bytes to sign (SHA256SUMS, later a DSSE PAE) and returns the
 * signature in the encoding `info.algorithm` implies:
 * - `ed25519`: the 64-byte raw signature (RFC 8032, pure Ed25519 over the bytes);
 * - `ecdsa-p256`: a DER `ECDSA-Sig-Value` over SHA-256 of the bytes (what `openssl dgst -sha256 -verify` reads);
 * - `rsa`: RSASSA-PKCS1-v1_5 with SHA-256 (docs/decisions/0003-pdf-and-rsa-signatures.md).
 * A remote signer (Key Vault's CryptographyClient.sign, which takes a digest and returns raw r||s for ES256) hashes the
 * bytes itself and converts to these encodings, so verification never depends on where the key lives.
 */
export interface Signer {
  info: SigningInfo;
  /** SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), written into the bundle. */
  publicKeyPem: string;
  sign(data: Buffer): Promise<Buffer>;
  /**
   * The RSA identity (key + X.509 certificate, as PKCS#12) that signs report.pdf with this same key. Present only for
   * local RSA keys and PKCS#12 files: Ed25519 and ECDSA keys cannot sign a PDF that pdfsig and readers check, and a
   * Key Vault key never leaves the vault. Without it the pipeline signs the PDF with {@link ephemeralPdfIdentity}.
   */
  pdfIdentity?(options: { now: Date; commonName?: string }): PdfSignerIdentity;
}

/** Options for {@link loadSigner}. */
export interface LoadSignerOptions {
  /** Passphrase for an encrypted PEM key. Without it an encrypted key is refused with a hint. */
  passphrase?: string;
  /** An X.509 certificate (PEM) for an RSA `--sign-key`, used for the PDF signature instead of a self-signed one. */
  certificatePem?: string;
  /** Where the certificate came from, for messages. */
  certificateFile?: string;
  /** Options for an `azurekeyvault://` key (credential, endpoint override, TLS agent for tests). */
  keyVault?: KeyVaultSignerOptions;
}

/** Algorithms a local key may have. */
export type LocalAlgorithm = 'ed25519' | 'ecdsa-p256' | 'rsa';

/** Smallest RSA modulus we sign with (NIST SP 800-57: 2048 bits until 2030). */
export const MIN_RSA_BITS = 2048;

/**
 * The fingerprint of a public key: SHA-256 of its DER SubjectPublicKeyInfo, lower-case hex without colons. The same
 * value `openssl pkey -pubin -in KEY.pub.pem -outform DER | sha256sum` prints.
 */
export function publicKeyFingerprint(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' }));
}

/** Normalises a fingerprint someone typed or pasted: drops `sha256:` and colons or spaces, lower-cases. */
export function normaliseFingerprint(fp: string): string {
  return fp
    .trim()
    .replace(/^sha256:/i, '')
    .replace(/[\s:]/g, '')
    .toLowerCase();
}

/** The algorithm of a key, or undefined when it is not one we sign or verify with. */
export function keyAlgorithm(key: KeyObject): LocalAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS) return 'rsa';
  return undefined;
}

function describeKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') return `an EC key on curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}`;
  if (key.asymmetricKeyType === 'rsa') return `an RSA key (${key.asymmetricKeyDetails?.modulusLength ?? '?'} bits)`;
  return `a ${key.asymmetricKeyType ?? 'unknown'} key`;
}

/** Signs `data` with a local private key in the encoding {@link Signer} documents. */
export function signWithKey(key: KeyObject, data: Buffer): Buffer {
  const alg = keyAlgorithm(key);
  if (alg === 'ed25519') return cryptoSign(null, data, key);
  if (alg === 'ecdsa-p256') return cryptoSign('sha256', data, { key, dsaEncoding: 'der' });
  // PKCS#1 v1.5 (Node's default padding for RSA): what `openssl dgst -sha256 -verify` checks with no extra flags.
  if (alg === 'rsa') return cryptoSign('sha256', data, key);
  throw new UsageError(`cannot sign with ${describeKey(key)}`);
}

/** Verifies a signature made by {@link signWithKey} (or any signer honouring the same encodings). */
export function verifyWithKey(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  const alg = keyAlgorithm(publicKey);
  try {
    if (alg === 'ed25519') return cryptoVerify(null, data, publicKey, signature);
    if (alg === 'ecdsa-p256') return cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
    if (alg === 'rsa') return cryptoVerify('sha256', data, publicKey, signature);
  } catch {
    return false;
  }
  return false;
}

function localSigner(
  key: KeyObject,
  keySource: string,
  ephemeral: boolean,
  pdf?: { certificatePem?: string; certificateFile?: string; p12?: { bytes: Buffer; passphrase: string; file?: string } },
): Signer {
  const pub = createPublicKey(key);
  const algorithm = keyAlgorithm(key)!;
  const signer: Signer = {
    info: { algorithm, fingerprint: publicKeyFingerprint(pub), ephemeral, keySource },
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    // The private KeyObject stays in this closure: never exported, never written.
    sign: async (data: Buffer) => signWithKey(key, data),
  };
  if (algorithm === 'rsa') {
    signer.pdfIdentity = (options) =>
      pdf?.p12
        ? identityFromP12(pdf.p12.bytes, pdf.p12.passphrase, pdf.p12.file)
        : identityFromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString(), {
            certificatePem: pdf?.certificatePem,
            commonName: options.commonName,
            now: options.now,
            file: pdf?.certificateFile,
          });
  }
  return signer;
}

/**
 * A throw-away RSA identity (2048-bit key, self-signed certificate) for the PDF signature when the bundle key cannot
 * sign a PDF (Ed25519, ECDSA, Key Vault, ephemeral). The packet labels it as ephemeral; the bundle signature, whose
 * SHA256SUMS lists the PDF's digest, is what ties the PDF to the bundle key.
 */
export function ephemeralPdfIdentity(now: Date, commonName = 'engram-audit ephemeral PDF signer (integrity only)'): PdfSignerIdentity {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return identityFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { commonName, now });
}

const GENERATE_HINT =
  'Give an unencrypted PEM private key: Ed25519 (openssl genpkey -algorithm ed25519 -out signing-key.pem), ECDSA P-256 (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signing-key.pem) or RSA of at least 2048 bits (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out signing-key.pem).';

/**
 * Loads a PKCS#12 file (RSA key and certificate) as the signer of both the bundle and the PDF.
 * @throws InputError naming the file for an unreadable file, a wrong passphrase or a non-RSA key.
 */
export async function loadP12Signer(file: string, passphrase: string): Promise<Signer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new InputError('E_SIGN_P12_UNREADABLE', `PKCS#12 file could not be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      file,
      field: '--sign-p12',
      hint: 'Check the path and permissions.',
    });
  }
  // identityFromP12 checks the passphrase and the certificate; the key comes out only as a KeyObject in memory.
  identityFromP12(bytes, passphrase, file);
  const key = createPrivateKey(p12PrivateKeyPem(bytes, passphrase, file));
  if (keyAlgorithm(key) !== 'rsa') {
    throw new InputError('E_SIGN_P12_UNSUPPORTED', `the PKCS#12 file holds ${describeKey(key)}; only RSA keys of at least ${MIN_RSA_BITS} bits sign PDFs`, {
      file,
      field: '--sign-p12',
    });
  }
  return localSigner(key, `p12:${basename(file)}`, false, { p12: { bytes, passphrase, file } });
}

/**
 * Loads the signer for a run.
 * - no `spec`: an ephemeral Ed25519 key made in memory for this run only (never written), `ephemeral: true`;
 * - a path: a PEM private key file, Ed25519, ECDSA P-256 or RSA >= 2048 bits (PKCS#8, SEC1 or PKCS#1), unencrypted
 *   unless `passphrase` is given; an RSA key also signs the PDF (with `certificatePem`, or a self-signed certificate);
 * - `azurekeyvault://<vault>/keys/<name>[/<version>]`: a Key Vault key (RSA or EC P-256) through CryptographyClient.sign.
 *
 * @throws InputError (exit 2) naming the file and what to do, for a missing, unreadable, encrypted, public-only,
 *   malformed or unsupported key.
 */
export async function loadSigner(spec?: string, options: LoadSignerOptions = {}): Promise<Signer> {
  if (spec === undefined || spec === '') {
    const { privateKey } = generateKeyPairSync('ed25519');
    return localSigner(privateKey, 'ephemeral', true);
  }
  if (/^azurekeyvault:\/\//i.test(spec)) {
    // Loaded only when asked for: the Key Vault SDK is not needed for local keys.
    const { createKeyVaultSigner } = await import('./keyvault-signer.js');
    return createKeyVaultSigner(spec, options.keyVault);
  }
  const file = spec;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'signing key file not found' : code === 'EISDIR' ? 'signing key path is a directory, not a key file' : code === 'EACCES' || code === 'EPERM' ? 'signing key file is not readable (permission denied)' : `signing key file could not be read (${code ?? (err as Error).message})`;
    throw new InputError('E_SIGN_KEY_UNREADABLE', what, { file, field: '--sign-key', hint: `Check the path and permissions. ${GENERATE_HINT}` });
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(pem) && options.passphrase === undefined) {
    throw new InputError('E_SIGN_KEY_ENCRYPTED', 'signing key is encrypted with a passphrase', {
      file,
      field: '--sign-key',
      hint: `Decrypt a copy for the run (openssl pkey -in ${basename(file)} -out plain-key.pem) and keep it protected, or supply the passphrase.`,
    });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    const publicOnly = /-----BEGIN (PUBLIC KEY|CERTIFICATE|RSA PUBLIC KEY)-----/.test(pem);
    throw new InputError(
      publicOnly ? 'E_SIGN_KEY_PUBLIC' : 'E_SIGN_KEY_INVALID',
      publicOnly ? 'signing key file holds a public key or certificate, not a private key' : 'signing key file is not a PEM private key',
      {
        file,
        field: '--sign-key',
        hint: publicOnly
          ? `--sign-key needs the private key; the public key is what auditors pass to \`verify --key\`. ${GENERATE_HINT}`
          : GENERATE_HINT,
      },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(options.passphrase === undefined ? { key: pem, format: 'pem' } : { key: pem, format: 'pem', passphrase: options.passphrase });
  } catch (err) {
    const msg = (err as Error).message;
    const badPass = /bad decrypt|passphrase/i.test(msg);
    throw new InputError(badPass ? 'E_SIGN_KEY_ENCRYPTED' : 'E_SIGN_KEY_INVALID', badPass ? 'signing key could not be decrypted with the passphrase given' : `signing key could not be parsed (${msg})`, {
      file,
      field: '--sign-key',
      hint: badPass ? 'Check the passphrase.' : GENERATE_HINT,
    });
  }
  if (!keyAlgorithm(key)) {
    throw new InputError('E_SIGN_KEY_UNSUPPORTED', `signing key is ${describeKey(key)}; only Ed25519, ECDSA P-256 and RSA of at least ${MIN_RSA_BITS} bits are supported`, {
      file,
      field: '--sign-key',
      hint: GENERATE_HINT,
    });
  }
  return localSigner(key, `file:${basename(file)}`, false, { certificatePem: options.certificatePem, certificateFile: options.certificateFile });
}
