/**
 * Drift between two runs (`engram-audit diff OLD NEW`): new failures, fixed findings, other status changes, new and
 * removed resources, and evidence documents whose content changed. Loading verifies bundles first; the comparison
 * itself is pure and deterministic (code-point sort orders). No printing here.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { verifyBundle, type VerifyReport } from '../evidence/index.js';
import { streamBundleEvidence } from '../evidence/snapshot.js';
import type { AzureDocument, EvidenceSet, Result, ResultsFile, Severity, Status } from '../model.js';
import { SEVERITIES } from '../model.js';
import { parseManifest } from '../evidence/manifest.js';
import { canonicalJson } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';

/** One side of a diff, as loaded by {@link loadDiffSide}. */
export interface DiffSide {
  /** The path the user gave. */
  path: string;
  results: ResultsFile;
  /** The bundle's evidence; absent for a results.json outside a bundle. */
  evidence?: EvidenceSet;
  /**
   * The evidence as digests per lower-case document id (see {@link documentDigests}), in place of `evidence`: what a
   * scan whose evidence streams through a store on disk passes, so the diff never needs the documents at once.
   */
  digests?: DocumentDigests;
  /** `verified` (a bundle that verified), `skipped` (--no-verify) or `unbundled` (a bare results.json: nothing to verify). */
  verification: 'verified' | 'skipped' | 'unbundled';
  /** The verification report, when the side is a bundle and verification ran. */
  report?: VerifyReport;
  /** The bundle's evidence files with the digests its SHA256SUMS lists (for the packet's evidence index). */
  evidenceFiles?: { path: string; sha256: string }[];
}

/** Options of {@link loadDiffSide}. */
export interface LoadDiffOptions {
  /** Verify a bundle before reading it (default true). */
  verify?: boolean;
  /** Fingerprints the bundle's signer must have (as `verify --fingerprint`). */
  trustedFingerprints?: string[];
}

async function statOrThrow(path: string, given: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError('E_DIFF_INPUT', code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (err as Error).message})`, {
      file: given,
      hint: 'Give a bundle directory written by engram-audit, or its results.json.',
    });
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readResults(file: string, given: string): Promise<ResultsFile> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError('E_DIFF_INPUT', `results.json cannot be read as JSON (${(err as Error).message})`, {
      file: given,
      hint: 'Give a bundle directory written by engram-audit, or its results.json.',
    });
  }
  const r = value as Partial<ResultsFile> | null;
  if (!r || typeof r !== 'object' || r.tool !== 'engram-audit' || !Array.isArray(r.results) || !Array.isArray(r.controls)) {
    throw new InputError('E_DIFF_INPUT', 'not engram-audit results (no "tool": "engram-audit" with results and controls)', {
      file: given,
      hint: 'Give a bundle directory written by engram-audit, or its results.json.',
    });
  }
  return r as ResultsFile;
}

/**
 * Loads one side: a bundle directory (verified unless `verify: false`, then results.json and evidence/), a
 * results.json inside a bundle (treated as that bundle), or a bare results.json (no evidence, nothing to verify).
 *
 * @throws InputError E_DIFF_INPUT (exit 2) naming the path when it is missing, unreadable or not engram-audit output;
 *   E_DIFF_UNVERIFIED when the bundle does not verify.
 */
export async function loadDiffSide(path: string, options: LoadDiffOptions = {}): Promise<DiffSide> {
  const abs = resolve(path);
  const st = await statOrThrow(abs, path);
  let dir: string | undefined;
  if (st.isDirectory()) {
    if (!(await isFile(join(abs, 'results.json')))) {
      throw new InputError('E_DIFF_INPUT', 'not an engram-audit bundle (no results.json)', {
        file: path,
        hint: 'Give a bundle directory written by engram-audit scan, evaluate or merge.',
      });
    }
    dir = abs;
  } else if (basename(abs) === 'results.json' && (await isFile(join(dirname(abs), 'SHA256SUMS')))) {
    dir = dirname(abs);
  }
  if (!dir) return { path, results: await readResults(abs, path), verification: 'unbundled' };

  let report: VerifyReport | undefined;
  if (options.verify !== false) {
    report = await verifyBundle(dir, { ...(options.trustedFingerprints?.length ? { trustedFingerprints: options.trustedFingerprints } : {}) });
    if (!report.ok) {
      const shown = report.problems.slice(0, 5).join('; ');
      throw new InputError('E_DIFF_UNVERIFIED', `bundle does not verify, refusing to compare it: ${shown}${report.problems.length > 5 ? `; and ${report.problems.length - 5} more` : ''}`, {
        file: path,
        hint: `Run 'engram-audit verify ${path}' for the full report. Pass --no-verify to compare it anyway (the comparison then proves nothing).`,
      });
    }
  }
  const results = await readResults(join(dir, 'results.json'), path);
  // Only a digest per document is kept, read one evidence file at a time, so comparing two large bundles holds neither
  // bundle's evidence. With --no-verify a tampered evidence file may not load; the results can still be compared.
  let digests: DocumentDigests | undefined = new Map();
  try {
    await streamBundleEvidence(dir, (part) => {
      documentDigests(part.documents, digests);
    });
  } catch (err) {
    if (options.verify !== false) throw err;
    digests = undefined;
  }
  let evidenceFiles: { path: string; sha256: string }[] | undefined;
  try {
    evidenceFiles = parseManifest(await readFile(join(dir, 'SHA256SUMS'), 'utf8')).entries.filter((e) => e.path.startsWith('evidence/'));
  } catch {
    evidenceFiles = undefined;
  }
  return {
    path,
    results,
    ...(digests ? { digests } : {}),
    verification: options.verify === false ? 'skipped' : 'verified',
    ...(report ? { report } : {}),
    ...(evidenceFiles ? { evidenceFiles } : {}),
  };
}

/** One (control, check, resource) whose status differs, or that is new. */
export interface ResultChange {
  control: string;
  check: string;
  checkTitle: string;
  resourceId: string;
  resourceName: string;
  resourceType: string;
  severity: Severity;
  /** Status in OLD; absent when the result is new. */
  oldStatus?: Status;
  newStatus?: Status;
  /** The NEW result's message (OLD's when the result is gone). */
  message: string;
}

/** A resource that appears in only one side. */
export interface ResourceRef {
  resourceId: string;
  resourceType: string;
  resourceName: string;
  /** Its worst status on that side. */
  status: Status;
}

/** An evidence document whose canonical JSON changed. */
export interface EvidenceChange {
  id: string;
  type: string;
  oldSha256: string;
  newSha256: string;
}

/** The comparison of two runs. */
export interface BundleDiff {
  old: { path: string; runId: string; startedAt: string; verification: DiffSide['verification'] };
  new: { path: string; runId: string; startedAt: string; verification: DiffSide['verification'] };
  /** Results that fail in NEW and did not fail in OLD (including failures of new resources). */
  newFailures: ResultChange[];
  /** Results that failed in OLD and pass in NEW. */
  fixed: ResultChange[];
  /** Every other status change of a result present in both (pass -> error, fail -> not_applicable, ...). */
  statusChanged: ResultChange[];
  newResources: ResourceRef[];
  removedResources: ResourceRef[];
  evidence: {
    /** False when a side has no evidence (a bare results.json): nothing below was compared. */
    compared: boolean;
    changed: EvidenceChange[];
    added: string[];
    removed: string[];
  };
  controls: { added: string[]; removed: string[] };
}

const STATUS_RANK: Record<Status, number> = { fail: 0, error: 1, manual: 2, pass: 3, not_applicable: 4 };
/** Checks that stand for a whole scope, not a resource: they never make a resource new or removed. */
const SCOPE_CHECKS = new Set(['nothing_in_scope', 'collection_incomplete']);

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const keyOf = (r: Result) => `${r.control}\u0000${r.check}\u0000${r.resourceId.toLowerCase()}`;

/** One result per key: the worst status wins (several results can share a key, e.g. two errors for one scope). */
function byKey(results: Result[]): Map<string, Result> {
  const out = new Map<string, Result>();
  for (const r of results) {
    const had = out.get(keyOf(r));
    if (!had || STATUS_RANK[r.status] < STATUS_RANK[had.status] || (r.status === had.status && cmp(r.message, had.message) < 0)) out.set(keyOf(r), r);
  }
  return out;
}

function resources(results: Result[]): Map<string, ResourceRef> {
  const out = new Map<string, ResourceRef>();
  for (const r of results) {
    if (SCOPE_CHECKS.has(r.check) || r.resourceId === '(scope)') continue;
    const key = r.resourceId.toLowerCase();
    const had = out.get(key);
    if (!had) out.set(key, { resourceId: r.resourceId, resourceType: r.resourceType, resourceName: r.resourceName, status: r.status });
    else if (STATUS_RANK[r.status] < STATUS_RANK[had.status]) had.status = r.status;
  }
  return out;
}

/**
 * The digest a document is compared by: SHA-256 of its canonical JSON. A probe observation's timing
 * (`properties.startedAt`, `properties.durationMs`) is left out, or every probe would "change" every night.
 */
export function documentDigest(doc: AzureDocument): string {
  if (typeof doc.type === 'string' && doc.type.toLowerCase().startsWith('engram.probe/') && doc.properties && typeof doc.properties === 'object') {
    const { startedAt: _s, durationMs: _d, ...rest } = doc.properties as Record<string, unknown>;
    return sha256Hex(canonicalJson({ ...doc, properties: rest }));
  }
  return sha256Hex(canonicalJson(doc));
}

/** Lower-case document id -> the document's id, lower-case type and {@link documentDigest}. */
export type DocumentDigests = Map<string, { id: string; type: string; sha256: string }>;

/** Adds the digests of `documents` to `into` (call once per partition of a streamed evidence set). */
export function documentDigests(documents: Iterable<AzureDocument>, into: DocumentDigests = new Map()): DocumentDigests {
  for (const d of documents) into.set(d.id.toLowerCase(), { id: d.id, type: typeof d.type === 'string' ? d.type.toLowerCase() : '', sha256: documentDigest(d) });
  return into;
}

function digests(side: DiffSide): DocumentDigests {
  return side.digests ?? documentDigests(side.evidence?.documents ?? []);
}

function change(r: Result, oldStatus: Status | undefined, newStatus: Status | undefined): ResultChange {
  return {
    control: r.control,
    check: r.check,
    checkTitle: r.checkTitle,
    resourceId: r.resourceId,
    resourceName: r.resourceName,
    resourceType: r.resourceType,
    severity: r.severity,
    ...(oldStatus ? { oldStatus } : {}),
    ...(newStatus ? { newStatus } : {}),
    message: r.message,
  };
}

const bySeverityThenId = (a: ResultChange, b: ResultChange) =>
  SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || cmp(a.control, b.control) || cmp(a.check, b.check) || cmp(a.resourceId.toLowerCase(), b.resourceId.toLowerCase());

/** Compares two loaded runs. Pure: same sides, same diff. */
export function diffRuns(oldSide: DiffSide, newSide: DiffSide): BundleDiff {
  const before = byKey(oldSide.results.results);
  const after = byKey(newSide.results.results);
  const newFailures: ResultChange[] = [];
  const fixed: ResultChange[] = [];
  const statusChanged: ResultChange[] = [];
  for (const [key, r] of after) {
    const was = before.get(key);
    if (r.status === 'fail' && was?.status !== 'fail') newFailures.push(change(r, was?.status, r.status));
    else if (was && was.status === 'fail' && r.status === 'pass') fixed.push(change(r, was.status, r.status));
    else if (was && was.status !== r.status) statusChanged.push(change(r, was.status, r.status));
  }
  newFailures.sort(bySeverityThenId);
  fixed.sort(bySeverityThenId);
  statusChanged.sort(bySeverityThenId);

  const resBefore = resources(oldSide.results.results);
  const resAfter = resources(newSide.results.results);
  const byResId = (a: ResourceRef, b: ResourceRef) => cmp(a.resourceId.toLowerCase(), b.resourceId.toLowerCase());
  const newResources = [...resAfter].filter(([k]) => !resBefore.has(k)).map(([, v]) => v).sort(byResId);
  const removedResources = [...resBefore].filter(([k]) => !resAfter.has(k)).map(([, v]) => v).sort(byResId);

  const evidence: BundleDiff['evidence'] = { compared: false, changed: [], added: [], removed: [] };
  if ((oldSide.evidence || oldSide.digests) && (newSide.evidence || newSide.digests)) {
    evidence.compared = true;
    const a = digests(oldSide);
    const b = digests(newSide);
    for (const [k, d] of b) {
      const was = a.get(k);
      if (!was) evidence.added.push(d.id);
      else if (was.sha256 !== d.sha256) evidence.changed.push({ id: d.id, type: d.type, oldSha256: was.sha256, newSha256: d.sha256 });
    }
    for (const [k, d] of a) if (!b.has(k)) evidence.removed.push(d.id);
    const lower = (x: string, y: string) => cmp(x.toLowerCase(), y.toLowerCase());
    evidence.changed.sort((x, y) => lower(x.id, y.id));
    evidence.added.sort(lower);
    evidence.removed.sort(lower);
  }

  const ctlBefore = new Set(oldSide.results.controls.map((c) => c.id));
  const ctlAfter = new Set(newSide.results.controls.map((c) => c.id));
  const side = (s: DiffSide) => ({ path: s.path, runId: s.results.runId, startedAt: s.results.startedAt, verification: s.verification });
  return {
    old: side(oldSide),
    new: side(newSide),
    newFailures,
    fixed,
    statusChanged,
    newResources,
    removedResources,
    evidence,
    controls: { added: [...ctlAfter].filter((c) => !ctlBefore.has(c)).sort(cmp), removed: [...ctlBefore].filter((c) => !ctlAfter.has(c)).sort(cmp) },
  };
}

/** New failures at or above `threshold` (the diff command's exit 1 condition). */
export function newFailuresAtOrAbove(diff: BundleDiff, threshold: Severity): ResultChange[] {
  const limit = SEVERITIES.indexOf(threshold);
  return diff.newFailures.filter((r) => SEVERITIES.indexOf(r.severity) <= limit);
}

/** Terminal-safe text: resource names are hostile, so control characters never reach a terminal. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Renders a diff as the text `engram-audit diff` prints; each list shows at most `limit` lines (default 50). */
export function formatDiffText(diff: BundleDiff, limit = 50): string {
  const out: string[] = [];
  const note = (v: DiffSide['verification']) => (v === 'verified' ? 'verified' : v === 'skipped' ? 'NOT VERIFIED (--no-verify)' : 'results.json only, not verified');
  out.push(`Old: ${clean(diff.old.path)} (run ${diff.old.runId}, ${diff.old.startedAt}, ${note(diff.old.verification)})`);
  out.push(`New: ${clean(diff.new.path)} (run ${diff.new.runId}, ${diff.new.startedAt}, ${note(diff.new.verification)})`);
  const section = <T>(title: string, items: T[], line: (t: T) => string) => {
    out.push('', `${title} (${items.length})${items.length === 0 ? ': none' : ':'}`);
    for (const t of items.slice(0, limit)) out.push(`  ${clean(line(t))}`);
    if (items.length > limit) out.push(`  ... and ${items.length - limit} more (--json lists all)`);
  };
  section('New failures', diff.newFailures, (r) => `[${r.severity}] ${r.check} ${r.resourceName} (${r.oldStatus ? `was ${r.oldStatus}` : 'new'}): ${r.message}`);
  section('Fixed', diff.fixed, (r) => `[${r.severity}] ${r.check} ${r.resourceName}: fail -> pass`);
  section('Other status changes', diff.statusChanged, (r) => `[${r.severity}] ${r.check} ${r.resourceName}: ${r.oldStatus} -> ${r.newStatus}`);
  section('New resources', diff.newResources, (r) => `${r.resourceType} ${r.resourceName} ${r.resourceId}`);
  section('Removed resources', diff.removedResources, (r) => `${r.resourceType} ${r.resourceName} ${r.resourceId}`);
  if (diff.evidence.compared) {
    section('Changed evidence', diff.evidence.changed, (e) => `${e.id} sha256 ${e.oldSha256.slice(0, 12)} -> ${e.newSha256.slice(0, 12)}`);
    out.push(`Evidence documents added: ${diff.evidence.added.length}, removed: ${diff.evidence.removed.length}`);
  } else {
    out.push('', 'Changed evidence: not compared (a side is a bare results.json without its bundle)');
  }
  if (diff.controls.added.length > 0) out.push(`Controls only in new: ${diff.controls.added.join(', ')}`);
  if (diff.controls.removed.length > 0) out.push(`Controls only in old: ${diff.controls.removed.join(', ')}`);
  out.push(
    '',
    `Result: ${diff.newFailures.length} new failure${diff.newFailures.length === 1 ? '' : 's'}, ${diff.fixed.length} fixed, ${diff.statusChanged.length} other change${diff.statusChanged.length === 1 ? '' : 's'}, ${diff.newResources.length} new and ${diff.removedResources.length} removed resource${diff.removedResources.length === 1 ? '' : 's'}${diff.evidence.compared ? `, ${diff.evidence.changed.length} changed evidence document${diff.evidence.changed.length === 1 ? '' : 's'}` : ''}`,
  );
  return `${out.join('\n')}\n`;
}

const STATUS_LABEL: Record<Status, string> = { pass: 'Pass', fail: 'Fail', error: 'Error', not_applicable: 'Not applicable', manual: 'Manual' };

/** The packet's "Changes since the previous run" section (report-templates/partials/diff.hbs), from a diff. */
export function diffViewModel(diff: BundleDiff) {
  const row = (r: ResultChange) => ({
    ...r,
    severityLabel: r.severity.charAt(0).toUpperCase() + r.severity.slice(1),
    oldLabel: r.oldStatus ? STATUS_LABEL[r.oldStatus] : 'New',
    newLabel: r.newStatus ? STATUS_LABEL[r.newStatus] : 'Gone',
    oldClass: r.oldStatus ?? 'not_applicable',
    newClass: r.newStatus ?? 'not_applicable',
  });
  return {
    oldRunId: diff.old.runId,
    oldStartedAt: diff.old.startedAt,
    oldVerified: diff.old.verification === 'verified',
    newFailures: diff.newFailures.map(row),
    fixed: diff.fixed.map(row),
    statusChanged: diff.statusChanged.map(row),
    /** Fixed first, then the other status changes: one table in the packet. */
    changes: [...diff.fixed, ...diff.statusChanged].map(row),
    newResources: diff.newResources,
    removedResources: diff.removedResources,
    evidenceCompared: diff.evidence.compared,
    changedEvidence: diff.evidence.changed,
    addedEvidence: diff.evidence.added.length,
    removedEvidence: diff.evidence.removed.length,
    counts: {
      newFailures: diff.newFailures.length,
      fixed: diff.fixed.length,
      statusChanged: diff.statusChanged.length,
      newResources: diff.newResources.length,
      removedResources: diff.removedResources.length,
      changedEvidence: diff.evidence.changed.length,
    },
  };
}

export type DiffViewModel = ReturnType<typeof diffViewModel>;
