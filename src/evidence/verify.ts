/**
 * Bundle verification: recomputes every digest in SHA256SUMS, finds changed, added and removed files and malformed
 * lines, and checks the detached signature with the bundle's own key or a key the auditor trusts. Never follows a path
 * or symlink out of the bundle. Only the CLI prints the report (formatVerifyReport) and picks the exit code.
 */
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import forge from 'node-forge';
import { lstat, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { SigningInfo } from '../model.js';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, SIGNATURE_B64_FILE, SIGNATURE_FILE, UNLISTED_FILES, parseManifest, type MalformedLine } from './manifest.js';
import { walkFiles } from './bundle.js';
import { keyAlgorithm, normaliseFingerprint, publicKeyFingerprint, verifyWithKey } from './signing.js';
import { DSSE_FILE, compareSubjects, verifyDsse } from './dsse.js';
import { sha256Hex } from '../util/hash.js';

/** The PDF report a bundle carries; its embedded signature is checked by {@link verifyBundle}. */
export const PDF_FILE = 'report.pdf';

/** Options for {@link verifyBundle}. */
export interface VerifyOptions {
  /** The public key the auditor trusts (`verify --key PUB.pem`), as PEM text. */
  publicKeyPem?: string;
  /** How to name that key in the report (e.g. the --key path). */
  publicKeyLabel?: string;
  /** Fingerprints (SHA-256 of the DER SubjectPublicKeyInfo, hex; colons and `sha256:` allowed) the signer must have. */
  trustedFingerprints?: string[];
  /** Run `pdfsig` (poppler) on report.pdf as well when it is installed (default true). */
  usePdfsig?: boolean;
}

/** The embedded signature of report.pdf, checked by our own PKCS#7 parse and, when installed, by poppler's pdfsig. */
export interface PdfSignatureCheck {
  present: boolean;
  valid: boolean;
  /** The SHA-256 over the signed byte ranges equals the signed messageDigest. */
  digestMatches?: boolean;
  /** The signed byte ranges cover the whole file (nothing appended after signing). */
  coversWholeFile?: boolean;
  /** Signer certificate subject common name. */
  signer?: string;
  /** SHA-256 of the signer certificate's public key (DER SPKI), hex: compare with the bundle fingerprint. */
  signerKeyFingerprint?: string;
  /** The PDF was signed with the bundle's signing key (RSA bundle keys sign both). */
  signedByBundleKey?: boolean;
  /** Which tools checked it: `node-forge` (ByteRange digest and CMS signature, always) and `pdfsig` (when installed). */
  checkedBy: string[];
  /** pdfsig's verdict line, e.g. "Signature is Valid." or "Digest Mismatch.". */
  pdfsig?: string;
  error?: string;
}

/** The DSSE envelope (bundle.dsse.json) check. */
export interface DsseCheck {
  present: boolean;
  valid: boolean;
  keyid?: string;
  /** Subjects that do not match the files on disk (missing, extra, changed). */
  mismatches: string[];
  error?: string;
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
  /** report.pdf's embedded signature, when the bundle has a report.pdf. */
  pdf?: PdfSignatureCheck;
  dsse: DsseCheck;
}

function findLast(buf: Buffer, needle: string): number {
  return buf.lastIndexOf(Buffer.from(needle, 'latin1'));
}

/**
 * Checks a PDF's last embedded PKCS#7 detached signature without any PDF library: reads /ByteRange and /Contents,
 * hashes the signed ranges, compares with the signed messageDigest attribute, and verifies the RSA/ECDSA signature over
 * the DER of the signed attributes with the certificate's key (node-forge parses the CMS, node:crypto verifies).
 */
export function checkPdfSignatureBytes(pdf: Buffer): Omit<PdfSignatureCheck, 'checkedBy' | 'signedByBundleKey' | 'pdfsig'> {
  const at = findLast(pdf, '/ByteRange');
  if (at < 0) return { present: false, valid: false, error: 'the PDF carries no signature (/ByteRange not found)' };
  const m = /^\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(pdf.subarray(at, at + 120).toString('latin1'));
  if (!m) return { present: true, valid: false, error: 'the signature /ByteRange is malformed' };
  const [a, b, c, d] = m.slice(1).map(Number) as [number, number, number, number];
  if (a !== 0 || c < a + b || c + d > pdf.length) return { present: true, valid: false, error: 'the signature /ByteRange points outside the file' };
  const coversWholeFile = c + d === pdf.length;
  const hole = pdf.subarray(a + b, c).toString('latin1');
  const hex = /^<([0-9A-Fa-f]*)>$/.exec(hole.trim());
  if (!hex) return { present: true, valid: false, coversWholeFile, error: 'the signature /Contents is not a hex string' };
  const digest = createHash('sha256').update(pdf.subarray(a, a + b)).update(pdf.subarray(c, c + d)).digest();
  try {
    // /Contents is zero-padded after the DER structure: parse one structure and ignore the padding.
    const der = Buffer.from(hex[1]!, 'hex');
    const fromDer = forge.asn1.fromDer as unknown as (b: forge.util.ByteStringBuffer, o: { parseAllBytes: boolean }) => forge.asn1.Asn1;
    const asn1 = fromDer(forge.util.createBuffer(der.toString('binary')), { parseAllBytes: false });
    const msg = forge.pkcs7.messageFromAsn1(asn1) as forge.pkcs7.PkcsSignedData & { rawCapture: { signerInfos: forge.asn1.Asn1[] } };
    const cert = msg.certificates[0];
    const signerInfo = msg.rawCapture.signerInfos[0] as forge.asn1.Asn1 | undefined;
    if (!cert || !signerInfo) return { present: true, valid: false, coversWholeFile, error: 'the CMS signature has no certificate or signer' };
    const parts = signerInfo.value as forge.asn1.Asn1[];
    const attrs = parts.find((p) => p.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && p.type === 0);
    const sigNode = parts[parts.length - 1]!;
    if (!attrs) return { present: true, valid: false, coversWholeFile, error: 'the CMS signature has no signed attributes' };
    let messageDigest: Buffer | undefined;
    for (const attr of attrs.value as forge.asn1.Asn1[]) {
      const [oid, set] = attr.value as forge.asn1.Asn1[];
      if (forge.asn1.derToOid(oid!.value as string) === forge.pki.oids.messageDigest) {
        messageDigest = Buffer.from(((set!.value as forge.asn1.Asn1[])[0]!.value as string), 'binary');
      }
    }
    // The signature covers the signed attributes re-tagged as a SET OF (RFC 5652, 5.4).
    const signedAttrs = Buffer.from(forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, attrs.value as forge.asn1.Asn1[])).getBytes(), 'binary');
    const certPem = forge.pki.publicKeyToPem(cert.publicKey as forge.pki.rsa.PublicKey);
    const signerKey = createPublicKey(certPem);
    const signatureOk = cryptoVerify('sha256', signedAttrs, signerKey, Buffer.from(sigNode.value as string, 'binary'));
    const digestMatches = messageDigest !== undefined && messageDigest.equals(digest);
    return {
      present: true,
      valid: digestMatches && signatureOk && coversWholeFile,
      digestMatches,
      coversWholeFile,
      signer: String(cert.subject.getField('CN')?.value ?? ''),
      signerKeyFingerprint: sha256Hex(signerKey.export({ type: 'spki', format: 'der' })),
      error: !digestMatches
        ? 'digest mismatch: the PDF changed after it was signed'
        : !signatureOk
          ? 'the CMS signature does not verify with the signer certificate'
          : !coversWholeFile
            ? 'bytes were appended after the signed range'
            : undefined,
    };
  } catch (err) {
    return { present: true, valid: false, coversWholeFile, error: `the CMS signature cannot be parsed: ${(err as Error).message}` };
  }
}

/** Runs poppler's pdfsig on a file; undefined when pdfsig is not installed. pdfsig exits 0 either way: read its output. */
function runPdfsig(path: string): { valid: boolean; verdict: string } | undefined {
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return undefined;
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const verdicts = [...out.matchAll(/Signature Validation:\s*(.+)/g)].map((x) => x[1]!.trim());
  if (verdicts.length === 0) return { valid: false, verdict: /does not contain any signatures/.test(out) ? 'no signatures' : out.trim().split('\n')[0] ?? 'no output' };
  return { valid: verdicts.every((v) => /^Signature is Valid/.test(v)), verdict: verdicts.join('; ') };
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
      throw new InputError('E_VERIFY_KEY_INVALID', 'the key given to verify is not an Ed25519, ECDSA P-256 or RSA (>= 2048 bits) public key in PEM form', {
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
    dsse: { present: false, valid: false, mismatches: [] },
  };
  /** Digest of every listed regular file, for the DSSE subjects. */
  const digests = new Map<string, string>();

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
      digests.set(e.path, actual);
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
  else if (!givenKey) problems.push(bundleKeyPem ? `${PUBLIC_KEY_FILE} is not an Ed25519, ECDSA P-256 or RSA public key` : `${PUBLIC_KEY_FILE} is missing and no --key was given`);

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

  // The PDF's own signature: report.pdf is covered by SHA256SUMS too; this shows its embedded signature holds up.
  const pdfBytes = await readOptional(join(root, PDF_FILE));
  if (pdfBytes) {
    const own = checkPdfSignatureBytes(pdfBytes);
    const pdf: PdfSignatureCheck = { ...own, checkedBy: ['node-forge'] };
    if (options.usePdfsig !== false && own.present) {
      const popp = runPdfsig(join(root, PDF_FILE));
      if (popp) {
        pdf.checkedBy.push('pdfsig');
        pdf.pdfsig = popp.verdict;
        if (!popp.valid) {
          pdf.valid = false;
          pdf.error ??= `pdfsig: ${popp.verdict}`;
        }
      }
    }
    if (pdf.signerKeyFingerprint && sig.fingerprint) pdf.signedByBundleKey = pdf.signerKeyFingerprint === sig.fingerprint;
    report.pdf = pdf;
    if (!pdf.present) problems.push(`${PDF_FILE} carries no PDF signature`);
    else if (!pdf.valid) problems.push(`${PDF_FILE}: the PDF signature is not valid (${pdf.error ?? 'unknown reason'})`);
  }

  // The DSSE envelope: signed by the same key, subjects equal to the files on disk.
  const envelope = await readOptional(join(root, DSSE_FILE));
  if (envelope) {
    report.dsse.present = true;
    if (!key) {
      report.dsse.error = 'no usable public key to check it with';
      problems.push(`${DSSE_FILE}: ${report.dsse.error}`);
    } else {
      const v = verifyDsse(envelope.toString('utf8'), key);
      report.dsse.keyid = v.keyid;
      if (!v.valid || !v.statement) {
        report.dsse.error = v.error;
        problems.push(`${DSSE_FILE}: ${v.error ?? 'not valid'}`);
      } else {
        const onDisk = [...digests].filter(([p]) => p !== DSSE_FILE).map(([path, sha256]) => ({ path, sha256 }));
        report.dsse.mismatches = compareSubjects(v.statement, onDisk);
        report.dsse.valid = report.dsse.mismatches.length === 0;
        for (const mm of report.dsse.mismatches) problems.push(`${DSSE_FILE}: ${mm}`);
      }
    }
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
  if (report.dsse.present) {
    out.push(
      report.dsse.valid
        ? `DSSE attestation: valid (${DSSE_FILE}, in-toto statement over every file, same key)`
        : `DSSE attestation: INVALID (${DSSE_FILE}: ${report.dsse.error ?? report.dsse.mismatches.join('; ')})`,
    );
  }
  if (report.pdf) {
    const p = report.pdf;
    const by = p.checkedBy.join(' and ');
    if (!p.present) out.push(`PDF signature: MISSING (${PDF_FILE} is not signed)`);
    else if (p.valid) {
      const whose = p.signedByBundleKey ? 'signed with the bundle key' : `signer "${p.signer}", key ${short(p.signerKeyFingerprint)} (not the bundle key: see the packet's signature page)`;
      out.push(`PDF signature: valid (${PDF_FILE}, checked by ${by}), ${whose}`);
    } else out.push(`PDF signature: INVALID (${PDF_FILE}: ${p.error ?? 'unknown'}; checked by ${by})`);
  }
  out.push(report.ok ? 'Result: INTACT' : `Result: NOT INTACT (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
