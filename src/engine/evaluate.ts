/**
 * The engine: judges evidence against controls. Pure (no file system, no network, clock injected): evidence in,
 * per-resource results and per-control summaries out. Fails closed: missing evidence, collection errors and throwing
 * conditions become `error` results; a control with nothing in scope is `error`, never `pass`.
 */
import type { AzureDocument, CollectionError, ControlSummary, EvidenceSet, Explanation, ListRecord, Provenance, Result, Severity, Status } from '../model.js';
import { SEVERITIES, emptyCounts } from '../model.js';
import type { Check, Condition, Control, Environment, Parameter } from '../controls/types.js';
import { ENVIRONMENTS } from '../controls/types.js';
import { redactString, redactValue } from '../evidence/redact.js';
import { append } from '../util/arrays.js';
import { evaluateCondition, type EvalContext } from './condition.js';
import { COLLECTION_TYPE, DocumentIndex, docName, docType, normId, parentId, partitionKey } from './documents.js';

export interface EvaluateOptions {
  /** The run's clock for time-based rules (`days_since`, `days_until`); the engine never reads the system clock. */
  now: Date;
  /** Tag that carries the environment (default `environment`), compared case-insensitively. */
  environmentTag?: string;
}

export interface Evaluation {
  controls: ControlSummary[];
  results: Result[];
}

/** Synthetic check id of the result a control gets when nothing in the evidence is in its scope. */
export const NOTHING_IN_SCOPE = 'nothing_in_scope';
/** Synthetic check id of results for collection failures that concern a whole resource type or scope. */
export const COLLECTION_INCOMPLETE = 'collection_incomplete';

/**
 * Evidence seen one partition at a time (a top-level resource with its children, extension resources and probe
 * observations; see `partitionKey`), so an estate streamed to disk is never held whole: only one partition, the
 * resident documents and the results are in memory at once. `partitionEvidence` makes one from an in-memory set;
 * the disk-backed `EvidenceStore` is another.
 */
export interface PartitionedEvidence {
  errors: CollectionError[];
  lists?: ListRecord[];
  /** The documents of these lower-case types (and their provenance), read once and kept for every partition. */
  resident(types: ReadonlySet<string>): Pick<EvidenceSet, 'documents' | 'provenance'>;
  /** Every partition once; each document in exactly one partition, first occurrence of an id wins. */
  partitions(): Iterable<Pick<EvidenceSet, 'documents' | 'provenance'>>;
}

/**
 * Evaluates every check of `controls` over `evidence`.
 *
 * Per check, the targets are the documents of its `resource_type`. Results are sorted by control id, check order in the
 * control, then resource id. Control status: `fail` if any result fails, else `error` if any errors, else `manual` if any
 * awaits a human (an attestation), else `pass` if any passes, else `not_applicable`; with no result at all, one synthetic `error` result says nothing was in scope.
 */
export function evaluate(evidence: EvidenceSet, controls: Control[], options: EvaluateOptions): Evaluation {
  return evaluatePartitioned(partitionEvidence(evidence), controls, options);
}

/**
 * The types a lookup may reach from any partition: each `lookup.type`, and the types of `related` children read
 * inside a lookup's `where` (the children of a looked-up document live in its partition, not the target's).
 */
export function residentTypes(controls: Control[]): Set<string> {
  const out = new Set<string>();
  for (const control of controls) {
    for (const check of control.checks) {
      forEachReference(check, (kind, type, inLookup) => {
        if (kind === 'lookup' || inLookup) out.add(type);
      });
    }
  }
  return out;
}

/**
 * Splits an in-memory evidence set into partitions (see {@link PartitionedEvidence}). A list body (`value: [...]`) is
 * split too: its items go to their own partitions and a marker of the list (no items) to the list's, so "this list was
 * collected" still holds where the engine asks. The first document of an id wins, as in a whole-set index.
 */
export function partitionEvidence(evidence: EvidenceSet): PartitionedEvidence {
  const parts = new Map<string, { documents: AzureDocument[]; provenance: Provenance[] }>();
  const partOf = (id: string) => {
    const key = partitionKey(id);
    let p = parts.get(key);
    if (!p) parts.set(key, (p = { documents: [], provenance: [] }));
    return p;
  };
  const seen = new Set<string>();
  const flat: AzureDocument[] = [];
  const add = (doc: AzureDocument): void => {
    if (!doc || typeof doc.id !== 'string') return;
    const type = docType(doc);
    const items = (doc as { value?: unknown }).value;
    if (Array.isArray(items) && (type === '' || type === COLLECTION_TYPE)) {
      partOf(doc.id).documents.push({ ...doc, value: [] });
      for (const item of items) if (item && typeof item === 'object') add(item as AzureDocument);
      return;
    }
    const id = normId(doc.id);
    if (seen.has(id)) return;
    seen.add(id);
    flat.push(doc);
    partOf(doc.id).documents.push(doc);
  };
  for (const doc of evidence.documents) add(doc);
  for (const p of evidence.provenance ?? []) if (p && typeof p.documentId === 'string') partOf(p.documentId).provenance.push(p);
  return {
    errors: evidence.errors ?? [],
    ...(evidence.lists ? { lists: evidence.lists } : {}),
    resident: (types) => ({ documents: flat.filter((d) => types.has(docType(d))), provenance: [] }),
    partitions: () => [...parts.keys()].sort().map((k) => parts.get(k)!),
  };
}

/** One check's state across partitions. */
interface CheckRun {
  control: Control;
  check: Check;
  /** Results so far, already scrubbed. */
  results: Result[];
  /** Targets selected so far (for `if_no_target`). */
  selected: number;
  /** Errors that say "the targets under this parent could not be listed", and whether a target turned up there after all. */
  parentErrors: Array<{ err: CollectionError; parent: string; covered: boolean }>;
}

/** {@link evaluate} over evidence seen one partition at a time; the same results as over the whole set at once. */
export function evaluatePartitioned(evidence: PartitionedEvidence, controls: Control[], options: EvaluateOptions): Evaluation {
  const tag = (options.environmentTag ?? 'environment').toLowerCase();
  const errors = evidence.errors ?? [];
  const sortedControls = [...controls].sort((a, b) => cmp(a.id, b.id));
  const runs: CheckRun[] = sortedControls.flatMap((control) =>
    control.checks.map((check) => {
      const type = check.resource_type.toLowerCase();
      const parentErrors = errors
        .filter((e) => e.resourceId !== undefined && e.resourceType !== undefined && e.resourceType.toLowerCase() === type)
        .map((err) => ({ err, parent: normId(err.resourceId!), covered: false }));
      return { control, check, results: typeErrors(control, check, errors).map(scrub), selected: 0, parentErrors };
    }),
  );
  const resident = residentTypes(controls);
  const base = new DocumentIndex({ ...evidence.resident(resident), ...(evidence.lists ? { lists: evidence.lists } : {}) }, undefined, resident);
  for (const part of evidence.partitions()) {
    const index = new DocumentIndex(part, base);
    for (const run of runs) {
      const from = run.results.length;
      evaluateTargets(run, index, errors, tag, options.now);
      // Scrubbed as they are made: the unscrubbed copies die young instead of doubling the results at the end.
      for (let i = from; i < run.results.length; i++) run.results[i] = scrub(run.results[i]!);
    }
  }
  const summaries: ControlSummary[] = [];
  const all: Result[] = [];
  for (const control of sortedControls) {
    const results: Result[] = [];
    for (const run of runs) {
      if (run.control !== control) continue;
      const out = append(run.results, [...uncoveredParents(run), ...noTarget(run)].map(scrub));
      run.results = [];
      // Sort keys computed once per result, not once per comparison.
      const keyed = out.map((r) => ({ r, key: normId(r.resourceId) }));
      keyed.sort((a, b) => cmp(a.key, b.key) || cmp(a.r.status, b.r.status));
      for (const { r } of keyed) results.push(r);
    }
    // A failure that concerns a whole scope (a subscription that could not be listed) may hide any resource.
    for (const err of errors) {
      if (err.resourceId === undefined && err.resourceType === undefined) results.push(scopeIncomplete(control, err));
    }
    if (results.length === 0) results.push(nothingInScope(control));
    const counts = emptyCounts();
    for (const r of results) counts[r.status] += 1;
    // An awaited attestation (manual) outranks pass: a control is satisfied only when nothing still needs a human.
    const status: Status = counts.fail ? 'fail' : counts.error ? 'error' : counts.manual ? 'manual' : counts.pass ? 'pass' : 'not_applicable';
    summaries.push({ id: control.id, title: control.title, status, counts, nistAiRmf: [...control.nist_ai_rmf], sp80053: [...control.sp800_53] });
    append(all, results);
  }
  return { controls: summaries, results: all };
}

/**
 * Names, tags and property values are hostile text: a connection string pasted into a tag must not reach a report
 * through a message. Evidence is redacted when collected; this is the engine's own guard on what it writes.
 */
function scrub(r: Result): Result {
  const out: Result = { ...r, message: redactString(r.message), actual: redactString(r.actual) };
  if (r.environment !== undefined) out.environment = redactString(r.environment);
  // Only `actual` carries document content; paths, operators and expected values come from the control file.
  if (r.explanation) out.explanation = r.explanation.map((e) => (e.actual === undefined || typeof e.actual === 'number' || typeof e.actual === 'boolean' ? e : { ...e, actual: redactValue(e.actual).value }));
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function nothingInScope(control: Control): Result {
  const types = [...new Set(control.checks.map((c) => c.resource_type))].sort();
  return {
    control: control.id,
    check: NOTHING_IN_SCOPE,
    checkTitle: `${control.id} has at least one resource in scope`,
    resourceId: '(scope)',
    resourceType: types.join(', '),
    resourceName: '(scope)',
    status: 'error',
    severity: highestSeverity(control.checks.map((c) => c.severity)),
    message:
      `Nothing in scope for ${control.id}: the evidence holds no resource of type ${types.join(', ')}. ` +
      'Check the scope (--subscription, --management-group, --tag), the collection errors, and that the snapshot contains these resources.',
    expected: `at least one resource of type ${types.join(', ')}`,
    actual: 'none in the evidence',
    evidence: [],
  };
}

function scopeIncomplete(control: Control, err: CollectionError): Result {
  return {
    control: control.id,
    check: COLLECTION_INCOMPLETE,
    checkTitle: `${control.id} evidence was collected for the whole scope`,
    resourceId: err.scope,
    resourceType: '(scope)',
    resourceName: err.scope,
    status: 'error',
    severity: highestSeverity(control.checks.map((c) => c.severity)),
    message: `Could not evaluate ${control.id} completely: collecting ${err.scope} failed (${err.collector}: ${err.code}: ${err.message}); resources there may be missing.`,
    expected: `${err.scope} collected`,
    actual: `collection error ${err.code}`,
    evidence: [],
  };
}

function highestSeverity(list: Severity[]): Severity {
  for (const s of SEVERITIES) if (list.includes(s)) return s;
  return 'info';
}

/** Types a check reads: its target, related children, lookups. A collection error on any of them affects it. */
export function typesRead(check: Check): Set<string> {
  const types = new Set<string>([check.resource_type.toLowerCase()]);
  forEachReference(check, (_kind, type) => types.add(type));
  return types;
}

/**
 * Calls `visit` for every `related` and `lookup` in a check's condition, selection and precondition, with the
 * lower-case type it reads and whether it sits inside a lookup's `where` (reading around a looked-up document).
 */
function forEachReference(check: Check, visit: (kind: 'related' | 'lookup', type: string, inLookup: boolean) => void): void {
  const walk = (c: Condition | undefined, inLookup: boolean): void => {
    if (!c || typeof c !== 'object') return;
    if ('all' in c) c.all.forEach((x) => walk(x, inLookup));
    else if ('any' in c) c.any.forEach((x) => walk(x, inLookup));
    else if ('not' in c) walk(c.not, inLookup);
    else if ('some' in c) walk(c.some.where, inLookup);
    else if ('every' in c) walk(c.every.where, inLookup);
    else if ('none' in c) walk(c.none.where, inLookup);
    else if ('count' in c) walk(c.count.where, inLookup);
    else if ('related' in c) {
      visit('related', c.related.type.toLowerCase(), inLookup);
      walk(c.related.where, inLookup);
    } else if ('lookup' in c) {
      visit('lookup', c.lookup.type.toLowerCase(), inLookup);
      walk(c.lookup.where, true);
    }
  };
  walk(check.condition, false);
  walk(check.select, false);
  walk(check.applies_if, false);
}

function environmentOf(doc: AzureDocument, tag: string): string | undefined {
  const tags = doc.tags;
  if (!tags || typeof tags !== 'object') return undefined;
  for (const [k, v] of Object.entries(tags)) {
    if (k.toLowerCase() === tag && typeof v === 'string' && v.trim()) return v.trim().toLowerCase();
  }
  return undefined;
}

/**
 * The environment of a document: its own tag, else the nearest ancestor's (a container, blob service or diagnostic
 * setting carries no tags; it belongs to the environment of the account or server it lives under).
 */
function inheritedEnvironment(doc: AzureDocument, tag: string, index: DocumentIndex): string | undefined {
  const own = environmentOf(doc, tag);
  if (own !== undefined) return own;
  for (let id = parentId(doc.id); id !== undefined; id = parentId(id)) {
    const parent = index.get(id);
    const env = parent ? environmentOf(parent, tag) : undefined;
    if (env !== undefined) return env;
  }
  return undefined;
}

const isKnownEnv = (e: string | undefined): e is Environment => e !== undefined && (ENVIRONMENTS as readonly string[]).includes(e);

/**
 * Parameter values for one resource. `by_environment` applies for a known environment tag; an untagged resource (or one
 * whose tag is not dev/test/uat/prod) takes `by_environment.untagged`, else `by_environment.prod`, else the default:
 * without a trustworthy tag the strictest (production) threshold is the conservative reading.
 */
export function resolveParameters(control: Control, check: Check, env: string | undefined): Record<string, unknown> {
  const merged: Record<string, Parameter> = { ...(control.parameters ?? {}), ...(check.parameters ?? {}) };
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(merged)) {
    const by = p.by_environment ?? {};
    let v: unknown = p.default;
    if (isKnownEnv(env)) {
      if (by[env] !== undefined) v = by[env];
    } else if (by.untagged !== undefined) v = by.untagged;
    else if (by.prod !== undefined) v = by.prod;
    out[name] = v;
  }
  return out;
}

function errorApplies(err: CollectionError, doc: AzureDocument, read: Set<string>): boolean {
  // A type the check reads through a lookup or related documents could not be listed at all (metric alerts of a
  // subscription): any target may be missing what it needs. The check's own type is reported once, separately.
  if (err.resourceId === undefined) return err.resourceType !== undefined && err.resourceType.toLowerCase() !== docType(doc) && read.has(err.resourceType.toLowerCase());
  const rid = normId(err.resourceId);
  const id = normId(doc.id);
  // A failure recorded against the parent for documents of the target's own type (a probe of this server that could
  // not observe, whose observation document is the target) makes that target an error, not a verdict.
  if (id.startsWith(`${rid}/`) && err.resourceType !== undefined && err.resourceType.toLowerCase() === docType(doc)) return true;
  if (rid !== id && !rid.startsWith(`${id}/`)) return false;
  return err.resourceType === undefined || read.has(err.resourceType.toLowerCase());
}

function resultBase(control: Control, check: Check, doc: AzureDocument | undefined) {
  return {
    control: control.id,
    check: check.id,
    checkTitle: check.title,
    severity: check.severity,
    remediation: { cli: check.remediation.cli, bicep: check.remediation.bicep },
    ...(check.policy_definition_id ? { policyDefinitionId: check.policy_definition_id } : {}),
    reperform: reperform(check, doc),
  };
}

/** A failure to list a whole type (no resource id) means targets may be missing: say so once per check. */
function typeErrors(control: Control, check: Check, errors: CollectionError[]): Result[] {
  const type = check.resource_type.toLowerCase();
  const out: Result[] = [];
  for (const err of errors) {
    if (err.resourceId === undefined && err.resourceType !== undefined && err.resourceType.toLowerCase() === type) {
      out.push({
        ...resultBase(control, check, undefined),
        resourceId: err.scope,
        resourceType: type,
        resourceName: err.scope,
        status: 'error',
        message: `Could not evaluate ${check.id}: collecting ${type} in ${err.scope} failed (${err.collector}: ${err.code}: ${err.message}).`,
        expected: `${type} collected in ${err.scope}`,
        actual: `collection error ${err.code}`,
        evidence: [],
      });
    }
  }
  return out;
}

/** A failure to list this check's targets under one parent (the keys of a vault) leaves no target to carry it. */
function uncoveredParents(run: CheckRun): Result[] {
  const type = run.check.resource_type.toLowerCase();
  return run.parentErrors
    .filter((p) => !p.covered)
    .map(({ err }) => ({
      ...resultBase(run.control, run.check, undefined),
      resourceId: err.resourceId!,
      resourceType: type,
      resourceName: err.resourceId!.split('/').pop() ?? err.resourceId!,
      status: 'error' as const,
      message: `Could not evaluate ${run.check.id} for the ${type} of ${err.resourceId}: collection failed (${err.collector}: ${err.code}: ${err.message}).`,
      expected: `${type} under ${err.resourceId} collected`,
      actual: `collection error ${err.code}`,
      evidence: [],
    }));
}

/** The check's `if_no_target` result when no partition held a selected target. */
function noTarget(run: CheckRun): Result[] {
  const { control, check } = run;
  if (run.selected > 0 || !check.if_no_target) return [];
  const type = check.resource_type.toLowerCase();
  const t = check.if_no_target;
  const fake: AzureDocument = { id: t.resource_id, type: type };
  const name = docName(fake);
  return [
    {
      ...resultBase(control, check, fake),
      resourceId: t.resource_id,
      resourceType: type,
      resourceName: name,
      status: t.status,
      message: fill(t.message, { doc: fake, name, params: resolveParameters(control, check, undefined), expected: `a ${type} document selected by ${check.id}`, actual: 'none in the evidence' }),
      expected: `a ${type} document selected by ${check.id}`,
      actual: 'none in the evidence',
      evidence: [],
    },
  ];
}

/** Evaluates one check on the targets of one partition, adding to `run`. */
function evaluateTargets(run: CheckRun, index: DocumentIndex, errors: CollectionError[], tag: string, now: Date): void {
  const { control, check } = run;
  const type = check.resource_type.toLowerCase();
  const targets = index.ofType(type);
  if (targets.length === 0) return;
  const read = typesRead(check);
  const out = run.results;
  const base = (doc: AzureDocument | undefined) => resultBase(control, check, doc);
  for (const p of run.parentErrors) {
    if (!p.covered && targets.some((d) => normId(d.id) === p.parent || normId(d.id).startsWith(`${p.parent}/`))) p.covered = true;
  }

  const envList = check.applicability?.environments?.map((e) => e.toLowerCase());
  for (const doc of targets) {
    if (check.select) {
      // Selection is a filter, not a judgement: a document that does not (or cannot be shown to) match is no target.
      let chosen = false;
      try {
        chosen = evaluateCondition(check.select, doc, { index, params: resolveParameters(control, check, inheritedEnvironment(doc, tag, index)), used: new Set<string>(), now }).verdict === 'true';
      } catch {
        chosen = false;
      }
      if (!chosen) continue;
    }
    run.selected += 1;
    const env = inheritedEnvironment(doc, tag, index);
    const name = docName(doc);
    const common = {
      ...base(doc),
      resourceId: doc.id,
      resourceType: docType(doc),
      resourceName: name,
      ...(env ? { environment: env } : {}),
    };
    let scopeNote = '';
    if (envList && envList.length > 0 && envList.length < ENVIRONMENTS.length) {
      if (isKnownEnv(env) && !envList.includes(env)) {
        out.push({
          ...common,
          status: 'not_applicable',
          message: `${name} is tagged ${tag}=${env}; this check applies only to ${envList.join(', ')}.`,
          expected: `${tag} tag in [${envList.join(', ')}]`,
          actual: `${tag} = ${env}`,
          evidence: [doc.id],
        });
        continue;
      }
      if (!isKnownEnv(env)) {
        scopeNote = env
          ? ` (${tag} tag "${env}" is not one of ${ENVIRONMENTS.join('/')}, so this ${envList.join('/')} check was applied conservatively.)`
          : ` (no ${tag} tag, so this ${envList.join('/')} check was applied conservatively.)`;
      }
    }

    const affecting = errors.filter((e) => errorApplies(e, doc, read));
    if (affecting.length > 0) {
      const first = affecting[0] as CollectionError;
      out.push({
        ...common,
        status: 'error',
        message: `Could not evaluate ${check.id} on ${name}: collection failed (${affecting.map((e) => `${e.collector}: ${e.code}: ${e.message}`).join('; ')}).`,
        expected: `evidence for ${[...read].sort().join(', ')} collected`,
        actual: `collection error ${first.code}`,
        evidence: [doc.id],
      });
      continue;
    }

    const ctx: EvalContext = { index, params: resolveParameters(control, check, env), used: new Set<string>(), now };
    try {
      if (check.applies_if) {
        const pre = evaluateCondition(check.applies_if, doc, ctx);
        if (pre.verdict !== 'true') {
          const evidenceIds = [...ctx.used].sort((a, b) => cmp(normId(a), normId(b)));
          const failed = pre.explanations.filter((e) => !e.ok);
          out.push({
            ...common,
            status: pre.verdict === 'false' ? 'not_applicable' : 'error',
            message:
              pre.verdict === 'false'
                ? `${name} does not meet this check's precondition (${render(failed, 'actual', doc)}), so ${check.id} does not apply.`
                : `Could not evaluate ${check.id} on ${name}: ${[...new Set(pre.missing)].join('; ')}.${scopeNote}`,
            expected: render(failed, 'expected', doc),
            actual: render(failed, 'actual', doc),
            evidence: evidenceIds,
            explanation: pre.explanations,
          });
          continue;
        }
        ctx.used.clear();
        ctx.used.add(doc.id);
      }
      const outcome = evaluateCondition(check.condition, doc, ctx);
      const evidenceIds = [...ctx.used].sort((a, b) => cmp(normId(a), normId(b)));
      if (outcome.verdict === 'missing') {
        const reasons = [...new Set(outcome.missing)];
        out.push({
          ...common,
          status: 'error',
          message: `Could not evaluate ${check.id} on ${name}: ${reasons.join('; ')}.${scopeNote}`,
          expected: render(outcome.explanations.filter((e) => !e.ok), 'expected', doc),
          actual: render(outcome.explanations.filter((e) => !e.ok), 'actual', doc),
          evidence: evidenceIds,
          explanation: outcome.explanations,
        });
        continue;
      }
      const pass = outcome.verdict === 'true';
      const decisive = outcome.explanations.filter((e) => e.ok === pass);
      const shown = decisive.length > 0 ? decisive : outcome.explanations;
      const expected = render(shown, 'expected', doc);
      const actual = render(shown, 'actual', doc);
      const unsatisfied = check.unsatisfied_status ?? 'fail';
      const template = pass ? check.messages.pass : unsatisfied === 'manual' ? check.messages.manual ?? check.messages.fail : check.messages.fail;
      out.push({
        ...common,
        status: pass ? 'pass' : unsatisfied,
        message: fill(template, { doc, name, env, params: ctx.params, expected, actual }) + scopeNote,
        expected,
        actual,
        evidence: evidenceIds,
        explanation: outcome.explanations,
      });
    } catch (err) {
      out.push({
        ...common,
        status: 'error',
        message: `Could not evaluate ${check.id} on ${name}: the condition failed (${(err as Error).message}).`,
        expected: 'a condition that evaluates',
        actual: `error: ${(err as Error).message}`,
        evidence: [doc.id],
      });
    }
  }
}

function reperform(check: Check, doc: AzureDocument | undefined): string {
  const sub = (s: string) => (doc ? s.split('{resource.id}').join(doc.id).split('{resource.name}').join(docName(doc)) : s);
  const parts = [`${sub(check.reperform.request ?? check.reperform.command ?? '')} -> ${check.reperform.json_path}`];
  if (check.reperform.resource_graph) parts.push(`Resource Graph: ${sub(check.reperform.resource_graph)}`);
  return parts.join('; ');
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '(absent)';
  if (typeof v === 'string') return JSON.stringify(v);
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

const OP_TEXT: Record<string, string> = {
  equals: '=',
  not_equals: '!=',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  duration_lt: '< (duration)',
  duration_lte: '<= (duration)',
  duration_gt: '> (duration)',
  duration_gte: '>= (duration)',
};

function where(e: Explanation, doc: AzureDocument): string {
  return e.documentId && normId(e.documentId) !== normId(doc.id) ? `${e.documentId.split('/').slice(-2).join('/')}: ` : '';
}

/** Human-readable expected/actual strings from explanations, deduplicated, in order. */
function render(all: Explanation[], which: 'expected' | 'actual', doc: AzureDocument): string {
  const lines: string[] = [];
  for (const e of all) {
    let text: string;
    if (which === 'expected') {
      const op = e.operator.startsWith('not ') ? e.operator : OP_TEXT[e.operator] ?? e.operator;
      const value =
        e.operator.endsWith('exists') || e.operator.endsWith('absent') || e.operator.endsWith('empty')
          ? ''
          : ` ${Array.isArray(e.expected) ? `[${e.expected.map((x) => String(x)).join(', ')}]` : typeof e.expected === 'string' && ['some', 'every', 'none', 'count', 'lookup', 'related'].includes(e.operator.replace(/^not /, '')) ? e.expected : show(e.expected)}`;
      text = `${where(e, doc)}${e.path} ${op}${value}`;
    } else {
      text = `${where(e, doc)}${e.path} = ${e.defaulted ? `(absent; Azure default ${show(e.actual)})` : typeof e.actual === 'string' && ['some', 'every', 'none', 'count', 'lookup'].includes(e.operator.replace(/^not /, '')) ? e.actual : show(e.actual)}`;
    }
    if (!lines.includes(text)) lines.push(text);
  }
  const max = 8;
  return lines.length > max ? `${lines.slice(0, max).join('; ')}; ... (${lines.length - max} more)` : lines.join('; ');
}

/** Fills `{resource.name}`, `{resource.id}`, `{resource.type}`, `{environment}`, `{expected}`, `{actual}`, `{param.NAME}`. */
function fill(
  template: string,
  v: { doc: AzureDocument; name: string; env?: string; params: Record<string, unknown>; expected: string; actual: string },
): string {
  return template.replace(/\{([a-z_.]+)\}/gi, (whole, key: string) => {
    switch (key) {
      case 'resource.name':
        return v.name;
      case 'resource.id':
        return v.doc.id;
      case 'resource.type':
        return docType(v.doc);
      case 'environment':
        return v.env ?? 'untagged';
      case 'expected':
        return v.expected;
      case 'actual':
        return v.actual;
      default:
        if (key.startsWith('param.') && key.slice(6) in v.params) return String(v.params[key.slice(6)]);
        return whole;
    }
  });
}

/** Placeholders a message template may use (the catalog test rejects others). */
export const MESSAGE_PLACEHOLDERS = ['resource.name', 'resource.id', 'resource.type', 'environment', 'expected', 'actual'];
