/**
 * Evidence serialisation: an EvidenceSet becomes the files of a bundle's evidence/ directory (docs/decisions/
 * 0002-evidence-format.md): part files grouped by resource family, each itself a snapshot, plus evidence/index.json.
 * Same evidence, same bytes: documents are sorted, JSON is canonical. Everything is redacted once more on the way out.
 */
import type { AzureDocument, CollectionError, EvidenceSet, ListRecord, Provenance } from '../model.js';
import { canonicalJson } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';
import { redactValue } from './redact.js';
import type { EvidenceStore } from './store.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The directory inside a bundle that holds the evidence. */
export const EVIDENCE_DIR = 'evidence';
/** The index file's name inside evidence/. */
export const EVIDENCE_INDEX_FILE = 'index.json';
/** The `format` value of evidence/index.json. */
export const EVIDENCE_FORMAT = 'engram-audit-evidence/1';
/** Most documents in one part file; keeps each file small enough to parse with bounded memory. */
export const DEFAULT_PART_SIZE = 1000;

/** One entry of evidence/index.json. */
export interface EvidenceIndexFileEntry {
  /** File name inside evidence/. */
  file: string;
  sha256: string;
  documents: number;
  /** Lower-case top-level resource type of the documents, or `other`. */
  family: string;
}

/** evidence/index.json. */
export interface EvidenceIndex {
  format: typeof EVIDENCE_FORMAT;
  documents: number;
  files: EvidenceIndexFileEntry[];
  errors: CollectionError[];
  /** Child lists known to have been read (count 0 = read and empty). */
  lists?: ListRecord[];
}

/** One evidence file as the reports list it (the PDF's evidence index): bundle-relative path and digest. */
export interface EvidenceFileDigest {
  /** Path relative to the bundle root, e.g. `evidence/microsoft.storage-storageaccounts-0001.json`. */
  path: string;
  sha256: string;
  /** Documents in the file (0 for evidence/index.json). */
  documents: number;
  /** Bytes in the file. */
  size: number;
  /** Resource family of the documents, or `index` for evidence/index.json. */
  family: string;
}

/** The result of {@link serializeEvidence}: the files to write and their index with digests. */
export interface SerializedEvidence {
  /** Bundle-relative path -> bytes, for every file under evidence/ (empty when they were streamed to `writtenTo`). */
  files: Record<string, Buffer>;
  /**
   * Set by {@link serializeStore}: the directory whose `evidence/` subdirectory already holds every file of `index`
   * (streamed there part by part); the bundle writer moves it into the bundle instead of writing `files`.
   */
  writtenTo?: string;
  /** Every evidence file with its digest, part files in order, evidence/index.json last. */
  index: EvidenceFileDigest[];
  /** Total number of documents. */
  documents: number;
  /** Bundle-relative evidence file path -> ids of the documents it holds (for reports that link findings to files). */
  documentIds: Record<string, string[]>;
}

/**
 * The resource family a document belongs to: the lower-cased type of the first provider resource in its id, so a
 * storage account, its blobServices, its management policy, its diagnostic settings and its probe observations all
 * land in the same family (`microsoft.storage/storageaccounts`). Ids that are not ARM resource ids are `other`.
 */
export function resourceFamily(id: string): string {
  const parts = id.split('/').filter((p) => p !== '');
  const i = parts.findIndex((p) => p.toLowerCase() === 'providers');
  if (i < 0 || parts.length < i + 3) return 'other';
  return `${parts[i + 1]}/${parts[i + 2]}`.toLowerCase();
}

/** A file-name-safe slug of a family: hostile text (ids come from Azure or users) never reaches a file name. */
export function familySlug(family: string): string {
  const slug = family
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 80);
  return slug === '' ? 'other' : slug;
}

function compareIds(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Entry<T> {
  value: T;
  key: string;
  json: string;
}

function sortedEntries<T>(items: T[], idOf: (t: T) => string): Entry<T>[] {
  return items
    .map((value) => ({ value, key: idOf(value), json: canonicalJson(value) }))
    .sort((a, b) => compareIds(a.key, b.key) || compareStrings(a.json, b.json));
}

/**
 * Serialises evidence into the files of evidence/ and their digests, before anything is written, so reports can show
 * the evidence index (paths and SHA-256) and then be written into the same bundle by {@link writeBundle}.
 *
 * Layout: `evidence/<family-slug>-<NNNN>.json`, each `{ documents, provenance }` (a valid snapshot), at most
 * `partSize` documents per file, documents sorted case-insensitively by id; `evidence/index.json` lists the parts
 * with digests and carries the collection errors.
 */
export function serializeEvidence(evidence: EvidenceSet, options: { partSize?: number } = {}): SerializedEvidence {
  const partSize = Math.max(1, Math.floor(options.partSize ?? DEFAULT_PART_SIZE));
  const bySlug = new Map<string, { family: string; docs: AzureDocument[]; prov: Provenance[] }>();
  const group = (id: string) => {
    const family = resourceFamily(id);
    const slug = familySlug(family);
    let g = bySlug.get(slug);
    if (!g) {
      g = { family, docs: [], prov: [] };
      bySlug.set(slug, g);
    } else if (g.family !== family && family < g.family) {
      // Two families with one slug share files; name the group after the smaller family so the choice is stable.
      g.family = family;
    }
    return g;
  };
  // Loaders and collectors redact; this is the last line of defence before disk, so redact again (idempotent).
  const redactedIds = new Set<string>();
  for (const original of evidence.documents) {
    const { value: d, changed } = redactValue(original);
    if (changed) redactedIds.add(String(d.id));
    group(String(d.id)).docs.push(d);
  }
  for (const original of evidence.provenance) {
    const p = redactValue(original).value;
    group(String(p.documentId)).prov.push(redactedIds.has(String(p.documentId)) && !p.redacted ? { ...p, redacted: true } : p);
  }

  const files: Record<string, Buffer> = {};
  const out = new PartWriter((path, bytes) => {
    files[path] = bytes;
  });

  for (const slug of [...bySlug.keys()].sort(compareStrings)) {
    const g = bySlug.get(slug)!;
    const docs = sortedEntries(g.docs, (d) => String(d.id));
    const prov = sortedEntries(g.prov, (p) => String(p.documentId));
    const parts = Math.max(1, Math.ceil(docs.length / partSize));
    // Provenance goes to the part that holds its document; orphans (no such document) go to the first part.
    const partOfId = new Map<string, number>();
    docs.forEach((e, i) => {
      if (!partOfId.has(e.key)) partOfId.set(e.key, Math.floor(i / partSize));
    });
    for (let part = 0; part < parts; part++) {
      const partDocs = docs.slice(part * partSize, (part + 1) * partSize).map((e) => e.value);
      const partProv = prov.filter((e) => (partOfId.get(e.key) ?? 0) === part).map((e) => e.value);
      out.part(slug, g.family, part, partDocs, partProv);
    }
  }
  return out.finish(evidence.errors, evidence.lists, files);
}

/**
 * Writes part files and evidence/index.json through `emit`, and keeps their digests: the one layout both
 * {@link serializeEvidence} (in memory) and {@link serializeStore} (streamed to disk) produce, byte for byte.
 */
class PartWriter {
  readonly index: EvidenceFileDigest[] = [];
  readonly documentIds: Record<string, string[]> = {};
  readonly indexFile: EvidenceIndex = { format: EVIDENCE_FORMAT, documents: 0, files: [], errors: [] };

  constructor(private readonly emit: (path: string, bytes: Buffer) => void) {}

  part(slug: string, family: string, part: number, docs: AzureDocument[], prov: Provenance[]): void {
    const name = `${slug}-${String(part + 1).padStart(4, '0')}.json`;
    const bytes = Buffer.from(canonicalJson({ documents: docs, provenance: prov }), 'utf8');
    const sha256 = sha256Hex(bytes);
    const path = `${EVIDENCE_DIR}/${name}`;
    this.emit(path, bytes);
    this.documentIds[path] = docs.map((d) => String(d.id));
    this.index.push({ path, sha256, documents: docs.length, size: bytes.length, family });
    this.indexFile.files.push({ file: name, sha256, documents: docs.length, family });
    this.indexFile.documents += docs.length;
  }

  finish(errors: CollectionError[], lists: ListRecord[] | undefined, files: Record<string, Buffer>): SerializedEvidence {
    const indexFile = this.indexFile;
    indexFile.errors = sortedEntries(errors.map((e) => redactValue(e).value), (e) => `${e.collector}\u0000${e.scope}\u0000${e.resourceId ?? ''}`).map(
      (e) => e.value,
    );
    if (lists && lists.length > 0) {
      indexFile.lists = sortedEntries(lists, (l) => `${l.parentId.toLowerCase()}\u0000${l.resourceType}\u0000${l.collector}`).map((e) => e.value);
    }
    const indexBytes = Buffer.from(canonicalJson(indexFile), 'utf8');
    const indexPath = `${EVIDENCE_DIR}/${EVIDENCE_INDEX_FILE}`;
    this.emit(indexPath, indexBytes);
    this.index.push({ path: indexPath, sha256: sha256Hex(indexBytes), documents: 0, size: indexBytes.length, family: 'index' });
    return { files, index: this.index, documents: indexFile.documents, documentIds: this.documentIds };
  }
}

/**
 * {@link serializeEvidence} for an {@link EvidenceStore}, streamed: each part file is read from the spool, written to
 * `<dir>/evidence/` and let go before the next, so memory holds one part (at most `partSize` documents) at a time.
 * Same bytes as `serializeEvidence(store.toEvidenceSet())`. `dir` must exist; `dir/evidence` must not.
 */
export function serializeStore(store: EvidenceStore, dir: string, options: { partSize?: number } = {}): SerializedEvidence {
  const partSize = Math.max(1, Math.floor(options.partSize ?? DEFAULT_PART_SIZE));
  mkdirSync(join(dir, EVIDENCE_DIR));
  const out = new PartWriter((path, bytes) => writeFileSync(join(dir, path), bytes, { flag: 'wx', mode: 0o644 }));
  // Families that share a slug share files, named after the smaller family (as serializeEvidence does).
  const { groups, read } = store.groupedBy((id) => familySlug(resourceFamily(id)));
  for (const slug of [...groups.keys()].sort(compareStrings)) {
    const entries = groups.get(slug)!;
    let family: string | undefined;
    for (const e of entries) {
      const f = resourceFamily(e.id);
      if (family === undefined || f < family) family = f;
    }
    const parts = Math.max(1, Math.ceil(entries.length / partSize));
    for (let part = 0; part < parts; part++) {
      // No second redaction here: EvidenceStore.put redacted every document and its provenance on the way in.
      const docs: AzureDocument[] = [];
      const prov: Provenance[] = [];
      for (const { document, provenance } of read(entries.slice(part * partSize, (part + 1) * partSize))) {
        docs.push(document);
        prov.push(provenance);
      }
      out.part(slug, family ?? 'other', part, docs, prov);
    }
  }
  return { ...out.finish(store.errors, store.lists, {}), writtenTo: dir };
}
