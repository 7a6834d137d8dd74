/**
 * Waivers and attestations end to end through the CLI over the recorded demo estate: every output shows them, exit
 * codes ignore waived failures, the bundle carries and signs the attestation files, and bad inputs are exit 2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import AjvDraft04Ns from 'ajv-draft-04';
import addFormatsNs from 'ajv-formats';
import { Ajv } from 'ajv';
import { ajv as sharedAjv } from '../../src/controls/ajv.js';
import type { ResultsFile } from '../../src/model.js';
import { tempDir, runCliAt } from '../support/cli.js';
import { fixture, repoRoot, shared } from '../support/paths.js';

const work = tempDir('engram-policy-cli-');
after(() => rmSync(work, { recursive: true, force: true }));
const NOW = new Date('2026-11-28T09:00:00.000Z');

const run = runCliAt(NOW);
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsFile;

const waiver = (id: string, check: string, resource: string, expires = '2027-03-31') => `  - id: ${id}
    control: AI-SEC-01
    check: ${check}
    resource: "${resource}"
    justification: Accepted for the demo until the ${check} remediation ships.
    approver: Dana Smith (CISO)
    expires: ${expires}
    compensating_control: Network isolation of the dev subscription and weekly review.
`;

const WAIVERS = `waivers:
${waiver('CHG-1042', 'storage_min_tls_version', '/subscriptions/*/resourceGroups/rg-ai-dev/providers/Microsoft.Storage/storageAccounts/staidevlegacy')}${waiver('CHG-1050', 'keyvault_purge_protection', '/subscriptions/**/vaults/kv-ai-dev')}${waiver('CHG-0999', 'postgres_min_tls_version', '/subscriptions/**', '2026-10-31')}${waiver('CHG-2000', 'storage_https_only', '/subscriptions/**')}`;

function setup(): { waivers: string; attestations: string } {
  const waivers = join(work, 'waivers.yaml');
  writeFileSync(waivers, WAIVERS);
  const att = join(work, 'attestations');
  mkdirSync(join(att, 'files'), { recursive: true });
  writeFileSync(join(att, 'files', 'raci.csv'), 'role,owner\nkeys,platform\n');
  writeFileSync(
    join(att, 'key-management.yaml'),
    'check: key_management_responsibilities_attested\nstatement: The platform team owns the customer-managed keys; security approves rotation changes.\nowner: Priya Raman (Head of Platform)\ndate: 2026-09-01\nexpires: 2027-08-31\nevidence:\n  - files/raci.csv\n',
  );
  writeFileSync(join(att, 'data-classification.yaml'), 'check: data_classification_attested\nstatement: Record-plane documents are classified Confidential.\nowner: Lee Chen (DPO)\ndate: 2025-06-01\nexpires: 2026-05-31\n');
  return { waivers, attestations: att };
}

describe('a demo scan with waivers and attestations', () => {
  const out = join(work, 'bundle');
  let r: Awaited<ReturnType<typeof run>>;
  before(async () => {
    const { waivers, attestations } = setup();
    r = await run(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out, '--format', 'json,html,pdf,oscal,sarif,junit', '--waivers', waivers, '--attestations', attestations]);
  });

  test('waived failures keep status fail with the waiver; the others are still findings (exit 1)', () => {
    assert.equal(r.code, 1, r.stderr);
    const res = results(out);
    const waived = res.results.filter((x) => x.waived);
    assert.deepEqual(waived.map((x) => `${x.check} ${x.resourceName} ${x.waiver?.id}`).sort(), ['keyvault_purge_protection kv-ai-dev CHG-1050', 'storage_min_tls_version staidevlegacy CHG-1042']);
    assert.ok(waived.every((x) => x.status === 'fail' && x.waiver?.approver === 'Dana Smith (CISO)' && /Network isolation/.test(x.waiver.compensatingControl)));
    const pg = res.results.find((x) => x.check === 'postgres_min_tls_version' && x.status === 'fail')!;
    assert.equal(pg.waived, undefined, 'the expired waiver no longer applies');
    assert.equal(res.controls[0]!.waived, 2);
    assert.deepEqual(res.waivers!.map((w) => [w.id, w.state, w.matched]), [['CHG-1042', 'applied', 1], ['CHG-1050', 'applied', 1], ['CHG-0999', 'expired', 1], ['CHG-2000', 'unmatched', 0]]);
    assert.match(r.stdout, /21 fail \(2 waived\)/);
    assert.match(r.stdout, /Waived \(2, not counted as findings\)/);
    assert.match(r.stderr, /warning: .*waivers\.yaml:\d+: waiver CHG-0999 expired on 2026-10-31/);
    assert.match(r.stderr, /warning: .*waiver CHG-2000 matched no failing result/);
  });

  test('results.json validates against schemas/results.schema.json and lists the attestations', () => {
    const validate = sharedAjv.compile(JSON.parse(readFileSync(join(repoRoot, 'schemas', 'results.schema.json'), 'utf8')));
    const res = results(out);
    assert.equal(validate(res), true, JSON.stringify(validate.errors));
    assert.deepEqual(res.attestations!.map((a) => [a.id, a.expired, a.evidence.map((e) => e.path)]), [
      ['attestation://data-classification', true, []],
      ['attestation://key-management', false, ['attestations/key-management/raci.csv']],
    ]);
  });

  test('the attestation documents are in the evidence and their files are in the bundle, covered by SHA256SUMS', async () => {
    const evidence = readdirSync(join(out, 'evidence')).map((f) => readFileSync(join(out, 'evidence', f), 'utf8')).join('\n');
    assert.match(evidence, /"id":\s*"attestation:\/\/key-management"/);
    assert.match(evidence, /"type":\s*"engram.attestation"/);
    assert.equal(readFileSync(join(out, 'attestations', 'key-management', 'raci.csv'), 'utf8'), 'role,owner\nkeys,platform\n');
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    for (const p of ['attestations/key-management.yaml', 'attestations/key-management/raci.csv', 'attestations/data-classification.yaml']) assert.ok(sums.includes(`  ${p}\n`), p);
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: out });
    const v = await run(['verify', out]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  test('HTML and PDF: the row marker, the waivers section with states, the attestations section', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<span class="status status-waived">Waived<\/span>/);
    assert.match(html, /<section class="section" id="waivers">/);
    assert.match(html, /CHG-0999[\s\S]*?EXPIRED: no longer applies/);
    assert.match(html, /CHG-2000[\s\S]*?Matched nothing/);
    assert.match(html, /<h3>Attestations<\/h3>[\s\S]*attestation:\/\/key-management[\s\S]*attestations\/key-management\/raci\.csv sha256:[0-9a-f]{64}/);
    assert.match(html, /attestation:\/\/data-classification[\s\S]*?Expired/);
    const pdf = execFileSync('pdftotext', ['-layout', join(out, 'report.pdf'), '-'], { encoding: 'utf8' });
    assert.match(pdf, /Waivers/);
    assert.match(pdf, /CHG-1042/);
    assert.match(pdf, /Attestations/);
    assert.match(pdf, /Priya Raman/);
  });

  test('SARIF: waived results carry an accepted external suppression and the log validates', () => {
    const Ajv4 = AjvDraft04Ns.default;
    const a = new Ajv4({ allErrors: true });
    addFormatsNs.default(a);
    const validate = a.compile(JSON.parse(readFileSync(shared('sarif', 'sarif-schema-2.1.0.json'), 'utf8')));
    const log = JSON.parse(readFileSync(join(out, 'results.sarif'), 'utf8'));
    assert.equal(validate(log), true, JSON.stringify(validate.errors?.slice(0, 3)));
    const suppressed = log.runs[0].results.filter((x: { suppressions?: unknown[] }) => x.suppressions);
    assert.equal(suppressed.length, 2);
    assert.equal(suppressed[0].suppressions[0].kind, 'external');
    assert.equal(suppressed[0].suppressions[0].status, 'accepted');
    assert.match(suppressed[0].suppressions[0].justification, /Approved by Dana Smith/);
  });

  test('JUnit: waived failures are skipped with the waiver in the message', () => {
    const xml = readFileSync(join(out, 'results.junit.xml'), 'utf8');
    assert.match(xml, /<testsuite name="[^"]*" id="AI-SEC-01" tests="67" failures="19" errors="0" skipped="2"/);
    assert.match(xml, /<skipped message="waived: CHG-1042 approved by Dana Smith \(CISO\) until 2027-03-31: /);
  });

  test('OSCAL: waived observations carry waiver props; the document validates', () => {
    const a = new Ajv({ allErrors: true });
    addFormatsNs.default(a);
    const validate = a.compile(JSON.parse(readFileSync(shared('oscal', 'oscal_assessment-results_schema.json'), 'utf8')));
    const doc = JSON.parse(readFileSync(join(out, 'results.oscal.json'), 'utf8'));
    assert.equal(validate(doc), true, JSON.stringify(validate.errors?.slice(0, 3)));
    const text = JSON.stringify(doc);
    assert.match(text, /"name":"waiver-id","ns":"urn:engram-audit:oscal","value":"CHG-1042"/);
    assert.match(text, /Waivers \(an applied waiver/);
    assert.match(text, /attestation:\/\/data-classification for data_classification_attested: .*\(EXPIRED\)/);
  });
});

test('waiving every failure makes the demo scan exit 0; a waiver never hides an error', async () => {
  const before = await run(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', join(work, 'plain'), '--format', 'json']);
  const failing = results(join(work, 'plain')).results.filter((x) => x.status === 'fail');
  const checks = [...new Set(failing.map((x) => x.check))];
  const file = join(work, 'all.yaml');
  writeFileSync(file, `waivers:\n${checks.map((c, i) => waiver(`W-${i}`, c, '/subscriptions/**')).join('')}`);
  const r = await run(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', join(work, 'all'), '--format', 'json', '--waivers', file]);
  assert.equal(before.code, 1);
  assert.equal(r.code, 0, r.stdout);
  assert.equal(results(join(work, 'all')).results.filter((x) => x.status === 'fail' && !x.waived).length, 0);
});

test('evaluate takes --waivers and --attestations too', async () => {
  const { waivers, attestations } = setup();
  const out = join(work, 'eval');
  const r = await run(['evaluate', '--evidence', fixture('demo', 'snapshot.json'), '--control', 'AI-SEC-01', '--out', out, '--format', 'json', '--waivers', waivers, '--attestations', join(attestations, 'key-management.yaml')]);
  assert.equal(r.code, 1, r.stderr);
  const res = results(out);
  assert.equal(res.results.filter((x) => x.waived).length, 2);
  assert.deepEqual(res.attestations!.map((a) => a.id), ['attestation://key-management']);
});

test('a bad waiver file or a missing attached file is exit 2 naming the problem, and writes nothing', async () => {
  const badW = join(work, 'bad-waivers.yaml');
  writeFileSync(badW, WAIVERS.replace('    approver: Dana Smith (CISO)\n', ''));
  const out1 = join(work, 'nothing1');
  const r1 = await run(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out1, '--waivers', badW]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /bad-waivers\.yaml:2: missing required field "approver" \(at \/waivers\/0\/approver\)/);
  assert.equal(existsSync(out1), false);

  const att = join(work, 'att-missing');
  mkdirSync(att, { recursive: true });
  writeFileSync(join(att, 'policy.yaml'), 'check: encryption_policy_attested\nstatement: The encryption policy is approved.\nowner: A B\ndate: 2026-01-01\nexpires: 2027-01-01\nevidence:\n  - signed-policy.pdf\n');
  const out2 = join(work, 'nothing2');
  const r2 = await run(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out2, '--attestations', att]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /policy\.yaml:7: attached evidence file not found: signed-policy\.pdf/);
  assert.equal(existsSync(out2), false);
});

test('--all over the demo estate with the demo attestations: every control has results, none is an error', async () => {
  const out = join(work, 'all-controls');
  const r = await run(['--all', '--replay', fixture('demo', 'replay'), '--out', out, '--format', 'json', '--attestations', fixture('demo', 'attestations')]);
  assert.equal(r.code, 1, r.stderr);
  const res = results(out);
  const ids = res.controls.map((c) => c.id);
  assert.ok(ids.length >= 8 && ['AI-DATA-01', 'AI-DATA-02', 'AI-RES-01', 'AI-RES-02', 'AI-MON-01', 'AI-CAP-01', 'AI-GOV-01', 'AI-SEC-01'].every((id) => ids.includes(id)), ids.join());
  assert.equal(res.results.filter((x) => x.status === 'error').length, 0, JSON.stringify(res.results.filter((x) => x.status === 'error').map((x) => x.message)));
  const status = (check: string, name: string) => res.results.find((x) => x.check === check && x.resourceName === name)?.status;
  // The demo's intended mix: right in prod, wrong elsewhere, prod-only rules silent on dev.
  assert.equal(status('record_plane_lifecycle_rule', 'staiprod01'), 'pass');
  assert.equal(status('record_plane_lifecycle_rule', 'staidevlegacy'), 'fail');
  assert.equal(status('postgres_zone_redundant_ha', 'psql-ai-prod'), 'pass');
  assert.equal(status('postgres_zone_redundant_ha', 'psql-ai-uat'), 'fail');
  assert.equal(status('postgres_zone_redundant_ha', 'psql-ai-dev'), 'not_applicable');
  assert.equal(status('postgres_cpu_alert', 'psql-ai-prod'), 'pass');
  assert.equal(status('postgres_vector_allowlisted', 'psql-ai-dev'), 'fail');
  assert.equal(status('postgres_geo_redundant_backup', 'psql-ai-prod'), 'pass');
  // AI-GOV-01: a current attestation passes, an expired one and a missing one await (manual), never pass.
  const gov = res.results.filter((x) => x.control === 'AI-GOV-01').map((x) => `${x.resourceId} ${x.status}`).sort();
  assert.deepEqual(gov, ['attestation://data-classification manual', 'attestation://encryption-policy manual', 'attestation://key-management-responsibilities pass']);
});
