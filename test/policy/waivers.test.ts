import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyWaivers, globToRegExp, isExpired, loadWaivers, waiverWarnings, type Waiver } from '../../src/policy/waivers.js';
import { exitCodeFor } from '../../src/cli/pipeline.js';
import { EngramError, ValidationError } from '../../src/errors.js';
import type { ControlSummary, Result, ResultsFile, Status } from '../../src/model.js';
import { emptyCounts } from '../../src/model.js';

const dir = mkdtempSync(join(tmpdir(), 'engram-waivers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const DEV = '/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-ai-dev/providers/Microsoft.Storage/storageAccounts/staidevlegacy';
const UAT = '/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-ai-uat/providers/Microsoft.Storage/storageAccounts/staiuathostile';
const PROD = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai-prod/providers/Microsoft.Storage/storageAccounts/staiprod01';

const VALID = `# approved exceptions
waivers:
  - id: CHG-1042
    control: AI-SEC-01
    check: storage_min_tls_version
    resource: ${DEV}
    justification: Legacy ingestion client needs TLS 1.0 until its replacement ships.
    approver: Dana Smith (CISO)
    expires: 2027-01-31
    compensating_control: Account reachable only from the build subnet; traffic inspected by the firewall.
  - id: CHG-1043
    control: AI-SEC-01
    check: storage_no_anonymous_blob_access
    resource: /subscriptions/*/resourceGroups/rg-ai-dev/**
    justification: Public demo assets container, reviewed quarterly.
    approver: Dana Smith (CISO)
    expires: "2026-10-31"
    compensating_control: Content is public marketing material only.
`;

function result(over: Partial<Result> & { resourceId: string; status: Status }): Result {
  return {
    control: 'AI-SEC-01',
    check: 'storage_min_tls_version',
    checkTitle: 'TLS',
    resourceType: 'microsoft.storage/storageaccounts',
    resourceName: over.resourceId.split('/').pop()!,
    severity: 'high',
    message: 'm',
    expected: 'e',
    actual: 'a',
    evidence: [over.resourceId],
    ...over,
  };
}
const summary = (id = 'AI-SEC-01'): ControlSummary => ({ id, title: 't', status: 'fail', counts: { ...emptyCounts(), fail: 2 }, nistAiRmf: [], sp80053: [] });

test('a valid waivers file loads with every field and the line of each entry', () => {
  const ws = loadWaivers(write('ok.yaml', VALID));
  assert.equal(ws.length, 2);
  assert.deepEqual(
    { ...ws[0], file: undefined },
    {
      id: 'CHG-1042',
      control: 'AI-SEC-01',
      check: 'storage_min_tls_version',
      resource: DEV,
      justification: 'Legacy ingestion client needs TLS 1.0 until its replacement ships.',
      approver: 'Dana Smith (CISO)',
      expires: '2027-01-31',
      compensatingControl: 'Account reachable only from the build subnet; traffic inspected by the firewall.',
      file: undefined,
      line: 3,
    },
  );
  assert.equal(ws[1]!.line, 11);
  assert.equal(ws[1]!.expires, '2026-10-31');
});

test('a missing field, an impossible date and an unknown field are each reported with file, line and field (exit 2)', () => {
  const bad = VALID.replace('    approver: Dana Smith (CISO)\n    expires: 2027-01-31', '    expires: 2027-02-30').replace('    compensating_control: Content', '    compensating_contol: Content');
  const file = write('bad.yaml', bad);
  let err: unknown;
  try {
    loadWaivers(file);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ValidationError, String(err));
  assert.equal(err.exitCode, 2);
  const text = err.format();
  assert.match(text, /bad\.yaml:3: missing required field "approver" \(at \/waivers\/0\/approver\)/);
  assert.match(text, /bad\.yaml:8: must be a date \(YYYY-MM-DD\) \(at \/waivers\/0\/expires\)/);
  assert.match(text, /bad\.yaml:17: unknown field "compensating_contol" \(at \/waivers\/1\/compensating_contol\)/);
  assert.match(text, /docs\/waivers\.md/);
});

test('duplicate ids and malformed YAML are input errors with the line', () => {
  const dup = VALID.replace('id: CHG-1043', 'id: chg-1042');
  assert.throws(() => loadWaivers(write('dup.yaml', dup)), (e: EngramError) => e.exitCode === 2 && /dup\.yaml:11: duplicate waiver id "chg-1042" \(first at line 3\)/.test(e.format()));
  assert.throws(() => loadWaivers(write('broken.yaml', 'waivers:\n  - id: [unclosed\n')), (e: EngramError) => e.exitCode === 2 && /broken\.yaml:\d+: malformed YAML in the waivers file/.test(e.format()));
  assert.throws(() => loadWaivers(join(dir, 'nope.yaml')), (e: EngramError) => e.exitCode === 2 && /cannot read the waivers file: ENOENT/.test(e.format()));
});

test('resource globs: * stays in one segment, ** crosses segments, ? is one character, case-insensitive, dots literal', () => {
  assert.ok(globToRegExp('/subscriptions/*/resourceGroups/rg-ai-dev/**').test(DEV));
  assert.ok(!globToRegExp('/subscriptions/*/resourceGroups/rg-ai-dev/**').test(UAT));
  assert.ok(!globToRegExp('/subscriptions/*/staidevlegacy').test(DEV), '* does not cross /');
  assert.ok(globToRegExp('/SUBSCRIPTIONS/**/STORAGEACCOUNTS/STAI*').test(PROD));
  assert.ok(globToRegExp('/a/b?c').test('/a/bXc') && !globToRegExp('/a/b?c').test('/a/b/c'));
  assert.ok(!globToRegExp('/a/b.c').test('/a/bxc'));
  assert.ok(globToRegExp(DEV).test(DEV.toLowerCase()), 'an exact id matches case-insensitively');
});

test('expiry is inclusive of the last day, in UTC, on the injected clock', () => {
  assert.equal(isExpired('2026-10-31', new Date('2026-10-31T23:59:59.000Z')), false);
  assert.equal(isExpired('2026-10-31', new Date('2026-11-01T00:00:00.000Z')), true);
});

test('an in-force waiver marks the failure waived (status stays fail); expired and unmatched waivers are reported', () => {
  const ws = loadWaivers(write('apply.yaml', VALID + `  - id: CHG-2000
    control: AI-SEC-01
    check: storage_https_only
    resource: /subscriptions/**
    justification: Nothing fails this check, so this waiver matches nothing.
    approver: Dana Smith (CISO)
    expires: 2027-12-31
    compensating_control: none needed
`));
  const results = [
    result({ resourceId: DEV, status: 'fail' }),
    result({ resourceId: UAT, status: 'fail' }),
    result({ resourceId: PROD, status: 'pass' }),
    result({ resourceId: DEV, status: 'fail', check: 'storage_no_anonymous_blob_access' }),
    result({ resourceId: PROD, status: 'pass', check: 'storage_https_only' }),
  ];
  const now = new Date('2026-11-28T09:00:00.000Z');
  const out = applyWaivers(results, [summary()], ws, now);
  const dev = out.results[0]!;
  assert.equal(dev.status, 'fail');
  assert.equal(dev.waived, true);
  assert.equal(dev.waiver?.id, 'CHG-1042');
  assert.equal(dev.waiver?.approver, 'Dana Smith (CISO)');
  assert.match(dev.waiver!.justification, /Legacy ingestion client/);
  assert.equal(dev.waiver?.line, 3);
  assert.equal(out.results[1]!.waived, undefined, 'another resource is not covered');
  assert.equal(out.results[3]!.waived, undefined, 'an expired waiver no longer applies');
  assert.equal(out.controls[0]!.waived, 1);
  assert.equal(out.controls[0]!.status, 'fail', 'the control status is the engine\u2019s');
  assert.deepEqual(
    out.outcomes.map((o) => [o.id, o.state, o.matched, o.resources.length]),
    [
      ['CHG-1042', 'applied', 1, 1],
      ['CHG-1043', 'expired', 1, 1],
      ['CHG-2000', 'unmatched', 0, 0],
    ],
  );
  assert.equal(results[0]!.waived, undefined, 'inputs are not changed');
  const warnings = waiverWarnings(out.outcomes);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /apply\.yaml:11: waiver CHG-1043 expired on 2026-10-31/);
  assert.match(warnings[1]!, /waiver CHG-2000 matched no failing result/);
});

test('errors are never waived, and the first waiver in force wins when several match', () => {
  const base: Omit<Waiver, 'id' | 'line'> = {
    control: 'ai-sec-01',
    check: 'storage_min_tls_version',
    resource: '/subscriptions/**',
    justification: 'broad waiver for the test',
    approver: 'A',
    expires: '2030-01-01',
    compensatingControl: 'c',
    file: 'w.yaml',
  };
  const ws: Waiver[] = [
    { ...base, id: 'W-OLD', expires: '2020-01-01' },
    { ...base, id: 'W-1' },
    { ...base, id: 'W-2' },
  ];
  const out = applyWaivers([result({ resourceId: DEV, status: 'fail' }), result({ resourceId: UAT, status: 'error' })], [summary()], ws, new Date('2026-11-28T00:00:00Z'));
  assert.equal(out.results[0]!.waiver?.id, 'W-1');
  assert.equal(out.results[1]!.waived, undefined);
  assert.deepEqual(out.outcomes.map((o) => [o.id, o.state, o.matched]), [['W-OLD', 'expired', 1], ['W-1', 'applied', 1], ['W-2', 'applied', 1]]);
});

test('exit codes: waived failures are not findings; an error still makes the run incomplete', () => {
  const file = (results: Result[]): ResultsFile => ({
    tool: 'engram-audit',
    version: '0',
    runId: 'r',
    startedAt: '2026-11-28T00:00:00Z',
    finishedAt: '2026-11-28T00:00:00Z',
    scope: { subscriptions: [], managementGroups: [], tags: {}, source: 'snapshot', demo: false },
    coverage: { subscriptionsRequested: [], subscriptionsScanned: [], resourcesByType: {}, documents: 0, errors: [] },
    controls: [summary()],
    results,
  });
  const waived = result({ resourceId: DEV, status: 'fail', waived: true, waiver: { id: 'W', justification: 'j', approver: 'a', expires: '2030-01-01', compensatingControl: 'c' } });
  assert.equal(exitCodeFor(file([waived, result({ resourceId: PROD, status: 'pass' })]), 'low'), 0);
  assert.equal(exitCodeFor(file([waived, result({ resourceId: UAT, status: 'fail' })]), 'low'), 1);
  assert.equal(exitCodeFor(file([waived, result({ resourceId: UAT, status: 'error' })]), 'low'), 3);
});
