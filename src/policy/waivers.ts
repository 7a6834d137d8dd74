/**
 * Waivers: approved exceptions read from a YAML file (schemas/waivers.schema.json, docs/waivers.md). A waiver in force
 * marks the failures it matches as waived (status stays `fail`, `waived: true` plus the waiver); an expired waiver no
 * longer applies; each waiver's outcome (applied, expired, unmatched) is reported. The clock is injected.
 */
import type { AppliedWaiver, ControlSummary, Result, WaiverOutcome } from '../model.js';
import { InputError } from '../errors.js';
import { lineAt, readYaml, schemaProblems, throwIfProblems } from './yaml-file.js';

/** One waiver as loaded (camel-cased), with where it was written. */
export interface Waiver {
  id: string;
  control: string;
  check: string;
  /** Resource id or glob pattern (docs/waivers.md), as written. */
  resource: string;
  justification: string;
  approver: string;
  /** Last day in force, YYYY-MM-DD (UTC, inclusive). */
  expires: string;
  compensatingControl: string;
  file: string;
  line?: number;
}

const HINT = 'See docs/waivers.md for the waiver format (id, control, check, resource, justification, approver, expires, compensating_control).';

/**
 * Loads and validates a waivers file. Every problem (schema, duplicate id) is reported with file, line and field in
 * one error (exit 2); nothing is half-loaded.
 */
export function loadWaivers(file: string): Waiver[] {
  const y = readYaml(file, 'the waivers file', 'E_WAIVERS');
  const problems = schemaProblems(y, 'waivers.schema.json', 'E_WAIVERS_INVALID', HINT);
  throwIfProblems(`the waivers file ${y.display}`, problems);
  const raw = (y.value as { waivers: Array<Record<string, string>> }).waivers;
  const seen = new Map<string, number>();
  const out: Waiver[] = [];
  raw.forEach((w, i) => {
    const line = lineAt(y, `/waivers/${i}`);
    const key = w.id!.toLowerCase();
    if (seen.has(key)) {
      problems.push(
        new InputError('E_WAIVERS_INVALID', `duplicate waiver id "${w.id}" (first at line ${seen.get(key)})`, {
          file: y.display,
          line: lineAt(y, `/waivers/${i}/id`),
          field: `/waivers/${i}/id`,
          hint: 'Give every waiver its own id, e.g. the ticket that approved it.',
        }),
      );
    }
    seen.set(key, line ?? 0);
    out.push({
      id: w.id!,
      control: w.control!,
      check: w.check!,
      resource: w.resource!,
      justification: w.justification!,
      approver: w.approver!,
      expires: w.expires!,
      compensatingControl: w.compensating_control!,
      file: y.display,
      ...(line !== undefined ? { line } : {}),
    });
  });
  throwIfProblems(`the waivers file ${y.display}`, problems);
  return out;
}

/**
 * A resource glob as a case-insensitive, anchored RegExp: `**` matches anything (across `/`), `*` anything within one
 * path segment, `?` one character other than `/`; everything else is literal.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/** True when `now` is after the last day of `expires` (UTC): a waiver expiring 2027-01-31 holds all of that day. */
export function isExpired(expires: string, now: Date): boolean {
  const end = Date.parse(`${expires}T23:59:59.999Z`);
  return Number.isNaN(end) || now.getTime() > end;
}

function matches(w: Waiver, r: Result, re: RegExp): boolean {
  return w.control.toLowerCase() === r.control.toLowerCase() && w.check.toLowerCase() === r.check.toLowerCase() && re.test(r.resourceId);
}

function applied(w: Waiver): AppliedWaiver {
  return {
    id: w.id,
    justification: w.justification,
    approver: w.approver,
    expires: w.expires,
    compensatingControl: w.compensatingControl,
    file: w.file,
    ...(w.line !== undefined ? { line: w.line } : {}),
  };
}

/** What {@link applyWaivers} returns: results with waived failures marked, summaries with `waived` counts, outcomes. */
export interface WaiverApplication {
  results: Result[];
  controls: ControlSummary[];
  outcomes: WaiverOutcome[];
}

/**
 * Applies `waivers` at time `now`. Only `fail` results can be waived (an `error` is missing evidence, not an accepted
 * risk). When several waivers in force match one failure, the first in the file is recorded on it; each still counts
 * it as matched. Returns new arrays; the inputs are not changed.
 */
export function applyWaivers(results: Result[], controls: ControlSummary[], waivers: Waiver[], now: Date): WaiverApplication {
  const compiled = waivers.map((w) => ({ w, re: globToRegExp(w.resource), expired: isExpired(w.expires, now), hits: [] as string[] }));
  const out = results.map((r) => {
    if (r.status !== 'fail') return r;
    let first: Waiver | undefined;
    for (const c of compiled) {
      if (!matches(c.w, r, c.re)) continue;
      c.hits.push(r.resourceId);
      if (!c.expired && !first) first = c.w;
    }
    return first ? { ...r, waived: true, waiver: applied(first) } : r;
  });
  const waivedBy = new Map<string, number>();
  for (const r of out) if (r.waived) waivedBy.set(r.control, (waivedBy.get(r.control) ?? 0) + 1);
  const summaries = controls.map((c) => ({ ...c, waived: waivedBy.get(c.id) ?? 0 }));
  const outcomes: WaiverOutcome[] = compiled.map((c) => ({
    ...applied(c.w),
    control: c.w.control,
    check: c.w.check,
    resource: c.w.resource,
    state: c.expired ? 'expired' : c.hits.length > 0 ? 'applied' : 'unmatched',
    matched: c.hits.length,
    resources: [...new Set(c.hits)].sort(),
  }));
  return { results: out, controls: summaries, outcomes };
}

/** One warning line per waiver that did not apply (expired or matching nothing), for stderr. */
export function waiverWarnings(outcomes: WaiverOutcome[]): string[] {
  const where = (o: WaiverOutcome) => `${o.file ?? 'waivers'}${o.line ? `:${o.line}` : ''}`;
  return outcomes.flatMap((o) => {
    if (o.state === 'expired') {
      return [`${where(o)}: waiver ${o.id} expired on ${o.expires}; the ${o.matched} failure(s) it names count as findings again. Renew or remove it.`];
    }
    if (o.state === 'unmatched') {
      return [`${where(o)}: waiver ${o.id} matched no failing result (${o.control}/${o.check} on ${o.resource}); fixed, mistyped, or out of scope. Remove it or correct it.`];
    }
    return [];
  });
}
