/**
 * JUnit XML reporter for Azure DevOps PublishTestResults, Jenkins and GitLab: a testsuite per control, a testcase per
 * check and resource; fail -> <failure>, error -> <error>, not_applicable, manual and waived failures -> <skipped>
 * (a waived failure's message carries the waiver). All text is escaped.
 */
import { redactString } from '../evidence/redact.js';
import type { Result, ResultsFile, Status } from '../model.js';

/** The JUnit element each status becomes (pass has none: a plain passing testcase). */
export const JUNIT_STATUS: Readonly<Record<Status, 'failure' | 'error' | 'skipped' | null>> = {
  pass: null,
  fail: 'failure',
  error: 'error',
  not_applicable: 'skipped',
  manual: 'skipped',
};

/**
 * Escapes text for XML 1.0 content and attribute values: the five predefined entities, line breaks in attributes
 * (so parsers keep them), and characters XML 1.0 forbids outright (C0 controls, lone surrogates, U+FFFE/U+FFFF),
 * which become U+FFFD so one hostile byte cannot make the whole report unparseable.
 */
export function xmlEscape(value: string, attribute = false): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (c === 0x9 || c === 0xa || c === 0xd) out += attribute ? `&#${c};` : ch;
    else if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) out += '\uFFFD';
    else out += ch;
  }
  return out;
}

function t(value: string): string {
  return xmlEscape(redactString(value));
}
function a(value: string): string {
  return xmlEscape(redactString(value), true);
}

function byResult(x: Result, y: Result): number {
  const kx = [x.check, x.resourceId.toLowerCase(), x.status];
  const ky = [y.check, y.resourceId.toLowerCase(), y.status];
  for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i] < ky[i] ? -1 : 1;
  return 0;
}

function seconds(fromIso: string, toIso: string): string {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return Number.isFinite(ms) && ms >= 0 ? (ms / 1000).toFixed(3) : '0.000';
}

function detail(r: Result): string {
  const lines = [r.message, `Expected: ${r.expected || '(not recorded)'}`, `Actual: ${r.actual || '(not recorded)'}`];
  lines.push(`Resource: ${r.resourceId}`);
  if (r.evidence.length) lines.push(`Evidence: ${r.evidence.join(', ')}`);
  if (r.remediation?.cli) lines.push(`Remediation (az CLI): ${r.remediation.cli}`);
  if (r.remediation?.bicep) lines.push(`Remediation (Bicep): ${r.remediation.bicep}`);
  if (r.reperform) lines.push(`Re-perform: ${r.reperform}`);
  return lines.join('\n');
}

/** The JUnit element of one result: a waived failure is skipped (an accepted risk does not fail the pipeline). */
function kindOf(r: Result): 'failure' | 'error' | 'skipped' | null {
  return r.status === 'fail' && r.waived ? 'skipped' : JUNIT_STATUS[r.status];
}

/** The skipped message of a waived failure: the waiver, its approver, expiry and justification, then the finding. */
function waivedMessage(r: Result): string {
  const w = r.waiver;
  return `waived: ${w?.id ?? '?'} approved by ${w?.approver ?? '?'} until ${w?.expires ?? '?'}: ${w?.justification ?? ''} (compensating control: ${w?.compensatingControl ?? ''}). Finding: ${r.message}`;
}

function testcase(r: Result, suite: string, indent: string): string {
  // Azure DevOps shows classname.name as the test title; name carries the resource so each row is one resource.
  const open = `${indent}<testcase classname="${a(`${suite}.${r.check}`)}" name="${a(`${r.check} [${r.resourceName}]`)}" time="0">`;
  const props =
    `${indent}  <properties>\n` +
    `${indent}    <property name="resourceId" value="${a(r.resourceId)}"/>\n` +
    `${indent}    <property name="resourceType" value="${a(r.resourceType)}"/>\n` +
    `${indent}    <property name="severity" value="${a(r.severity)}"/>\n` +
    `${indent}    <property name="status" value="${a(r.status)}"/>\n` +
    (r.environment ? `${indent}    <property name="environment" value="${a(r.environment)}"/>\n` : '') +
    (r.waived && r.waiver ? `${indent}    <property name="waiver" value="${a(r.waiver.id)}"/>\n` : '') +
    `${indent}  </properties>\n`;
  const kind = kindOf(r);
  let body = '';
  if (kind === 'failure') {
    body = `${indent}  <failure message="${a(r.message)}" type="${a(`${r.severity}`)}">${t(detail(r))}</failure>\n`;
  } else if (kind === 'error') {
    body = `${indent}  <error message="${a(r.message)}" type="could-not-evaluate">${t(detail(r))}</error>\n`;
  } else if (kind === 'skipped') {
    const message = r.status === 'fail' ? waivedMessage(r) : r.status === 'manual' ? `manual: ${r.message}` : r.message;
    body = `${indent}  <skipped message="${a(message)}"/>\n`;
  } else {
    body = `${indent}  <system-out>${t(`${r.message}\nActual: ${r.actual || '(not recorded)'}`)}</system-out>\n`;
  }
  return `${open}\n${props}${body}${indent}</testcase>\n`;
}

/**
 * Renders results as JUnit XML: `<testsuites>` with one `<testsuite>` per control (sorted by id) and one `<testcase>`
 * per check and resource, with tests/failures/errors/skipped counts on every suite and on the root. Collection errors
 * that name no resource appear as an extra `engram-audit.collection` suite of errored testcases, so a pipeline that
 * counts errors sees an incomplete run.
 */
export function renderJunit(results: ResultsFile): string {
  const byControl = new Map<string, Result[]>();
  for (const c of results.controls) byControl.set(c.id, []);
  for (const r of results.results) {
    const list = byControl.get(r.control) ?? [];
    list.push(r);
    byControl.set(r.control, list);
  }
  const titles = new Map(results.controls.map((c) => [c.id, c.title]));
  const time = seconds(results.startedAt, results.finishedAt);
  const suites: string[] = [];
  const total = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const id of [...byControl.keys()].sort()) {
    const list = byControl.get(id)!.sort(byResult);
    const n = {
      tests: list.length,
      failures: list.filter((r) => kindOf(r) === 'failure').length,
      errors: list.filter((r) => kindOf(r) === 'error').length,
      skipped: list.filter((r) => kindOf(r) === 'skipped').length,
    };
    total.tests += n.tests;
    total.failures += n.failures;
    total.errors += n.errors;
    total.skipped += n.skipped;
    const name = titles.has(id) ? `${id} ${titles.get(id)}` : id;
    suites.push(
      `  <testsuite name="${a(name)}" id="${a(id)}" tests="${n.tests}" failures="${n.failures}" errors="${n.errors}" skipped="${n.skipped}" time="${time}" timestamp="${a(results.startedAt)}">\n` +
        list.map((r) => testcase(r, id, '    ')).join('') +
        `  </testsuite>\n`,
    );
  }
  const orphanErrors = results.coverage.errors.filter((e) => !e.resourceId);
  if (orphanErrors.length > 0) {
    total.tests += orphanErrors.length;
    total.errors += orphanErrors.length;
    const cases = orphanErrors
      .map(
        (e) =>
          `    <testcase classname="engram-audit.collection" name="${a(`${e.collector} [${e.scope}]`)}" time="0">\n` +
          `      <error message="${a(`${e.code}: ${e.message}`)}" type="collection-error">${t(`${e.collector} could not collect from ${e.scope}: ${e.code}: ${e.message}`)}</error>\n` +
          `    </testcase>\n`,
      )
      .join('');
    suites.push(
      `  <testsuite name="engram-audit collection" id="engram-audit.collection" tests="${orphanErrors.length}" failures="0" errors="${orphanErrors.length}" skipped="0" time="${time}" timestamp="${a(results.startedAt)}">\n${cases}  </testsuite>\n`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="engram-audit ${a(results.version)}${results.scope.demo ? ' (DEMO DATA)' : ''}" tests="${total.tests}" failures="${total.failures}" errors="${total.errors}" skipped="${total.skipped}" time="${time}">\n` +
    suites.join('') +
    `</testsuites>\n`
  );
}
