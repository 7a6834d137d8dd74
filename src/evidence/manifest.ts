/**
 * SHA256SUMS: the bundle manifest in `sha256sum -c` format (`<hex>  <path>`, one line per file, sorted), and the
 * fixed names of the files that sit beside it. Parsing is strict and never lets a listed path leave the bundle.
 */
import { sha256Hex } from '../util/hash.js';

/** The manifest's file name. */
export const MANIFEST_FILE = 'SHA256SUMS';
/** The detached signature over the manifest's exact bytes (raw bytes; see docs/decisions/0001-signature-format.md). */
export const SIGNATURE_FILE = 'SHA256SUMS.sig';
/** A base64 copy of the signature some people receive instead; verify accepts it when `.sig` is absent. */
export const SIGNATURE_B64_FILE = 'SHA256SUMS.sig.b64';
/** The signer's public key (SubjectPublicKeyInfo PEM); listed in SHA256SUMS like any other file. */
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

/** Files that SHA256SUMS cannot list (itself and its signature). */
export const UNLISTED_FILES: readonly string[] = [MANIFEST_FILE, SIGNATURE_FILE, SIGNATURE_B64_FILE];

/** Path characters allowed in a bundle: keeps SHA256SUMS free of sha256sum's backslash escaping and of hostile text. */
const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

/** Why a bundle-relative path is unacceptable, or undefined when it is fine. */
export function unsafePathReason(path: string): string | undefined {
  if (path.startsWith('/')) return 'is absolute';
  if (path.split('/').some((s) => s === '..' || s === '.')) return 'contains . or .. segments';
  if (!SAFE_PATH.test(path)) return 'uses characters other than letters, digits, ".", "_", "-" and "/" (or starts a segment with "." or "-")';
  return undefined;
}

/** Byte-order comparison (what `LC_ALL=C sort` does for ASCII paths). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One line of SHA256SUMS. */
export interface ManifestEntry {
  path: string;
  sha256: string;
}

/** Builds SHA256SUMS text: sorted by path, two spaces, LF line ends, final newline. */
export function formatManifest(entries: ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => comparePaths(a.path, b.path))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join('');
}

/** Digests for a set of files, as manifest entries. */
export function manifestEntries(files: Record<string, string | Buffer>): ManifestEntry[] {
  return Object.keys(files)
    .sort(comparePaths)
    .map((path) => ({ path, sha256: sha256Hex(files[path] as string | Buffer) }));
}

/** A SHA256SUMS line that could not be used. */
export interface MalformedLine {
  /** 1-based line number. */
  line: number;
  text: string;
  reason: string;
}

/** Parses SHA256SUMS. Accepts text (`<hex>  path`) and binary (`<hex> *path`) mode lines, as `sha256sum -c` does. */
export function parseManifest(text: string): { entries: ManifestEntry[]; malformed: MalformedLine[] } {
  const entries: ManifestEntry[] = [];
  const malformed: MalformedLine[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const shown = raw.length > 200 ? `${raw.slice(0, 200)}...` : raw;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(raw.replace(/\r$/, ''));
    if (!m) {
      malformed.push({ line, text: shown, reason: 'not "<64 hex digits>  <path>"' });
      return;
    }
    const path = m[2]!;
    const why = unsafePathReason(path);
    if (why) {
      malformed.push({ line, text: shown, reason: `path ${why}` });
      return;
    }
    if (UNLISTED_FILES.includes(path)) {
      malformed.push({ line, text: shown, reason: `${path} cannot list itself or its signature` });
      return;
    }
    if (seen.has(path)) {
      malformed.push({ line, text: shown, reason: 'path listed twice' });
      return;
    }
    seen.add(path);
    entries.push({ path, sha256: m[1]!.toLowerCase() });
  });
  return { entries, malformed };
}
