/**
 * Writes a file from chunks of text, hashing as it goes, so a large output (results.json of a large estate) never
 * exists as one string or Buffer. The bundle writer then moves the file into the bundle with the digest computed here.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

/** A file written outside the bundle, to be moved into it (see WriteBundleOptions.prewritten). */
export interface PrewrittenFile {
  /** Absolute path of the written file (on the bundle's file system, so it can be renamed in). */
  path: string;
  sha256: string;
  size: number;
}

const BATCH = 1 << 20;

/** Writes all of `buf` to `fd` at its current position (writeSync may write less than asked). */
export function writeAllSync(fd: number, buf: Buffer): void {
  let at = 0;
  while (at < buf.length) at += writeSync(fd, buf, at, buf.length - at);
}

/** Writes `chunks` (UTF-8) to a new file at `path` (which must not exist) and returns its digest and size. */
export function writeChunks(path: string, chunks: Iterable<string>): PrewrittenFile {
  const fd = openSync(path, 'wx', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const buf = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingLength = 0;
    hash.update(buf);
    size += buf.length;
    writeAllSync(fd, buf);
  };
  try {
    for (const chunk of chunks) {
      pending.push(chunk);
      pendingLength += chunk.length;
      if (pendingLength >= BATCH) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return { path, sha256: hash.digest('hex'), size };
}
