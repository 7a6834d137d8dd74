/**
 * The condition language's evaluator: leaves over wire JSON, all/any/not, array quantifiers, related child documents
 * and lookups, in three-valued logic (true, false, missing evidence) so that a gap is never read as a pass. Every leaf
 * returns an Explanation (path, operator, expected, actual, ok).
 */
import type { AzureDocument, Explanation } from '../model.js';
import type { Condition, CountBody, LeafCondition, LookupBody, QuantifierBody, RelatedBody, Transform } from '../controls/types.js';
import { DERIVED, MissingEvidence, durationDays } from './derived.js';
import { docName, normId, type DocumentIndex } from './documents.js';

/** `true` satisfied, `false` not satisfied, `missing` could not be decided for lack of evidence. */
export type Verdict = 'true' | 'false' | 'missing';

export interface Outcome {
  verdict: Verdict;
  explanations: Explanation[];
  /** Why evidence was missing (one line each), when verdict is `missing` or a branch lacked evidence. */
  missing: string[];
}

export interface EvalContext {
  index: DocumentIndex;
  /** Parameter values resolved for this resource (environment overrides applied). */
  params: Record<string, unknown>;
  /** Ids of every document read, for the result's evidence list. */
  used: Set<string>;
  /** The run's clock, for `days_since` / `days_until` (injected, never read from the system). */
  now?: Date;
  /** The check's target document (set by evaluateCondition), for derived values that read around it. */
  target?: AzureDocument;
}

interface Scope {
  /** The document paths are read from (`$root.`). */
  root: AzureDocument;
  /** The current value (the document, or an array element inside a quantifier). */
  value: unknown;
  /** Path of `value` inside `root`, for explanations. */
  prefix: string;
}

/** At most this many per-element explanations are kept for one quantifier, so a wide array cannot flood a result. */
const MAX_ELEMENT_EXPLANATIONS = 10;

/** Evaluates `cond` against `doc`. Throws on a malformed condition (unknown parameter, bad regex): the caller makes that an `error` result. */
export function evaluateCondition(cond: Condition, doc: AzureDocument, ctx: EvalContext): Outcome {
  ctx.used.add(doc.id);
  ctx.target ??= doc;
  return evalNode(cond, { root: doc, value: doc, prefix: '' }, ctx);
}

function evalNode(cond: Condition, scope: Scope, ctx: EvalContext): Outcome {
  if (!cond || typeof cond !== 'object') throw new Error(`a condition must be an object, got ${JSON.stringify(cond)}`);
  if ('all' in cond) return combine(cond.all.map((c) => evalNode(c, scope, ctx)), 'all');
  if ('any' in cond) return combine(cond.any.map((c) => evalNode(c, scope, ctx)), 'any');
  if ('not' in cond) {
    const inner = evalNode(cond.not, scope, ctx);
    return {
      verdict: inner.verdict === 'true' ? 'false' : inner.verdict === 'false' ? 'true' : 'missing',
      explanations: inner.explanations.map((e) => ({ ...e, operator: `not ${e.operator}`, ok: !e.ok })),
      missing: inner.missing,
    };
  }
  if ('some' in cond) return quantify('some', cond.some, scope, ctx);
  if ('every' in cond) return quantify('every', cond.every, scope, ctx);
  if ('none' in cond) return quantify('none', cond.none, scope, ctx);
  if ('count' in cond) return quantify('count', cond.count, scope, ctx);
  if ('related' in cond) return related(cond.related, scope, ctx);
  if ('lookup' in cond) return lookup(cond.lookup, scope, ctx);
  if ('op' in cond) return leaf(cond, scope, ctx);
  throw new Error(`unknown condition ${JSON.stringify(cond)}`);
}

/** Kleene logic: `all` is false if any branch is false, else missing if any is missing; `any` the dual. */
function combine(parts: Outcome[], kind: 'all' | 'any'): Outcome {
  const decisive = kind === 'all' ? 'false' : 'true';
  const other = kind === 'all' ? 'true' : 'false';
  let verdict: Verdict = other;
  if (parts.some((p) => p.verdict === decisive)) verdict = decisive;
  else if (parts.some((p) => p.verdict === 'missing')) verdict = 'missing';
  // Keep only the branches that decided the verdict, so a result explains itself without the noise of a sibling
  // branch (in `any`, the untaken alternatives of a branch that held).
  const deciding = parts.filter((p) => p.verdict === verdict);
  return {
    verdict,
    explanations: (deciding.length > 0 ? deciding : parts).flatMap((p) => p.explanations),
    missing: parts.flatMap((p) => p.missing),
  };
}

/** Reads a dotted path. Keys match exactly, then case-insensitively (Azure's casing varies between APIs and Resource Graph). */
export function readPath(value: unknown, path: string, root?: unknown): unknown {
  let cur = value;
  let rest = path.trim();
  if (rest === '@' || rest === '') return value;
  if (rest.startsWith('$root')) {
    cur = root;
    rest = rest.slice(5).replace(/^\./, '');
    if (!rest) return cur;
  }
  for (const seg of rest.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
      continue;
    }
    if (typeof cur !== 'object') return undefined;
    const rec = cur as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(rec, seg)) {
      cur = rec[seg];
      continue;
    }
    const lower = seg.toLowerCase();
    const key = Object.keys(rec).find((k) => k.toLowerCase() === lower);
    cur = key === undefined ? undefined : rec[key];
  }
  return cur;
}

function param(name: string, ctx: EvalContext): unknown {
  if (!(name in ctx.params)) throw new Error(`the condition refers to parameter "${name}", which the check does not declare`);
  return ctx.params[name];
}

function derive(name: string, value: unknown, scope: Scope | undefined, ctx: EvalContext): unknown {
  const fn = DERIVED[name];
  if (!fn) throw new Error(`unknown derived value "${name}"; known: ${Object.keys(DERIVED).join(', ')}`);
  return fn(value, {
    root: scope?.root ?? (ctx.target as AzureDocument),
    ...(ctx.target ? { target: ctx.target } : {}),
    index: ctx.index,
    ...(ctx.now ? { now: ctx.now } : {}),
    use: (id) => ctx.used.add(id),
  });
}

/**
 * A condition's value: a literal, `{ param }`, `{ param, derived }` (a function of the parameter's value) or
 * `{ derived, path? }` (a function of a value of the current document).
 */
function resolveValue(value: unknown, ctx: EvalContext, scope?: Scope): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value) && ('param' in (value as object) || 'derived' in (value as object))) {
    const v = value as { param?: string; derived?: string; path?: string };
    let base: unknown;
    if (v.param !== undefined) base = param(v.param, ctx);
    else base = v.path ? readPath(scope?.value, v.path, scope?.root) : scope?.value;
    return v.derived === undefined ? base : derive(v.derived, base, scope, ctx);
  }
  return value;
}

const isAbsent = (v: unknown): boolean => v === undefined || v === null;

function isEmpty(v: unknown): boolean {
  if (isAbsent(v)) return true;
  if (typeof v === 'string') return v.trim() === '';
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Scalar equality the way Azure compares: strings case-insensitively, `"true"` equal to `true`, `"5"` equal to `5`. */
function same(a: unknown, b: unknown, caseSensitive: boolean): boolean {
  if (typeof a === 'string' && typeof b === 'string') return caseSensitive ? a === b : a.toLowerCase() === b.toLowerCase();
  if (typeof a === 'boolean' && typeof b === 'string') return String(a) === b.toLowerCase();
  if (typeof b === 'boolean' && typeof a === 'string') return String(b) === a.toLowerCase();
  const na = toNumber(a);
  const nb = toNumber(b);
  if (na !== undefined && nb !== undefined && (typeof a === 'number' || typeof b === 'number')) return na === nb;
  return a === b;
}

function durationOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v; // a bare number is days (parameters such as max_rotation_days: 90)
  return durationDays(v);
}

function leaf(cond: LeafCondition, scope: Scope, ctx: EvalContext): Outcome {
  let expected = resolveValue(cond.value, ctx, scope);
  const cs = cond.case_sensitive === true;
  let actual: unknown;
  let label: string;
  if (cond.param !== undefined) {
    actual = param(cond.param, ctx);
    label = `parameter ${cond.param}`;
  } else if (cond.derived !== undefined) {
    const base = cond.path ? readPath(scope.value, cond.path, scope.root) : scope.value;
    actual = derive(cond.derived, base, scope, ctx);
    label = cond.path ? `${cond.derived}(${join(scope.prefix, cond.path)})` : scope.prefix ? `${cond.derived}(${scope.prefix})` : cond.derived;
  } else {
    if (typeof cond.path !== 'string') throw new Error('a leaf condition needs `path` or `derived`');
    actual = readPath(scope.value, cond.path, scope.root);
    label = join(scope.prefix, cond.path);
  }
  // A derived value whose evidence was not collected (either side): missing evidence, never a verdict.
  const gap = actual instanceof MissingEvidence ? actual : expected instanceof MissingEvidence ? expected : undefined;
  if (gap) {
    if (expected instanceof MissingEvidence) expected = undefined;
    return {
      verdict: 'missing',
      explanations: [{ documentId: scope.root.id, path: label, operator: cond.op, expected, actual: undefined, ok: false }],
      missing: [`missing evidence: ${gap.reason}`],
    };
  }
  let defaulted = false;
  if (isAbsent(actual) && cond.default !== undefined) {
    actual = cond.default;
    defaulted = true;
  }
  let ok: boolean;
  switch (cond.op) {
    case 'exists':
      ok = !isAbsent(actual);
      break;
    case 'absent':
      ok = isAbsent(actual);
      break;
    case 'empty':
      ok = isEmpty(actual);
      break;
    case 'not_empty':
      ok = !isEmpty(actual);
      break;
    case 'equals':
      ok = !isAbsent(actual) && same(actual, expected, cs);
      break;
    case 'not_equals':
      ok = !isAbsent(actual) && !same(actual, expected, cs);
      break;
    case 'in':
    case 'not_in': {
      if (!Array.isArray(expected)) throw new Error(`operator ${cond.op} needs a list value at ${label}`);
      const found = expected.some((e) => same(actual, e, cs));
      ok = !isAbsent(actual) && (cond.op === 'in' ? found : !found);
      break;
    }
    case 'contains':
      if (Array.isArray(actual)) ok = actual.some((e) => same(e, expected, cs));
      else if (typeof actual === 'string' && typeof expected === 'string') {
        ok = cs ? actual.includes(expected) : actual.toLowerCase().includes(expected.toLowerCase());
      } else ok = false;
      break;
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const a = toNumber(actual);
      const b = toNumber(expected);
      if (b === undefined) throw new Error(`operator ${cond.op} needs a number at ${label}, got ${JSON.stringify(expected)}`);
      ok = a !== undefined && compare(cond.op, a, b);
      break;
    }
    case 'duration_lt':
    case 'duration_lte':
    case 'duration_gt':
    case 'duration_gte': {
      const a = durationOf(actual);
      const b = durationOf(expected);
      if (b === undefined) throw new Error(`operator ${cond.op} needs an ISO-8601 duration or a number of days at ${label}`);
      ok = a !== undefined && compare(cond.op.slice('duration_'.length) as 'lt', a, b);
      break;
    }
    case 'matches':
    case 'not_matches': {
      if (typeof expected !== 'string') throw new Error(`operator ${cond.op} needs a regular expression string at ${label}`);
      const re = new RegExp(expected, cs ? 'u' : 'iu');
      ok = typeof actual === 'string' && (cond.op === 'matches' ? re.test(actual) : !re.test(actual));
      break;
    }
    case 'starts_with':
    case 'prefix_of': {
      if (typeof expected !== 'string') throw new Error(`operator ${cond.op} needs a string value at ${label}`);
      if (typeof actual !== 'string') {
        ok = false;
        break;
      }
      const [a, b] = cs ? [actual, expected] : [actual.toLowerCase(), expected.toLowerCase()];
      // prefix_of: the actual value is a prefix of the expected one (a lifecycle rule prefix "record" covers "record-plane/").
      ok = cond.op === 'starts_with' ? a.startsWith(b) : b.startsWith(a);
      break;
    }
    default:
      throw new Error(`unknown operator "${(cond as { op: string }).op}" at ${label}`);
  }
  const explanation: Explanation = { documentId: scope.root.id, path: label, operator: cond.op, expected, actual, ok };
  if (defaulted) explanation.defaulted = true;
  return { verdict: ok ? 'true' : 'false', explanations: [explanation], missing: [] };
}

function compare(op: 'lt' | 'lte' | 'gt' | 'gte' | 'equals', a: number, b: number): boolean {
  switch (op) {
    case 'lt':
      return a < b;
    case 'lte':
      return a <= b;
    case 'gt':
      return a > b;
    case 'gte':
      return a >= b;
    default:
      return a === b;
  }
}

function join(prefix: string, path: string): string {
  if (!path || path === '@') return prefix || '@';
  return prefix ? `${prefix}.${path}` : path;
}

function quantify(kind: 'some' | 'every' | 'none' | 'count', body: QuantifierBody | CountBody, scope: Scope, ctx: EvalContext): Outcome {
  const raw = readPath(scope.value, body.path, scope.root);
  const path = join(scope.prefix, body.path);
  const items = Array.isArray(raw) ? raw : [];
  const parts = items.map((item, i) =>
    body.where ? evalNode(body.where, { root: scope.root, value: item, prefix: `${path}.${i}` }, ctx) : truthy(),
  );
  return decide(kind, body as { op?: string; value?: unknown }, parts, { documentId: scope.root.id, path, absent: isAbsent(raw) }, ctx);
}

function truthy(): Outcome {
  return { verdict: 'true', explanations: [], missing: [] };
}

/** Applies a quantifier to per-element outcomes and adds a summary explanation for the quantifier itself. */
function decide(
  kind: 'some' | 'every' | 'none' | 'count',
  body: { op?: string; value?: unknown },
  parts: Outcome[],
  where: { documentId: string; path: string; absent?: boolean },
  ctx: EvalContext,
): Outcome {
  const t = parts.filter((p) => p.verdict === 'true').length;
  const f = parts.filter((p) => p.verdict === 'false').length;
  const m = parts.length - t - f;
  let verdict: Verdict;
  let expected: unknown;
  switch (kind) {
    case 'some':
      verdict = t > 0 ? 'true' : m > 0 ? 'missing' : 'false';
      expected = 'at least one element matches';
      break;
    case 'every':
      verdict = f > 0 ? 'false' : m > 0 ? 'missing' : 'true';
      expected = 'every element matches';
      break;
    case 'none':
      verdict = t > 0 ? 'false' : m > 0 ? 'missing' : 'true';
      expected = 'no element matches';
      break;
    default: {
      const op = (body.op ?? 'gte') as 'lt' | 'lte' | 'gt' | 'gte' | 'equals';
      const n = toNumber(resolveValue(body.value, ctx));
      if (n === undefined) throw new Error(`count at ${where.path} needs a number value`);
      const lo = compare(op, t, n);
      const hi = compare(op, t + m, n);
      verdict = m === 0 ? (lo ? 'true' : 'false') : lo === hi ? (lo ? 'true' : 'false') : 'missing';
      expected = `count of matching elements ${op} ${n}`;
    }
  }
  const summary: Explanation = {
    documentId: where.documentId,
    path: where.path,
    operator: kind,
    expected,
    actual: where.absent ? undefined : `${parts.length} element(s), ${t} matching${m ? `, ${m} undecided` : ''}`,
    ok: verdict === 'true',
  };
  // Keep the element explanations that support the verdict (the ones that matched for a pass, failed for a fail).
  const wanted = kind === 'none' ? verdict !== 'true' : verdict === 'true';
  // With an undecided verdict, the undecided elements explain what was missing.
  const keep: Verdict = verdict === 'missing' ? 'missing' : wanted ? 'true' : 'false';
  const detail = parts
    .filter((p) => p.verdict === keep)
    .slice(0, MAX_ELEMENT_EXPLANATIONS)
    .flatMap((p) => p.explanations)
    .map((e) => (kind === 'none' ? { ...e, ok: !e.ok } : e));
  return { verdict, explanations: [summary, ...detail], missing: parts.flatMap((p) => p.missing) };
}

function related(body: RelatedBody, scope: Scope, ctx: EvalContext): Outcome {
  const { docs, collected, collectionId } = ctx.index.childrenOf(scope.root, body.type, body.name);
  const what = body.name ? `${body.type} "${body.name}"` : `${body.type} documents`;
  if (!collected || (body.name !== undefined && docs.length === 0)) {
    const msg = `missing evidence: no ${what} were collected for ${scope.root.id} (expected under ${collectionId})`;
    return {
      verdict: 'missing',
      explanations: [{ documentId: scope.root.id, path: collectionId, operator: 'related', expected: `${what} collected`, actual: undefined, ok: false }],
      missing: [msg],
    };
  }
  for (const d of docs) ctx.used.add(d.id);
  const parts = docs.map((d) => (body.where ? evalNode(body.where, { root: d, value: d, prefix: '' }, ctx) : truthy()));
  const short = collectionId.slice(normId(scope.root.id).length + 1) + (body.name ? `/${body.name}` : '');
  const out = decide(body.match ?? 'some', {}, parts, { documentId: scope.root.id, path: short }, ctx);
  // One named child (a server parameter): its own explanation says everything; the "1 element" summary is noise.
  if (body.name !== undefined && docs.length === 1 && out.explanations.length > 1) out.explanations.shift();
  return out;
}

function transform(v: unknown, t: Transform | undefined): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const s = v.trim();
  if (t === 'host') {
    try {
      return new URL(s).hostname.toLowerCase();
    } catch {
      return s.toLowerCase();
    }
  }
  return t === 'none' ? s : s.toLowerCase();
}

function lookup(body: LookupBody, scope: Scope, ctx: EvalContext): Outcome {
  const fromRaw = readPath(scope.value, body.from.path, scope.root);
  const key = transform(fromRaw, body.from.transform);
  const path = join(scope.prefix, body.from.path);
  const expected = `a ${body.type} document whose ${body.to.path}${body.to.transform === 'host' ? ' host' : ''} matches`;
  if (key === undefined) {
    const explanation: Explanation = { documentId: scope.root.id, path, operator: 'lookup', expected, actual: fromRaw ?? undefined, ok: false };
    if (body.if_no_key === 'error') {
      return { verdict: 'missing', explanations: [explanation], missing: [`missing evidence: ${path} is empty on ${scope.root.id}`] };
    }
    return { verdict: 'false', explanations: [explanation], missing: [] };
  }
  const found = ctx.index.lookup(
    body.type,
    `${body.to.path}|${body.to.transform ?? 'lower'}`,
    (d) => {
      const raw = readPath(d, body.to.path, d);
      if (Array.isArray(raw)) return raw.map((x) => transform(x, body.to.transform)).filter((x): x is string => x !== undefined);
      return transform(raw, body.to.transform);
    },
    key,
  );
  if (found.length === 0 && body.if_none === 'fail') {
    return { verdict: 'false', explanations: [{ documentId: scope.root.id, path, operator: 'lookup', expected, actual: `${JSON.stringify(fromRaw)} matches no ${body.type}`, ok: false }], missing: [] };
  }
  if (found.length === 0 && body.if_none !== 'empty') {
    return {
      verdict: 'missing',
      explanations: [{ documentId: scope.root.id, path, operator: 'lookup', expected, actual: fromRaw, ok: false }],
      missing: [
        `missing evidence: no ${body.type} document with ${body.to.path} matching "${key}" (from ${path}) was collected; ` +
          'include the subscription that holds it in the scope',
      ],
    };
  }
  for (const d of found) ctx.used.add(d.id);
  const found0: Explanation = {
    documentId: scope.root.id,
    path,
    operator: 'lookup',
    expected,
    actual: `${JSON.stringify(fromRaw)} matches ${found.map((d) => docName(d)).join(', ')}`,
    ok: true,
  };
  const parts = found.map((d) => (body.where ? evalNode(body.where, { root: d, value: d, prefix: '' }, ctx) : truthy()));
  const out = decide(body.match ?? 'some', {}, parts, { documentId: scope.root.id, path }, ctx);
  if (found.length === 0) return out;
  return { ...out, explanations: [found0, ...out.explanations.slice(1)] };
}
