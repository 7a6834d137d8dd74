/**
 * Snapshot input (DESIGN.md contract 1): loads `{ "documents": [...] }` files, `az graph query` / `az rest` list output,
 * and bundle evidence directories into an EvidenceSet, validated against schemas/evidence.schema.json and redacted.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ErrorObject } from 'ajv';
import { EngramError, InputError, ValidationError } from '../errors.js';
import type { AzureDocument, CollectionError, EvidenceSet, ListRecord, Provenance } from '../model.js';
import { canonicalJson } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';
import { findSyntaxError, lineColumnAt, locatePointers } from './json-locate.js';
import { redactValue } from './redact.js';
import { EVIDENCE_SCHEMA_PATH, validateIndexShape, validateSnapshotShape } from './schema.js';
import { EVIDENCE_DIR, EVIDENCE_FORMAT, EVIDENCE_INDEX_FILE, type EvidenceIndex } from './serialize.js';
import { append } from '../util/arrays.js';

/** At most this many problems are listed one by one; the rest are counted. */
const MAX_PROBLEMS = 50;

const SNAPSHOT_HINT = `A snapshot is { "documents": [ <Azure REST response bodies> ] }; see docs/evidence-format.md and ${EVIDENCE_SCHEMA_PATH}.`;

/** Reads a file as UTF-8, turning file-system failures into an InputError that names the file. */
async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw fsError(err, file, what);
  }
}

function fsError(err: unknown, file: string, what: string): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new InputError('E_SNAPSHOT_NOT_FOUND', `${what} not found`, {
      file,
      hint: 'Check the path; give a snapshot JSON file, a bundle directory or its evidence/ directory.',
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new InputError('E_SNAPSHOT_UNREADABLE', `${what} is not readable (permission denied)`, {
      file,
      hint: 'Fix the file permissions or run as a user that can read it.',
    });
  }
  return new InputError('E_SNAPSHOT_UNREADABLE', `${what} could not be read: ${(err as Error).message}`, { file });
}

/** Parses JSON, or throws an InputError with file:line:column of the first syntax error. */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    const found = findSyntaxError(text);
    const offset = found?.offset ?? text.length;
    const { line, column } = lineColumnAt(text, offset);
    const reason = found?.message ?? (err as Error).message;
    throw new InputError('E_SNAPSHOT_NOT_JSON', `not valid JSON: ${reason} at line ${line}, column ${column}`, {
      file,
      line,
      column,
      hint: `Fix the JSON at ${basename(file)}:${line}:${column} (check it with \`jq . ${basename(file)}\`). ${SNAPSHOT_HINT}`,
    });
  }
}

interface Shape {
  /** The object validated against the snapshot schema (with `documents`). */
  snapshot: unknown;
  /** Pointer prefix of the documents array in the file (`/documents`, `/data` or `/value`). */
  documentsPointer: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Recognises the accepted top-level shapes; refuses truncated `az` output (fail closed: never a dropped resource). */
function recogniseShape(value: unknown, file: string): Shape {
  if (Array.isArray(value)) {
    throw new InputError('E_SNAPSHOT_SHAPE', 'the file is a bare JSON array, not a snapshot object', {
      file,
      line: 1,
      field: '/',
      hint: `Wrap it: jq '{documents: .}' ${basename(file)} > snapshot.json. ${SNAPSHOT_HINT}`,
    });
  }
  if (!isObject(value)) {
    throw new InputError('E_SNAPSHOT_SHAPE', 'the file does not hold a JSON object', { file, line: 1, field: '/', hint: SNAPSHOT_HINT });
  }
  if ('documents' in value) return { snapshot: value, documentsPointer: '/documents' };
  if (Array.isArray(value.data)) {
    // `az graph query -q ...` output: { count, data, skip_token, total_records }.
    const token = value.skip_token ?? value.skipToken ?? value.$skipToken;
    if (token !== undefined && token !== null && token !== '') {
      throw new InputError('E_SNAPSHOT_TRUNCATED', 'this `az graph query` output is one page of several (skip_token is set): resources would be missing', {
        file,
        field: '/skip_token',
        hint: 'Fetch every page (az graph query ... --first 1000 --skip-token <token>, repeated) and combine them: jq -s \'{documents: [.[].data[]]}\' page-*.json > snapshot.json',
      });
    }
    return { snapshot: { documents: value.data }, documentsPointer: '/data' };
  }
  if (Array.isArray(value.value)) {
    // `az rest --method get --url .../list` output: { value, nextLink }.
    if (value.nextLink !== undefined && value.nextLink !== null && value.nextLink !== '') {
      throw new InputError('E_SNAPSHOT_TRUNCATED', 'this `az rest` list output is one page of several (nextLink is set): resources would be missing', {
        file,
        field: '/nextLink',
        hint: 'Follow nextLink until it is absent and combine the pages: jq -s \'{documents: [.[].value[]]}\' page-*.json > snapshot.json',
      });
    }
    return { snapshot: { documents: value.value }, documentsPointer: '/value' };
  }
  throw new InputError('E_SNAPSHOT_SHAPE', 'no `documents` array', {
    file,
    line: 1,
    field: '/documents',
    hint: `Put the Azure response bodies in a top-level "documents" array (az graph query's "data" and az rest's "value" arrays are accepted as they are). ${SNAPSHOT_HINT}`,
  });
}

/** Turns ajv errors into InputErrors with pointer and line, collected into one ValidationError. */
function schemaProblems(errors: ErrorObject[], text: string, file: string, shape: Shape, what: string): ValidationError {
  const filePointer = (p: string) =>
    shape.documentsPointer !== '/documents' && p.startsWith('/documents') ? shape.documentsPointer + p.slice('/documents'.length) : p;
  const problems = errors
    // `if`/`anyOf` wrappers repeat their children's messages; the children are the useful ones.
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'anyOf')
    .map((e) => {
      const missing = e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : undefined;
      const at = filePointer(e.instancePath);
      return { e, at, pointer: missing !== undefined ? `${at}/${missing}` : at, missing };
    });
  const located = locatePointers(
    text,
    problems.map((p) => p.at),
  );
  const out: EngramError[] = problems.slice(0, MAX_PROBLEMS).map(({ e, at, pointer, missing }) => {
    const offset = located.get(at);
    const line = offset === undefined ? undefined : lineColumnAt(text, offset).line;
    let message: string;
    let hint: string | undefined;
    if (missing === 'id' && /^\/(documents|data|value)\/\d+$/.test(at)) {
      message = 'document has no `id`';
      hint = 'Every document needs its Azure resource id as a string, exactly as the REST API returns it.';
    } else if (missing !== undefined) {
      message = `missing required property \`${missing}\``;
    } else if (/\/id$/.test(pointer) && e.keyword === 'type') {
      message = '`id` must be a string';
      hint = 'Every document needs its Azure resource id as a string, exactly as the REST API returns it.';
    } else {
      const allowed = e.keyword === 'enum' ? `: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : '';
      message = `${e.message ?? 'is invalid'}${allowed}`;
    }
    return new InputError('E_SNAPSHOT_INVALID', message, { file, line, field: pointer, hint });
  });
  const more = problems.length - out.length;
  const summary = `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${what}${more > 0 ? ` (first ${out.length} listed)` : ''}`;
  return new ValidationError(summary, out, { file, hint: SNAPSHOT_HINT });
}

/** Redacts documents, provenance and errors; adds `snapshot` provenance for documents that have none. */
function redactEvidence(raw: RawEvidence): EvidenceSet {
  const documents: AzureDocument[] = [];
  const redactedIds = new Set<string>();
  const fresh: Provenance[] = [];
  const given = new Set(raw.provenance.map((p) => p.documentId));
  for (const original of raw.documents) {
    const { value, changed } = redactValue(original);
    documents.push(value);
    if (changed) redactedIds.add(value.id);
    if (!given.has(original.id) && !given.has(value.id)) {
      const p: Provenance = { documentId: value.id, source: 'snapshot' };
      // A digest of a body whose secret was removed would let someone test guesses of that secret: leave it out.
      if (changed) p.redacted = true;
      else p.bodySha256 = sha256Hex(canonicalJson(original));
      fresh.push(p);
    }
  }
  const provenance = raw.provenance.map((p) => {
    const { value } = redactValue(p);
    return redactedIds.has(value.documentId) ? { ...value, redacted: true } : value;
  });
  const errors = raw.errors.map((e) => redactValue(e).value);
  return { documents, provenance: [...provenance, ...fresh], errors, ...(raw.lists.length > 0 ? { lists: raw.lists } : {}) };
}

interface RawEvidence {
  documents: AzureDocument[];
  provenance: Provenance[];
  errors: CollectionError[];
  lists: ListRecord[];
}

/** Reads, parses, recognises and validates one snapshot file (not yet redacted). */
async function readSnapshotFile(file: string, text?: string, parsed?: unknown): Promise<RawEvidence> {
  const body = text ?? (await readText(file, 'snapshot file'));
  const value = parsed ?? parseJsonFile(body, file);
  const shape = recogniseShape(value, file);
  const errors = validateSnapshotShape(shape.snapshot);
  if (errors.length > 0) throw schemaProblems(errors, body, file, shape, 'the snapshot');
  const s = shape.snapshot as Partial<RawEvidence> & { documents: AzureDocument[] };
  return { documents: s.documents, provenance: s.provenance ?? [], errors: s.errors ?? [], lists: s.lists ?? [] };
}

/**
 * Reads a bundle's evidence/ directory through its index, one part file at a time, checking each part's digest and
 * document count; `onPart` gets each part (not yet redacted) and may let it go before the next is read. Returns the
 * index's collection errors and list records.
 */
async function eachEvidencePart(dir: string, onPart: (part: RawEvidence) => void | Promise<void>): Promise<Pick<RawEvidence, 'errors' | 'lists'>> {
  const indexPath = join(dir, EVIDENCE_INDEX_FILE);
  const text = await readText(indexPath, 'evidence index');
  const value = parseJsonFile(text, indexPath);
  const errors = validateIndexShape(value);
  if (errors.length > 0) {
    throw schemaProblems(errors, text, indexPath, { snapshot: value, documentsPointer: '/documents' }, 'the evidence index');
  }
  const index = value as EvidenceIndex;
  for (const entry of index.files) {
    const file = join(dir, entry.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw fsError(err, file, 'evidence file listed in index.json');
    }
    if (sha256Hex(bytes) !== entry.sha256) {
      throw new InputError('E_EVIDENCE_CHANGED', 'evidence file does not match the digest in index.json: it was changed after the bundle was written', {
        file,
        hint: 'Run `engram-audit verify <bundle>` to see every changed file; evaluate only evidence that verifies.',
      });
    }
    const part = await readSnapshotFile(file, bytes.toString('utf8'));
    if (part.documents.length !== entry.documents) {
      throw new InputError('E_EVIDENCE_CHANGED', `evidence file holds ${part.documents.length} documents, index.json says ${entry.documents}`, {
        file,
        hint: 'Run `engram-audit verify <bundle>`.',
      });
    }
    await onPart(part);
  }
  return { errors: [...index.errors], lists: [...(index.lists ?? [])] };
}

/** Loads a bundle's evidence/ directory through its index, checking each part's digest. */
async function readEvidenceDir(dir: string): Promise<RawEvidence> {
  const out: RawEvidence = { documents: [], provenance: [], errors: [], lists: [] };
  const fromIndex = await eachEvidencePart(dir, (part) => {
    append(out.documents, part.documents);
    append(out.provenance, part.provenance);
    append(out.errors, part.errors);
    append(out.lists, part.lists);
  });
  return { ...out, errors: [...fromIndex.errors, ...out.errors], lists: [...fromIndex.lists, ...out.lists] };
}

/**
 * Streams a bundle's evidence (a bundle directory or its evidence/ directory) part file by part file: each part is
 * checked against index.json, redacted, and handed to `onPart` as a small evidence set; then one last set with the
 * index's collection errors and list records. For merging and diffing large bundles without holding their evidence.
 *
 * @throws InputError as {@link loadSnapshot} does, naming the part file.
 */
export async function streamBundleEvidence(path: string, onPart: (part: EvidenceSet) => void | Promise<void>): Promise<void> {
  const dir = await evidenceDirOf(path, 'Give a bundle directory written by engram-audit.');
  const fromIndex = await eachEvidencePart(dir, (part) => onPart(redactEvidence(part)));
  await onPart(redactEvidence({ documents: [], provenance: [], ...fromIndex }));
}

/** The evidence/ directory of a bundle directory, or the directory itself when it is one; an InputError otherwise. */
async function evidenceDirOf(path: string, hint: string): Promise<string> {
  if (await exists(join(path, EVIDENCE_DIR, EVIDENCE_INDEX_FILE))) return join(path, EVIDENCE_DIR);
  if (await exists(join(path, EVIDENCE_INDEX_FILE))) return path;
  throw new InputError('E_SNAPSHOT_SHAPE', `directory is neither a bundle nor a bundle's evidence/ directory (no ${EVIDENCE_DIR}/${EVIDENCE_INDEX_FILE})`, {
    file: path,
    hint,
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads evidence from `path`: a snapshot file (`{ "documents": [...] }`, optionally with `provenance` and `errors`),
 * `az graph query` output (`{ "data": [...] }`) or `az rest` list output (`{ "value": [...] }`) when complete, a bundle
 * directory, its evidence/ directory, or evidence/index.json. Every document is redacted; documents without provenance
 * get a `snapshot` provenance record.
 *
 * @throws InputError (exit 2) naming the file, with line:column for JSON syntax errors and the JSON pointer of bad fields.
 * @throws ValidationError (exit 2) listing every schema problem, each with its pointer (e.g. `/documents/3/id`) and line.
 */
export async function loadSnapshot(path: string): Promise<EvidenceSet> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fsError(err, path, 'snapshot');
  }
  if (st.isDirectory()) {
    return redactEvidence(await readEvidenceDir(await evidenceDirOf(path, 'Give a snapshot JSON file, or a bundle directory written by engram-audit.')));
  }
  const text = await readText(path, 'snapshot file');
  const value = parseJsonFile(text, path);
  if (isObject(value) && value.format === EVIDENCE_FORMAT && (await isDirectory(dirname(path)))) {
    return redactEvidence(await readEvidenceDir(dirname(path)));
  }
  return redactEvidence(await readSnapshotFile(path, text, value));
}
