/**
 * The bundle writer: results, reports and evidence are written to a temporary sibling directory, listed in SHA256SUMS,
 * signed, and only then renamed into place, so an interrupted or failing run never leaves a half bundle at the output path.
 */
import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, UsageError, type EngramError } from '../errors.js';
import type { EvidenceSet, SigningInfo } from '../model.js';
import {
  MANIFEST_FILE,
  PUBLIC_KEY_FILE,
  SIGNATURE_B64_FILE,
  SIGNATURE_FILE,
  UNLISTED_FILES,
  comparePaths,
  formatManifest,
  parseManifest,
  unsafePathReason,
} from './manifest.js';
import { EVIDENCE_DIR, serializeEvidence, type EvidenceFileDigest, type SerializedEvidence } from './serialize.js';
import type { Signer } from './signing.js';
import { sha256Hex } from '../util/hash.js';
import type { PrewrittenFile } from './stream-file.js';

/** Options for {@link writeBundle}. */
export interface WriteBundleOptions {
  /** The bundle directory to create (or replace, when it holds a previous engram-audit bundle). */
  outDir: string;
  /** Bundle-relative path -> content: results.json, report.html, report.pdf, ... (not evidence/, not SHA256SUMS). */
  files: Record<string, string | Buffer>;
  /**
   * Bundle-relative path -> a file already written elsewhere with its digest (writeChunks, for outputs too large to
   * hold as one string: results.json of a large estate). Moved into the bundle (renamed; copied across file systems).
   */
  prewritten?: Record<string, PrewrittenFile>;
  /** The evidence, or its serialisation from {@link serializeEvidence} (pass that to avoid serialising twice). */
  evidence: EvidenceSet | SerializedEvidence;
  signer: Signer;
  /** Modification time given to every file, so archives of the bundle are reproducible. */
  now?: Date;
}

/** One file of a written bundle. */
export interface BundleFile {
  /** Bundle-relative path. */
  path: string;
  sha256: string;
  size: number;
}

/** What {@link writeBundle} wrote. */
export interface BundleSummary {
  /** Absolute path of the bundle directory. */
  outDir: string;
  /** Every file listed in SHA256SUMS, sorted by path. */
  files: BundleFile[];
  /** The evidence files with digests (as {@link serializeEvidence} returned them). */
  evidence: EvidenceFileDigest[];
  /** SHA256SUMS itself. */
  manifest: BundleFile;
  /** The detached signature over SHA256SUMS. */
  signature: BundleFile;
  /** The public key file (also in `files`). */
  publicKey: BundleFile;
  signing: SigningInfo;
  /** True when a previous engram-audit bundle at outDir was replaced. */
  replacedPrevious: boolean;
}

const RESERVED = new Set<string>([MANIFEST_FILE, SIGNATURE_FILE, SIGNATURE_B64_FILE, PUBLIC_KEY_FILE]);

function isSerialized(e: EvidenceSet | SerializedEvidence): e is SerializedEvidence {
  return typeof (e as SerializedEvidence).files === 'object' && Array.isArray((e as SerializedEvidence).index);
}

function checkFileNames(files: Record<string, string | Buffer>): void {
  const problems: EngramError[] = [];
  const paths = Object.keys(files);
  const all = new Set(paths);
  for (const path of paths) {
    const why = unsafePathReason(path);
    if (why) problems.push(new UsageError(`bundle file name ${JSON.stringify(path)} ${why}`, { field: path }));
    else if (RESERVED.has(path)) problems.push(new UsageError(`${path} is written by the bundle writer itself`, { field: path }));
    else if (path === EVIDENCE_DIR || path.startsWith(`${EVIDENCE_DIR}/`)) problems.push(new UsageError(`${path}: evidence/ is written from options.evidence`, { field: path }));
    else {
      const segs = path.split('/');
      for (let i = 1; i < segs.length; i++) {
        const prefix = segs.slice(0, i).join('/');
        if (all.has(prefix)) problems.push(new UsageError(`${prefix} is both a file and a directory`, { field: path }));
      }
    }
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    throw new UsageError(`${problems.length} bad bundle file names: ${problems.map((p) => p.message).join('; ')}`);
  }
}

/** Lists every entry under `dir` (relative paths); symlinks and other non-regular files are reported apart. */
export async function walkFiles(dir: string): Promise<{ files: string[]; special: string[] }> {
  const files: string[] = [];
  const special: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) files.push(path);
      else special.push(path);
    }
  };
  await walk('');
  files.sort(comparePaths);
  special.sort(comparePaths);
  return { files, special };
}

type OutState = { kind: 'absent' } | { kind: 'empty' } | { kind: 'bundle' } | { kind: 'other'; reason: string };

/**
 * What is at the output path. A previous bundle is a directory whose every file is SHA256SUMS, its signature, or listed
 * in SHA256SUMS: replacing it destroys nothing engram-audit did not write.
 */
async function outState(outDir: string): Promise<OutState> {
  let st;
  try {
    st = await lstat(outDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  if (!st.isDirectory()) return { kind: 'other', reason: 'it is not a directory' };
  const { files, special } = await walkFiles(outDir);
  if (files.length === 0 && special.length === 0) return { kind: 'empty' };
  if (special.length > 0) return { kind: 'other', reason: `it contains ${special[0]}, which is not a regular file` };
  if (!files.includes(MANIFEST_FILE)) return { kind: 'other', reason: `it is not an engram-audit bundle (no ${MANIFEST_FILE})` };
  const { entries, malformed } = parseManifest(await readFile(join(outDir, MANIFEST_FILE), 'utf8'));
  if (malformed.length > 0) return { kind: 'other', reason: `its ${MANIFEST_FILE} has a malformed line ${malformed[0]!.line}` };
  const listed = new Set(entries.map((e) => e.path));
  const foreign = files.find((f) => !listed.has(f) && !UNLISTED_FILES.includes(f));
  if (foreign) return { kind: 'other', reason: `it contains ${foreign}, which its ${MANIFEST_FILE} does not list` };
  return { kind: 'bundle' };
}

async function writeDurably(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames `from` to `to`, or copies it (recursively) when they are on different file systems. */
async function renameOrCopy(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await cp(from, to, { recursive: true, errorOnExist: true, force: false });
  }
}

/** fsync a file or a directory (a directory so that the names in it are durable). */
async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Moves one prewritten file into the bundle's temporary directory, synced as written files are. */
async function moveFile(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await renameOrCopy(from, to);
  await syncPath(to);
}

/**
 * Moves a streamed evidence directory into the bundle's temporary directory (a rename: the store sits beside the
 * output for this), each file and the directory synced as written files are.
 */
async function moveEvidence(from: string, to: string): Promise<void> {
  await renameOrCopy(from, to);
  for (const name of await readdir(to)) await syncPath(join(to, name));
  await syncPath(to);
}


function refuse(outDir: string, reason: string): InputError {
  return new InputError('E_OUT_EXISTS', `refusing to replace the output directory: ${reason}`, {
    file: outDir,
    field: '--out',
    hint: 'Choose a new --out directory, or move this one away first. engram-audit replaces only an empty directory or a bundle it wrote.',
  });
}

/**
 * Writes a signed bundle: `options.files`, `evidence/` (from {@link serializeEvidence}), `signing-key.pub.pem`,
 * `SHA256SUMS` (every other file, `sha256sum -c` format, sorted) and `SHA256SUMS.sig` (detached signature over the exact
 * bytes of SHA256SUMS). Everything goes to a temporary directory beside outDir, which is renamed into place last.
 *
 * An existing outDir is replaced only when it is empty or a previous engram-audit bundle (every file listed in its
 * SHA256SUMS): it is renamed aside, the new bundle renamed in, and the old one removed. Anything else is refused.
 * On any failure the temporary directory is removed and outDir is left as it was.
 *
 * @throws UsageError for bad file names; InputError when outDir holds something else or cannot be written.
 */
export async function writeBundle(options: WriteBundleOptions): Promise<BundleSummary> {
  const outDir = resolve(options.outDir);
  const parent = dirname(outDir);
  const name = basename(outDir);
  const prewritten = options.prewritten ?? {};
  for (const path of Object.keys(prewritten)) {
    if (path in options.files) throw new UsageError(`${path} is given both as content and as a prewritten file`, { field: path });
  }
  checkFileNames({ ...options.files, ...Object.fromEntries(Object.keys(prewritten).map((p) => [p, ''])) });
  const evidence = isSerialized(options.evidence) ? options.evidence : serializeEvidence(options.evidence);

  const before = await outState(outDir);
  if (before.kind === 'other') throw refuse(outDir, before.reason);

  let tmp: string;
  try {
    await mkdir(parent, { recursive: true });
    tmp = await mkdtemp(join(parent, `.${name}.tmp-`));
  } catch (err) {
    throw new InputError('E_OUT_UNWRITABLE', `cannot create the bundle beside ${outDir}: ${(err as Error).message}`, {
      file: parent,
      field: '--out',
      hint: 'Choose an --out directory whose parent exists and is writable.',
    });
  }
  try {
    const contents = new Map<string, { sha256: string; size: number }>();
    const put = async (path: string, bytes: Buffer) => {
      contents.set(path, { sha256: sha256Hex(bytes), size: bytes.length });
      await writeDurably(join(tmp, path), bytes);
    };
    // Read each entry exactly once: a getter that throws must fail the run, not a half-written file.
    for (const path of Object.keys(options.files).sort(comparePaths)) {
      const v = options.files[path];
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw new UsageError(`bundle file ${path} must be a string or Buffer`, { field: path });
      await put(path, typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
    }
    for (const path of Object.keys(prewritten).sort(comparePaths)) {
      const file = prewritten[path]!;
      await moveFile(file.path, join(tmp, path));
      contents.set(path, { sha256: file.sha256, size: file.size });
    }
    if (evidence.writtenTo !== undefined) {
      // Streamed evidence (serializeStore): the files are already on disk beside the bundle, digested as written.
      await moveEvidence(join(evidence.writtenTo, EVIDENCE_DIR), join(tmp, EVIDENCE_DIR));
      for (const e of evidence.index) contents.set(e.path, { sha256: e.sha256, size: e.size });
    }
    for (const path of Object.keys(evidence.files).sort(comparePaths)) await put(path, evidence.files[path]!);
    await put(PUBLIC_KEY_FILE, Buffer.from(options.signer.publicKeyPem, 'utf8'));

    const files: BundleFile[] = [...contents.keys()].sort(comparePaths).map((path) => ({ path, ...contents.get(path)! }));
    const manifest = Buffer.from(formatManifest(files), 'utf8');
    await writeDurably(join(tmp, MANIFEST_FILE), manifest);
    const signature = await options.signer.sign(manifest);
    await writeDurably(join(tmp, SIGNATURE_FILE), signature);

    if (options.now) {
      const t = options.now;
      for (const path of [...contents.keys(), MANIFEST_FILE, SIGNATURE_FILE]) await utimes(join(tmp, path), t, t);
    }
    await syncPath(tmp);

    // Check again: something may have appeared at outDir while we wrote.
    const now = await outState(outDir);
    let replacedPrevious = false;
    if (now.kind === 'other') throw refuse(outDir, now.reason);
    if (now.kind === 'bundle') {
      const aside = join(parent, `.${name}.old-${randomBytes(6).toString('hex')}`);
      await rename(outDir, aside);
      try {
        await rename(tmp, outDir);
      } catch (err) {
        await rename(aside, outDir).catch(() => undefined);
        throw err;
      }
      replacedPrevious = true;
      // The new bundle is in place; a leftover hidden copy of the old one is untidy, not a failure.
      await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    } else {
      // rename(2) replaces an empty directory atomically and fails on a non-empty one.
      await rename(tmp, outDir);
    }
    await syncPath(parent).catch(() => undefined);

    const byPath = (p: string) => files.find((f) => f.path === p)!;
    return {
      outDir,
      files,
      evidence: evidence.index,
      manifest: { path: MANIFEST_FILE, sha256: sha256Hex(manifest), size: manifest.length },
      signature: { path: SIGNATURE_FILE, sha256: sha256Hex(signature), size: signature.length },
      publicKey: byPath(PUBLIC_KEY_FILE),
      signing: options.signer.info,
      replacedPrevious,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
