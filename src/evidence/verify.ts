/**
 * Bundle verification: recomputes every digest in SHA256SUMS, finds changed, added and removed files and malformed
 * lines, and checks the detached signature with the bundle's own key or a key the auditor trusts. Never follows a path
 * or symlink out of the bundle. Only the CLI prints the report (formatVerifyReport) and picks the exit code.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { SigningInfo } from '../model.js';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, SIGNATURE_B64_FILE, SIGNATURE_FILE, UNLISTED_FILES, parseManifest, type MalformedLine } from './manifest.js';
import { walkFiles } from './bundle.js';
import { keyAlgorithm, normaliseFingerprint, publicKeyFingerprint, verifyWithKey } from './signing.js';

/** Options for {@link verifyBundle}. */
export interface VerifyOptions {
  /** The public key the auditor trusts (`verify --key PUB.pem`), as PEM text. */
  publicKeyPem?: string;
  /** How to name that key in the report (e.g. the --key path). */
  publicKeyLabel?: string;
  /** Fingerprints (SHA-256 of the DER SubjectPublicKeyInfo, hex; colons and `sha256:` allowed) the signer must have. */
  trustedFingerprints?: string[];
}

/** A file whose content no longer matches SHA256SUMS. */
export interface ChangedFile {
  path: string;
  expected: string;
  /** The digest found, or undefined when the path is not a regular file any more. */
  actual?: string;
  size?: number;
  reason?: string;
}

/** How far the signature can be trusted. */
export type VerifyTrust =
  /** Signature valid under the key given with --key: the holder of that key signed these bytes. */
  | 'given-key'
  /** Signature valid under a key whose fingerprint is in trustedFingerprints. */
  | 'trusted-fingerprint'
  /** Signature valid only under the key shipped inside the bundle: proves integrity, not origin. */
  | 'integrity-only'
  /** No valid signature. */
  | 'none';

/** The signature part of a {@link VerifyReport}. */
export interface SignatureCheck {
  /** The signature file read (`SHA256SUMS.sig`, or `SHA256SUMS.sig.b64` when only that exists). */
  file?: string;
  present: boolean;
  valid: boolean;
  /** How the signature file was encoded. */
  encoding?: 'raw' | 'base64';
  /** `ed25519` or `ecdsa-p256`. */
  algorithm?: string;
  /** Which key the signature was checked with. */
  checkedWith: 'given-key' | 'bundle-key' | 'none';
  /** Fingerprint of the key it was checked with. */
  fingerprint?: string;
  /** Fingerprint of the bundle's signing-key.pub.pem, when it could be read. */
  bundleKeyFingerprint?: string;
  /** When --key was given: whether the bundle's own key file is the same key. */
  bundleKeyMatchesGiven?: boolean;
  /** When trustedFingerprints were given: whether the signing key is among them. */
  trusted?: boolean;
}

/** The outcome of {@link verifyBundle}. */
export interface VerifyReport {
  dir: string;
  /** True only when every listed file is intact, nothing was added or removed, SHA256SUMS is well-formed, the signature
   *  is valid, and (when asked) the key is the given or a trusted one. */
  ok: boolean;
  /** Files listed in SHA256SUMS. */
  listed: number;
  /** Listed files whose digest matches. */
  intact: number;
  changed: ChangedFile[];
  /** Files present but not listed in SHA256SUMS (SHA256SUMS and its signature excepted). */
  added: string[];
  /** Listed files that are missing. */
  removed: string[];
  /** Symlinks, sockets and other entries that are not regular files (never followed). */
  special: string[];
  malformed: MalformedLine[];
  manifestPresent: boolean;
  signature: SignatureCheck;
  trust: VerifyTrust;
  /** Every problem as one sentence, in the order found. */
  problems: string[];
  /** The `signing` block of the bundle's results.json, when present (covered by the signature). */
  bundleSigning?: SigningInfo;
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    const st = await lstat(path);
    if (!st.isFile()) return undefined;
    return await readFile(path);
  } catch {
    return undefined;
  }
}

function parseKey(pem: string): KeyObject | undefined {
  try {
    const key = createPublicKey(pem);
    return keyAlgorithm(key) ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Signature bytes to try: the file as-is, then its base64 decoding when it is base64 text. */
function signatureCandidates(bytes: Buffer): { bytes: Buffer; encoding: 'raw' | 'base64' }[] {
  const out: { bytes: Buffer; encoding: 'raw' | 'base64' }[] = [{ bytes, encoding: 'raw' }];
  const text = bytes.toString('latin1').trim();
  if (text.length > 0 && /^[A-Za-z0-9+/\r\n]+={0,2}$/.test(text)) {
    out.push({ bytes: Buffer.from(text.replace(/\s+/g, ''), 'base64'), encoding: 'base64' });
  }
  return out;
}

/**
 * Verifies a bundle directory. Reports rather than throws for anything found inside the bundle; throws only when the
 * directory itself cannot be read or the given key cannot be used.
 *
 * @throws InputError (exit 2) when `dir` is not a readable directory or `publicKeyPem` is not an Ed25519/P-256 public key.
 */
export async function verifyBundle(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const root = resolve(dir);
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new InputError('E_VERIFY_NOT_BUNDLE', `bundle directory cannot be read: ${(err as Error).message}`, {
      file: dir,
      hint: 'Give the directory engram-audit wrote (it holds SHA256SUMS); unpack a .tar.gz first.',
    });
  }
  let givenKey: KeyObject | undefined;
  if (options.publicKeyPem !== undefined) {
    givenKey = parseKey(options.publicKeyPem);
    if (!givenKey) {
      throw new InputError('E_VERIFY_KEY_INVALID', 'the key given to verify is not an Ed25519 or ECDSA P-256 public key in PEM form', {
        file: options.publicKeyLabel,
        field: '--key',
        hint: 'Pass the signer\'s public key (-----BEGIN PUBLIC KEY-----), e.g. the signing-key.pub.pem the producer sent you separately.',
      });
    }
  }

  const problems: string[] = [];
  const report: VerifyReport = {
    dir: root,
    ok: false,
    listed: 0,
    intact: 0,
    changed: [],
    added: [],
    removed: [],
    special: [],
    malformed: [],
    manifestPresent: false,
    signature: { present: false, valid: false, checkedWith: 'none' },
    trust: 'none',
    problems,
  };

  const manifest = await readOptional(join(root, MANIFEST_FILE));
  const { files: onDisk, special } = await walkFiles(root);
  report.special = special;
  for (const s of special) problems.push(`${s} is not a regular file (a symlink or device); it was not followed`);

  if (!manifest) {
    problems.push(`${MANIFEST_FILE} is missing: nothing can be checked`);
  } else {
    report.manifestPresent = true;
    const { entries, malformed } = parseManifest(manifest.toString('utf8'));
    report.malformed = malformed;
    report.listed = entries.length;
    for (const m of malformed) problems.push(`${MANIFEST_FILE} line ${m.line} is malformed (${m.reason}): ${m.text}`);
    const listed = new Set(entries.map((e) => e.path));
    // Only files reached without following a symlink are read: a listed path through a symlinked directory is not.
    const regular = new Set(onDisk);
    for (const e of entries) {
      if (!regular.has(e.path)) {
        const via = special.find((sp) => e.path === sp || e.path.startsWith(`${sp}/`));
        if (via) {
          const reason = via === e.path ? 'not a regular file' : `reached through ${via}, which is not a directory of the bundle`;
          report.changed.push({ path: e.path, expected: e.sha256, reason });
          problems.push(`${e.path} changed: ${reason}`);
        } else {
          report.removed.push(e.path);
          problems.push(`${e.path} was removed (listed in ${MANIFEST_FILE}, missing)`);
        }
        continue;
      }
      const path = join(root, e.path);
      const actual = await hashFile(path);
      if (actual === e.sha256) report.intact++;
      else {
        const size = (await lstat(path)).size;
        report.changed.push({ path: e.path, expected: e.sha256, actual, size });
        problems.push(`${e.path} changed (sha256 ${actual}, ${MANIFEST_FILE} says ${e.sha256})`);
      }
    }
    for (const f of onDisk) {
      if (!listed.has(f) && !UNLISTED_FILES.includes(f)) {
        report.added.push(f);
        problems.push(`${f} was added (present, not listed in ${MANIFEST_FILE})`);
      }
    }
  }

  // Signature.
  const sig = report.signature;
  let sigBytes = await readOptional(join(root, SIGNATURE_FILE));
  sig.file = SIGNATURE_FILE;
  if (!sigBytes) {
    sigBytes = await readOptional(join(root, SIGNATURE_B64_FILE));
    if (sigBytes) sig.file = SIGNATURE_B64_FILE;
  }
  sig.present = sigBytes !== undefined;
  const bundleKeyPem = await readOptional(join(root, PUBLIC_KEY_FILE));
  const bundleKey = bundleKeyPem ? parseKey(bundleKeyPem.toString('utf8')) : undefined;
  if (bundleKey) sig.bundleKeyFingerprint = publicKeyFingerprint(bundleKey);
  else if (!givenKey) problems.push(bundleKeyPem ? `${PUBLIC_KEY_FILE} is not an Ed25519 or ECDSA P-256 public key` : `${PUBLIC_KEY_FILE} is missing and no --key was given`);

  const key = givenKey ?? bundleKey;
  if (key) {
    sig.checkedWith = givenKey ? 'given-key' : 'bundle-key';
    sig.fingerprint = publicKeyFingerprint(key);
    sig.algorithm = keyAlgorithm(key);
  }
  if (givenKey && bundleKey) {
    sig.bundleKeyMatchesGiven = sig.bundleKeyFingerprint === sig.fingerprint;
  }
  if (!sigBytes) {
    problems.push(`${SIGNATURE_FILE} is missing: the bundle is not signed`);
  } else if (manifest && key) {
    for (const c of signatureCandidates(sigBytes)) {
      if (verifyWithKey(key, manifest, c.bytes)) {
        sig.valid = true;
        sig.encoding = c.encoding;
        break;
      }
    }
    if (!sig.valid) {
      problems.push(
        givenKey
          ? `the signature in ${sig.file} is not valid for the given key${options.publicKeyLabel ? ` ${options.publicKeyLabel}` : ''} (fingerprint ${sig.fingerprint})`
          : `the signature in ${sig.file} is not valid for ${MANIFEST_FILE} under the bundle's own key (fingerprint ${sig.fingerprint})`,
      );
    }
  }
  if (sig.bundleKeyMatchesGiven === false) {
    problems.push(`the bundle's ${PUBLIC_KEY_FILE} (fingerprint ${sig.bundleKeyFingerprint}) is not the given key (fingerprint ${sig.fingerprint})`);
  }
  if (options.trustedFingerprints && options.trustedFingerprints.length > 0 && sig.fingerprint) {
    const trusted = new Set(options.trustedFingerprints.map(normaliseFingerprint));
    sig.trusted = trusted.has(sig.fingerprint);
    if (!sig.trusted) problems.push(`the signing key (fingerprint ${sig.fingerprint}) is not one of the trusted fingerprints`);
  }

  if (sig.valid) {
    report.trust = sig.checkedWith === 'given-key' ? 'given-key' : sig.trusted ? 'trusted-fingerprint' : 'integrity-only';
  }

  try {
    const results = JSON.parse((await readOptional(join(root, 'results.json')))?.toString('utf8') ?? 'null');
    if (results && typeof results === 'object' && results.signing && typeof results.signing === 'object') {
      report.bundleSigning = results.signing as SigningInfo;
    }
  } catch {
    // results.json is checked by digest above; its content is only informative here.
  }

  report.ok = problems.length === 0 && report.manifestPresent && sig.valid;
  return report;
}

const short = (fp?: string) => fp ?? '(unknown)';

/** Renders a {@link VerifyReport} as the text `engram-audit verify` prints. */
export function formatVerifyReport(report: VerifyReport): string {
  const out: string[] = [];
  out.push(`Bundle: ${report.dir}`);
  if (report.manifestPresent) {
    out.push(`Files: ${report.listed} listed in ${MANIFEST_FILE}, ${report.intact} intact`);
  }
  for (const c of report.changed) {
    out.push(
      c.actual
        ? `  CHANGED   ${c.path}\n            expected sha256 ${c.expected}\n            found    sha256 ${c.actual}`
        : `  CHANGED   ${c.path} (${c.reason ?? 'unreadable'})`,
    );
  }
  for (const p of report.added) out.push(`  ADDED     ${p} (not listed in ${MANIFEST_FILE})`);
  for (const p of report.removed) out.push(`  REMOVED   ${p} (listed in ${MANIFEST_FILE}, missing)`);
  for (const p of report.special) out.push(`  SPECIAL   ${p} (not a regular file; not followed)`);
  for (const m of report.malformed) out.push(`  MALFORMED ${MANIFEST_FILE} line ${m.line}: ${m.reason}: ${m.text}`);
  if (!report.manifestPresent) out.push(`  MISSING   ${MANIFEST_FILE}`);

  const s = report.signature;
  const alg = s.algorithm ?? 'unknown algorithm';
  const enc = s.encoding === 'base64' ? ', base64-encoded' : '';
  if (!s.present) out.push(`Signature: MISSING (${SIGNATURE_FILE})`);
  else if (s.valid) {
    const withKey = s.checkedWith === 'given-key' ? 'the key you gave (--key)' : `the bundle's own ${PUBLIC_KEY_FILE}`;
    out.push(`Signature: valid (${alg}${enc}) over ${MANIFEST_FILE}, checked with ${withKey}`);
  } else out.push(`Signature: INVALID (${s.file}; checked with ${s.checkedWith === 'given-key' ? 'the key you gave (--key)' : s.checkedWith === 'bundle-key' ? `the bundle's own ${PUBLIC_KEY_FILE}` : 'no usable key'})`);
  out.push(`Key fingerprint (SHA-256 of the DER public key): ${short(s.fingerprint)}`);
  if (s.bundleKeyMatchesGiven === false) out.push(`  The bundle's ${PUBLIC_KEY_FILE} is a different key: ${short(s.bundleKeyFingerprint)}`);
  if (s.trusted === true) out.push('  The key is one of the trusted fingerprints.');
  if (s.trusted === false) out.push('  The key is NOT one of the trusted fingerprints.');
  if (report.bundleSigning?.ephemeral) {
    out.push('  The bundle says it was signed with an ephemeral key made for that run only: nobody can vouch for it later.');
  }
  if (report.trust === 'integrity-only') {
    out.push(
      '  This proves integrity, not origin: the files match what was signed, but anyone can sign with a key they ship in the',
      '  bundle. Compare the fingerprint above with the one the producer gave you out of band, or run verify with --key.',
    );
  }
  out.push(report.ok ? 'Result: INTACT' : `Result: NOT INTACT (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
