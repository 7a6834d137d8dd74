/**
 * Signing keys: the Signer interface every key source implements (local PEM now; Azure Key Vault, DSSE and PDF
 * signatures later), loading a local Ed25519 / ECDSA P-256 key, the ephemeral key, fingerprints and signature checks.
 * Formats are fixed in docs/decisions/0001-signature-format.md so one `openssl` command verifies them.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import type { SigningInfo } from '../model.js';
import { sha256Hex } from '../util/hash.js';

/**
 * Something that signs bytes. `sign` receives the exact bytes to sign (SHA256SUMS, later a DSSE PAE) and returns the
 * signature in the encoding `info.algorithm` implies:
 * - `ed25519`: the 64-byte raw signature (RFC 8032, pure Ed25519 over the bytes);
 * - `ecdsa-p256`: a DER `ECDSA-Sig-Value` over SHA-256 of the bytes (what `openssl dgst -sha256 -verify` reads);
 * - `rsa` (later): RSASSA-PKCS1-v1_5 with SHA-256.
 * A remote signer (Key Vault's CryptographyClient.sign, which takes a digest and returns raw r||s for ES256) hashes the
 * bytes itself and converts to these encodings, so verification never depends on where the key lives.
 */
export interface Signer {
  info: SigningInfo;
  /** SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), written into the bundle. */
  publicKeyPem: string;
  sign(data: Buffer): Promise<Buffer>;
}

/** Options for {@link loadSigner}. */
export interface LoadSignerOptions {
  /** Passphrase for an encrypted PEM key. Without it an encrypted key is refused with a hint. */
  passphrase?: string;
}

/** Algorithms a local key may have. */
export type LocalAlgorithm = 'ed25519' | 'ecdsa-p256';

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
  throw new UsageError(`cannot sign with ${describeKey(key)}`);
}

/** Verifies a signature made by {@link signWithKey} (or any signer honouring the same encodings). */
export function verifyWithKey(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  const alg = keyAlgorithm(publicKey);
  try {
    if (alg === 'ed25519') return cryptoVerify(null, data, publicKey, signature);
    if (alg === 'ecdsa-p256') return cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
  return false;
}

function localSigner(key: KeyObject, keySource: string, ephemeral: boolean): Signer {
  const pub = createPublicKey(key);
  const algorithm = keyAlgorithm(key)!;
  return {
    info: { algorithm, fingerprint: publicKeyFingerprint(pub), ephemeral, keySource },
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    // The private KeyObject stays in this closure: never exported, never written.
    sign: async (data: Buffer) => signWithKey(key, data),
  };
}

const GENERATE_HINT =
  'Give an unencrypted PEM private key: Ed25519 (openssl genpkey -algorithm ed25519 -out signing-key.pem) or ECDSA P-256 (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signing-key.pem).';

/**
 * Loads the signer for a run.
 * - no `spec`: an ephemeral Ed25519 key made in memory for this run only (never written), `ephemeral: true`;
 * - a path: a PEM private key file, Ed25519 or ECDSA P-256 (PKCS#8 or SEC1), unencrypted unless `passphrase` is given;
 * - `azurekeyvault://...`: reserved for Key Vault signing (not available yet).
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
    throw new UsageError('signing with an Azure Key Vault key is not available in this version', {
      field: '--sign-key',
      hint: `Use a local PEM key for now. ${GENERATE_HINT}`,
    });
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
    throw new InputError('E_SIGN_KEY_UNSUPPORTED', `signing key is ${describeKey(key)}; only Ed25519 and ECDSA P-256 are supported`, {
      file,
      field: '--sign-key',
      hint: GENERATE_HINT,
    });
  }
  return localSigner(key, `file:${basename(file)}`, false);
}
