/**
 * Merging part bundles (`engram-audit merge`): each part is verified (signature and every digest, against the keys or
 * fingerprints the caller trusts), its results.json and evidence are loaded, and the evidence is unioned: documents
 * deduplicated by id (a conflicting duplicate is an error), provenance, list records and collection errors unioned.
 * The CLI then re-evaluates the union through the normal pipeline, so cross-subscription references resolve and the
 * merged bundle is judged exactly as one unsharded scan would be. No printing here.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { loadSnapshot, verifyBundle, type VerifyReport } from '../evidence/index.js';
import { streamBundleEvidence } from '../evidence/snapshot.js';
import type { EvidenceStore } from '../evidence/store.js';
import { sha256Hex } from '../util/hash.js';
import type { AzureDocument, CollectionError, Coverage, EvidenceSet, ListRecord, MergedPart, Provenance, ResultsFile, Scope } from '../model.js';
import { canonicalJson } from '../util/canonical-json.js';
import { formatShard } from './shard.js';
import { append } from '../util/arrays.js';

/** Which signers a part may have. With neither list, a part's own key is used (integrity, not origin). */
export interface PartTrust {
  /** Public keys (PEM) the caller trusts, each with a label for messages (e.g. the --key path). */
  publicKeys?: { label: string; pem: string }[];
  /** Trusted key fingerprints (hex, colons and `sha256:` allowed). */
  fingerprints?: string[];
}

/** One verified part. */
export interface LoadedPart {
  /** Absolute bundle directory. */
  dir: string;
  results: ResultsFile;
  /**
   * The part's evidence in memory; absent when loaded with `stream: true`, and then {@link mergeParts} reads it from
   * the bundle's evidence/ files, one part file at a time.
   */
  evidence?: EvidenceSet;
  /** The verification that accepted the part. */
  verification: VerifyReport;
}

/** The union of the parts, ready for the pipeline. */
export interface MergedEvidence {
  /** In memory, or the store {@link mergeParts} was given (then its documents never were all in memory at once). */
  evidence: EvidenceSet | EvidenceStore;
  /** Documents in the union. */
  documents: number;
  /** Documents each part held, in the order of the parts given. */
  partDocuments: number[];
  scope: Scope;
  /** Coverage of the union; undefined for snapshot parts (the pipeline derives it, as `evaluate` does). */
  coverage?: Coverage;
  /** Control ids the parts evaluated (the same in every part), sorted. */
  controlIds: string[];
  /** The earliest part start: the merged run judges time-based rules at this instant, so merging is repeatable. */
  startedAt: Date;
  /** Facts worth telling the user (missing shards, version differences). */
  notes: string[];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const sortedUnion = (lists: string[][]): string[] => [...new Set(lists.flat())].sort(cmp);

/**
 * Verifies and loads one part. Accepted when the bundle verifies under one of `trust.publicKeys`, or under its own key
 * whose fingerprint is in `trust.fingerprints`, or (neither given) under its own key.
 *
 * @throws InputError E_MERGE_PART_UNVERIFIED naming the part and every problem; E_MERGE_PART_INVALID when its
 *   results.json is missing or not engram-audit results; the loaders' InputErrors for unreadable evidence.
 */
export async function loadPart(dir: string, trust: PartTrust = {}, options: { stream?: boolean } = {}): Promise<LoadedPart> {
  const root = resolve(dir);
  const attempts: VerifyReport[] = [];
  let accepted: VerifyReport | undefined;
  for (const key of trust.publicKeys ?? []) {
    const report = await verifyBundle(root, { publicKeyPem: key.pem, publicKeyLabel: key.label });
    attempts.push(report);
    if (report.ok) {
      accepted = report;
      break;
    }
  }
  if (!accepted && (trust.fingerprints?.length ?? 0) > 0) {
    const report = await verifyBundle(root, { trustedFingerprints: trust.fingerprints });
    attempts.push(report);
    if (report.ok) accepted = report;
  }
  if (!accepted && (trust.publicKeys?.length ?? 0) === 0 && (trust.fingerprints?.length ?? 0) === 0) {
    const report = await verifyBundle(root);
    attempts.push(report);
    if (report.ok) accepted = report;
  }
  if (!accepted) {
    const problems = [...new Set(attempts.flatMap((a) => a.problems))];
    throw new InputError('E_MERGE_PART_UNVERIFIED', `part does not verify${trust.publicKeys?.length || trust.fingerprints?.length ? ' under any trusted key' : ''}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, {
      file: root,
      hint: `Run 'engram-audit verify ${dir}' for the full report. merge refuses parts that were changed after signing or signed by a key you did not name with --key or --fingerprint.`,
    });
  }
  let results: ResultsFile;
  try {
    results = JSON.parse(await readFile(join(root, 'results.json'), 'utf8')) as ResultsFile;
  } catch (err) {
    throw new InputError('E_MERGE_PART_INVALID', `part has no readable results.json (${(err as Error).message})`, {
      file: root,
      hint: 'Give bundle directories written by engram-audit scan (they always hold results.json).',
    });
  }
  if (!results || results.tool !== 'engram-audit' || !Array.isArray(results.controls) || !results.scope || !results.coverage) {
    throw new InputError('E_MERGE_PART_INVALID', 'results.json is not engram-audit results', { file: join(root, 'results.json') });
  }
  if (options.stream) return { dir: root, results, verification: accepted };
  const evidence = await loadSnapshot(root);
  return { dir: root, results, evidence, verification: accepted };
}

/**
 * Unions verified parts. Refuses parts that cannot belong to one assessment: the same run twice, different control
 * sets, sources or tag filters, shards of different counts or the same shard twice, sharded mixed with unsharded.
 * A missing shard is not refused: it becomes a scope-level collection error (collector `merge`, code `SHARD_MISSING`),
 * so every control in the merged bundle is `error` for it rather than silently covering less.
 *
 * With a `store`, the union goes into it as each part file is read (documents with the provenance of the part that
 * first held them), so the merge of a large estate never holds every part's evidence at once; without one, it is
 * built in memory with every part's provenance.
 *
 * @throws UsageError for parts that do not belong together; InputError E_MERGE_CONFLICT when two parts hold different
 *   documents with the same id.
 */
export async function mergeParts(parts: LoadedPart[], store?: EvidenceStore): Promise<MergedEvidence> {
  if (parts.length === 0) throw new UsageError('merge needs at least one part bundle', { hint: 'Example: engram-audit merge part-1 part-2 --out merged' });
  const notes: string[] = [];
  const byRun = new Map<string, string>();
  const byDir = new Set<string>();
  for (const p of parts) {
    if (byDir.has(p.dir)) throw new UsageError(`part ${p.dir} was given twice`, { hint: 'Name each part bundle once.' });
    byDir.add(p.dir);
    const other = byRun.get(p.results.runId);
    if (other) throw new UsageError(`parts ${other} and ${p.dir} are the same run (runId ${p.results.runId})`, { hint: 'Name each part bundle once.' });
    byRun.set(p.results.runId, p.dir);
  }

  const first = parts[0]!;
  const ids = (p: LoadedPart) => p.results.controls.map((c) => c.id).sort(cmp);
  for (const p of parts.slice(1)) {
    if (canonicalJson(ids(p)) !== canonicalJson(ids(first))) {
      throw new UsageError(`parts evaluated different controls: ${first.dir} has ${ids(first).join(', ') || 'none'}, ${p.dir} has ${ids(p).join(', ') || 'none'}`, {
        hint: 'Merge the parts of one sharded scan: every job runs the same --control list.',
      });
    }
    if (p.results.scope.source !== first.results.scope.source) {
      throw new UsageError(`parts come from different sources: ${first.dir} is ${first.results.scope.source}, ${p.dir} is ${p.results.scope.source}`);
    }
    if (canonicalJson(p.results.scope.tags ?? {}) !== canonicalJson(first.results.scope.tags ?? {})) {
      throw new UsageError(`parts used different --tag filters: ${first.dir} and ${p.dir}`, { hint: 'Every job of one sharded scan uses the same scope flags.' });
    }
    if (p.results.version !== first.results.version) notes.push(`parts were written by different engram-audit versions (${first.results.version}, ${p.results.version})`);
  }

  // Shards: all or none, one count, each index at most once; a missing index is reported, not hidden.
  const sharded = parts.filter((p) => p.results.scope.shard);
  const errors: CollectionError[] = [];
  if (sharded.length > 0) {
    if (sharded.length !== parts.length) {
      const plain = parts.find((p) => !p.results.scope.shard)!;
      throw new UsageError(`cannot merge sharded and unsharded parts: ${plain.dir} has no --shard`, { hint: 'Merge the N parts of one --shard i/N scan.' });
    }
    const count = first.results.scope.shard?.count;
    const seen = new Map<number, string>();
    for (const p of parts) {
      const s = p.results.scope.shard!;
      if (s.count !== count) throw new UsageError(`parts come from different shardings: ${first.dir} is ${formatShard(first.results.scope.shard!)}, ${p.dir} is ${formatShard(s)}`);
      const dup = seen.get(s.index);
      if (dup) throw new UsageError(`shard ${formatShard(s)} was given twice (${dup} and ${p.dir})`, { hint: 'Give each shard of the run once.' });
      seen.set(s.index, p.dir);
    }
    for (let i = 1; i <= count!; i++) {
      if (!seen.has(i)) {
        const shard = `${i}/${count}`;
        notes.push(`shard ${shard} is missing: its subscriptions are not in the merged bundle`);
        errors.push({ collector: 'merge', scope: `shard ${shard}`, code: 'SHARD_MISSING', message: `shard ${shard} was not among the merged parts; the subscriptions it covers were not assessed` });
      }
    }
  }

  // Documents: one per id (ids compare case-insensitively, as Azure's do); the same id with other content is a conflict.
  // Only a digest per id is kept to tell: the documents themselves go to the store (or the in-memory union).
  const seen = new Map<string, { sha256: string; dir: string }>();
  const kept: AzureDocument[] = [];
  const allProvenance: Provenance[] = [];
  const partErrors: CollectionError[] = [];
  const partLists: ListRecord[] = [];
  const counts: Record<string, number> = {};
  const partDocuments = parts.map(() => 0);
  const take = (p: LoadedPart, i: number, chunk: EvidenceSet): void => {
    const provOf = new Map<string, Provenance>();
    if (store) {
      for (const pr of chunk.provenance) {
        if (!provOf.has(pr.documentId.toLowerCase())) provOf.set(pr.documentId.toLowerCase(), pr);
      }
    } else {
      append(allProvenance, chunk.provenance);
    }
    partDocuments[i]! += chunk.documents.length;
    for (const doc of chunk.documents) {
      const key = doc.id.toLowerCase();
      const sha256 = sha256Hex(canonicalJson(doc));
      const had = seen.get(key);
      if (had) {
        if (had.sha256 === sha256) continue;
        throw new InputError('E_MERGE_CONFLICT', `two parts hold different documents with the id ${doc.id}`, {
          file: p.dir,
          hint: `The other is in ${had.dir}. Parts of one assessment never disagree about a resource: merge parts of the same run (re-run the shards together if the estate changed between them).`,
        });
      }
      seen.set(key, { sha256, dir: p.dir });
      const t = String(doc.type ?? 'unknown').toLowerCase();
      counts[t] = (counts[t] ?? 0) + 1;
      if (store) store.put(doc, provOf.get(key) ?? { documentId: doc.id, source: 'snapshot' });
      else kept.push(doc);
    }
    append(partErrors, chunk.errors);
    append(partLists, chunk.lists ?? []);
  };
  for (const [i, p] of parts.entries()) {
    if (p.evidence) take(p, i, p.evidence);
    else await streamBundleEvidence(p.dir, (chunk) => take(p, i, chunk));
  }
  const union = <T>(items: T[]): T[] => {
    const m = new Map<string, T>();
    for (const item of items) m.set(canonicalJson(item), item);
    return [...m.keys()].sort(cmp).map((k) => m.get(k)!);
  };
  const allErrors = union<CollectionError>([...partErrors, ...errors]);
  const lists = union<ListRecord>(partLists).sort((a, b) => cmp(`${a.parentId.toLowerCase()} ${a.resourceType}`, `${b.parentId.toLowerCase()} ${b.resourceType}`));
  let evidence: EvidenceSet | EvidenceStore;
  if (store) {
    append(store.errors, allErrors);
    append(store.lists, lists);
    evidence = store;
  } else {
    const documents = kept.sort((a, b) => cmp(a.id.toLowerCase(), b.id.toLowerCase()));
    const provenance = union<Provenance>(allProvenance).sort((a, b) => cmp(a.documentId.toLowerCase(), b.documentId.toLowerCase()));
    evidence = { documents, provenance, errors: allErrors, ...(lists.length > 0 ? { lists } : {}) };
  }

  const tenants = new Set(parts.map((p) => p.results.scope.tenantId).filter((t): t is string => typeof t === 'string'));
  const partRefs: MergedPart[] = parts
    .map((p) => ({
      runId: p.results.runId,
      ...(p.results.scope.shard ? { shard: { index: p.results.scope.shard.index, count: p.results.scope.shard.count } } : {}),
      subscriptions: [...p.results.coverage.subscriptionsScanned].sort(cmp),
      fingerprint: p.verification.signature.fingerprint ?? '',
      trust: p.verification.trust,
    }))
    .sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0) || cmp(a.runId, b.runId));
  const scope: Scope = {
    ...(tenants.size === 1 ? { tenantId: [...tenants][0]! } : {}),
    subscriptions: sortedUnion(parts.map((p) => p.results.scope.subscriptions)),
    managementGroups: sortedUnion(parts.map((p) => p.results.scope.managementGroups)),
    tags: { ...(first.results.scope.tags ?? {}) },
    source: first.results.scope.source,
    demo: parts.some((p) => p.results.scope.demo === true),
    parts: partRefs,
  };

  let coverage: Coverage | undefined;
  if (scope.source !== 'snapshot') {
    // The collector's counting rule (every document by lower-case type), applied to the union.
    const resourcesByType: Record<string, number> = {};
    for (const k of Object.keys(counts).sort(cmp)) resourcesByType[k] = counts[k]!;
    coverage = {
      subscriptionsRequested: sortedUnion(parts.map((p) => p.results.coverage.subscriptionsRequested)),
      subscriptionsScanned: sortedUnion(parts.map((p) => p.results.coverage.subscriptionsScanned)),
      resourcesByType,
      documents: seen.size,
      errors: allErrors,
    };
  }
  const starts = parts.map((p) => Date.parse(p.results.startedAt)).filter((t) => Number.isFinite(t));
  if (starts.length === 0) throw new InputError('E_MERGE_PART_INVALID', 'no part has a valid startedAt time', { file: first.dir });
  const startedAt = new Date(Math.min(...starts));
  return { evidence, documents: seen.size, partDocuments, scope, ...(coverage ? { coverage } : {}), controlIds: ids(first), startedAt, notes };
}
