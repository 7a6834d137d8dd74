/**
 * The evidence store: where a scan's evidence lives while the run is under way, so memory stays bounded as the estate
 * grows. Every document (already redacted) is appended with its provenance to a spool file on disk as it arrives; memory
 * holds only a small entry per document (id, type, where its line is). Evaluation reads the spool one partition at a
 * time (a top-level resource with everything under it), and the bundle's evidence files are written from it part by
 * part (serialize.ts), so no stage holds the whole evidence.
 *
 * The spool lives in a hidden directory beside the output bundle (the same file system as the bundle, and not /tmp, which
 * may be memory-backed), holds nothing the bundle would not (documents are redacted before they reach it), and is
 * removed when the run ends, whether it succeeds or fails.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import type { AzureDocument, CollectionError, EvidenceSet, ListRecord, Provenance } from '../model.js';
import type { PartitionedEvidence } from '../engine/evaluate.js';
import { docType, normId, partitionKey } from '../engine/documents.js';
import { redactValue } from './redact.js';
import { writeAllSync } from './stream-file.js';
import { append } from '../util/arrays.js';

/** A document's place in the spool, as the store's methods pass it around (made on demand, never kept). */
interface Entry {
  /** Lower-case id (the index key). */
  key: string;
  /** Lower-case type. */
  type: string;
  offset: number;
  length: number;
}

/** Pending bytes before the spool is written out. */
const FLUSH_BYTES = 1 << 20;

/** A document with its provenance, as the store hands them back. */
export interface StoredDocument {
  document: AzureDocument;
  provenance: Provenance;
}

/** Counters that show the store kept memory bounded (the largest partition read, the resident documents). */
export interface StoreStats {
  /** Documents in the store (one per id). */
  documents: number;
  /** Bytes appended to the spool (replaced bodies included). */
  spoolBytes: number;
  /** Most documents of one partition read at once. */
  largestPartition: number;
  /** Documents read back as resident (lookup types) for a partitioned evaluation. */
  resident: number;
}

/** A disk-backed evidence set; see the module comment. Single-threaded use: puts and reads from one event loop. */
export class EvidenceStore implements PartitionedEvidence {
  readonly errors: CollectionError[] = [];
  readonly lists: ListRecord[] = [];
  /**
   * Lower-case id -> slot. What memory holds per document: this key and a slot in three typed arrays (offset, length,
   * type number), about 0.3 KB with the Map entry, instead of the document (1 KB or more as a JavaScript object).
   */
  private readonly slots = new Map<string, number>();
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private typeIds = new Uint16Array(1024);
  /** Lower-case types, each once (a type number indexes this). */
  private readonly typeNames: string[] = [];
  private readonly typeNumbers = new Map<string, number>();
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private readonly counters = { largestPartition: 0, resident: 0 };

  /**
   * Opens a store in `dir`, which it creates and owns: {@link dispose} removes it. The directory must not exist yet (a
   * fresh hidden name beside the output), so a store never writes into someone else's files.
   */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: false, mode: 0o700 });
    try {
      this.fd = openSync(join(dir, 'spool.jsonl'), 'wx+', 0o600);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    track(this);
  }

  /** Number of documents (one per id, case-insensitively). */
  get size(): number {
    return this.slots.size;
  }

  private typeNumber(type: string): number {
    let n = this.typeNumbers.get(type);
    if (n === undefined) {
      n = this.typeNames.length;
      if (n > 0xffff) throw new Error('more than 65,536 document types in one evidence store');
      this.typeNames.push(type);
      this.typeNumbers.set(type, n);
    }
    return n;
  }

  private entryAt(key: string, slot: number): Entry {
    return { key, type: this.typeNames[this.typeIds[slot]!]!, offset: this.offsets[slot]!, length: this.lengths[slot]! };
  }

  /** Every entry, made on demand from the index. */
  private *entries(): Iterable<Entry> {
    for (const [key, slot] of this.slots) yield this.entryAt(key, slot);
  }

  /**
   * Adds a document with its provenance. A later document with the same id (case-insensitively) replaces the earlier
   * one, as a GET of one child is more complete than the list it was found in. Both are redacted on the way in
   * (collectors redact already; this is the store's own guard, so no secret reaches the spool).
   */
  put(document: AzureDocument, provenance: Provenance): void {
    this.openFd();
    if (!document || typeof document.id !== 'string' || document.id === '') return;
    const { value: d, changed } = redactValue(document);
    const p = redactValue(provenance).value;
    const line = Buffer.from(`${JSON.stringify({ d, p: changed && !p.redacted ? { ...p, redacted: true } : p })}\n`, 'utf8');
    const key = normId(d.id);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      if (slot === this.offsets.length) this.grow();
      this.slots.set(key, slot);
    }
    this.offsets[slot] = this.written;
    this.lengths[slot] = line.length - 1;
    this.typeIds[slot] = this.typeNumber(docType(d));
    this.written += line.length;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  private grow(): void {
    const size = this.offsets.length * 2;
    const offsets = new Float64Array(size);
    offsets.set(this.offsets);
    const lengths = new Uint32Array(size);
    lengths.set(this.lengths);
    const typeIds = new Uint16Array(size);
    typeIds.set(this.typeIds);
    this.offsets = offsets;
    this.lengths = lengths;
    this.typeIds = typeIds;
  }

  /** Adds every document of `evidence` with its provenance (by document id), and its errors and list records. */
  putAll(evidence: Pick<EvidenceSet, 'documents' | 'provenance'> & Partial<Pick<EvidenceSet, 'errors' | 'lists'>>): void {
    const prov = new Map<string, Provenance>();
    for (const p of evidence.provenance) prov.set(normId(p.documentId), p);
    for (const d of evidence.documents) {
      this.put(d, prov.get(normId(d.id)) ?? { documentId: d.id, source: 'snapshot' });
    }
    append(this.errors, evidence.errors ?? []);
    append(this.lists, evidence.lists ?? []);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`the evidence store in ${this.dir} was disposed`);
    return this.fd;
  }

  private flush(): void {
    const fd = this.openFd();
    if (this.pending.length === 0) return;
    writeAllSync(fd, Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }

  private read(entry: Entry): StoredDocument {
    const fd = this.openFd();
    const buf = Buffer.allocUnsafe(entry.length);
    let got = 0;
    while (got < entry.length) {
      const n = readSync(fd, buf, got, entry.length - got, entry.offset + got);
      if (n === 0) throw new Error(`the evidence spool in ${this.dir} ended early (document ${entry.key})`);
      got += n;
    }
    const { d, p } = JSON.parse(buf.toString('utf8')) as { d: AzureDocument; p: Provenance };
    return { document: d, provenance: p };
  }

  /** Reads back the documents of `ids` entries, in the given order. */
  private readAll(entries: Entry[]): Pick<EvidenceSet, 'documents' | 'provenance'> {
    this.flush();
    const documents: AzureDocument[] = [];
    const provenance: Provenance[] = [];
    for (const e of entries) {
      const { document, provenance: p } = this.read(e);
      documents.push(document);
      provenance.push(p);
    }
    return { documents, provenance };
  }

  /** Documents per lower-case type, without reading any body. */
  typeCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const { type } of this.index()) out.set(type, (out.get(type) ?? 0) + 1);
    return out;
  }

  /** The lower-case id and type of every document, in no particular order, without reading any body. */
  *index(): Iterable<{ id: string; type: string }> {
    for (const [id, slot] of this.slots) yield { id, type: this.typeNames[this.typeIds[slot]!]! };
  }

  /** The documents whose lower-case type passes `wanted`, read from the spool, sorted by id. */
  ofTypes(wanted: (type: string) => boolean): Pick<EvidenceSet, 'documents' | 'provenance'> {
    return this.readAll([...this.entries()].filter((e) => wanted(e.type)).sort(byKey));
  }

  /** {@link PartitionedEvidence}: the documents of the lookup types, read once for the whole evaluation. */
  resident(types: ReadonlySet<string>): Pick<EvidenceSet, 'documents' | 'provenance'> {
    const out = this.ofTypes((t) => types.has(t));
    this.counters.resident = out.documents.length;
    return out;
  }

  /** {@link PartitionedEvidence}: one top-level resource with everything under it at a time, in partition order. */
  *partitions(): Iterable<Pick<EvidenceSet, 'documents' | 'provenance'>> {
    // Only the keys are grouped; entries are made for one partition at a time.
    const groups = new Map<string, string[]>();
    for (const key of this.slots.keys()) {
      const part = partitionKey(key);
      const g = groups.get(part);
      if (g) g.push(key);
      else groups.set(part, [key]);
    }
    for (const part of [...groups.keys()].sort()) {
      const entries = groups.get(part)!.sort().map((key) => this.entryAt(key, this.slots.get(key)!));
      groups.delete(part);
      this.counters.largestPartition = Math.max(this.counters.largestPartition, entries.length);
      yield this.readAll(entries);
    }
  }

  /**
   * The documents grouped by a key (serialize.ts: the resource family), each group's entries sorted by id; bodies are
   * read by the returned `read`, a slice at a time.
   */
  groupedBy(keyOf: (id: string) => string): { groups: Map<string, Array<{ id: string }>>; read: (slice: Array<{ id: string }>) => StoredDocument[] } {
    const groups = new Map<string, Array<{ id: string }>>();
    for (const id of this.slots.keys()) {
      const key = keyOf(id);
      const g = groups.get(key);
      if (g) g.push({ id });
      else groups.set(key, [{ id }]);
    }
    for (const g of groups.values()) g.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      groups,
      read: (slice) => {
        this.flush();
        return slice.map(({ id }) => this.read(this.entryAt(id, this.slots.get(id)!)));
      },
    };
  }

  /** The whole evidence in memory (small estates, tests, `--diff-against`); sorted by id like collect()'s output. */
  toEvidenceSet(): EvidenceSet {
    const { documents, provenance } = this.ofTypes(() => true);
    return { documents, provenance, errors: [...this.errors], lists: [...this.lists] };
  }

  stats(): StoreStats {
    return { documents: this.slots.size, spoolBytes: this.written, ...this.counters };
  }

  /** Closes and removes the spool directory. Safe to call twice. */
  dispose(): void {
    untrack(this);
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    this.pending = [];
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Stores still open. A run interrupted by Ctrl-C (SIGINT) or SIGTERM, or one that calls process.exit, skips its
 * `finally` blocks; these handlers remove the spools first, then let the signal end the process as it would have.
 */
const openStores = new Set<EvidenceStore>();

function disposeAll(): void {
  for (const store of [...openStores]) store.dispose();
}

function onSignal(signal: NodeJS.Signals): void {
  disposeAll();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  // No other listener: the default action ends the process with the signal, as if we had never listened.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function track(store: EvidenceStore): void {
  if (openStores.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', disposeAll);
  }
  openStores.add(store);
}

function untrack(store: EvidenceStore): void {
  if (!openStores.delete(store) || openStores.size > 0) return;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('exit', disposeAll);
}

/**
 * Opens the run's evidence store in a fresh hidden directory beside the output bundle: the same file system, so the
 * streamed evidence files are renamed into the bundle, and never /tmp, which may live in memory.
 */
export function openStoreBeside(outDir: string): EvidenceStore {
  const parent = dirname(outDir);
  try {
    mkdirSync(parent, { recursive: true });
    return new EvidenceStore(join(parent, `.${basename(outDir)}.spool-${randomBytes(6).toString('hex')}`));
  } catch (err) {
    throw new InputError('E_OUT_UNWRITABLE', `cannot create the evidence spool beside ${outDir}: ${(err as Error).message}`, {
      file: parent,
      field: '--out',
      hint: 'Choose an --out directory whose parent exists and is writable (the scan spools its evidence there while it runs).',
    });
  }
}

function byKey(a: Entry, b: Entry): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
