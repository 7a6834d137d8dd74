import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04Ns from 'ajv-draft-04';
import addFormatsNs from 'ajv-formats';
import { SARIF_SEVERITY, SARIF_STATUS, renderSarif, sarifFingerprint } from '../../src/reporters/sarif.js';
import type { Severity, Status } from '../../src/model.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';
import { repoRoot, shared } from '../support/paths.js';

const Ajv4 = AjvDraft04Ns.default;
const ajv = new Ajv4({ allErrors: true });
addFormatsNs.default(ajv);
const schema = JSON.parse(readFileSync(shared('sarif', 'sarif-schema-2.1.0.json'), 'utf8'));
const validate = ajv.compile(schema);

function assertValid(text: string): any {
  const doc = JSON.parse(text);
  assert.equal(validate(doc), true, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  return doc;
}

function versionRe(version: string): RegExp {
  return new RegExp(`(?<![\\d.])${version.replace(/\./g, '\\.')}(?![\\d.])`, 'g');
}

const SAMPLE = sampleResults();

test('the sample renders to SARIF 2.1.0 that validates against the OASIS schema (draft-04)', () => {
  assert.equal(schema.$schema, 'http://json-schema.org/draft-04/schema#');
  const log = assertValid(renderSarif(SAMPLE));
  assert.equal(log.version, '2.1.0');
  assert.equal(log.runs.length, 1);
  assert.equal(log.runs[0].tool.driver.name, 'engram-audit');
  assert.equal(log.runs[0].tool.driver.version, SAMPLE.version);
  assert.equal(renderSarif(SAMPLE, { toolVersion: '9.9.9' }).includes('"version": "9.9.9"'), true);
});

test('the schema really is enforced: a result without a message is rejected', () => {
  const log = JSON.parse(renderSarif(SAMPLE));
  delete log.runs[0].results[0].message;
  assert.equal(validate(log), false);
});

test('one rule per check, with descriptions, help with remediation, NIST tags and security-severity', () => {
  const log = assertValid(renderSarif(SAMPLE));
  const rules = log.runs[0].tool.driver.rules;
  const checks = [...new Set(SAMPLE.results.map((r) => r.check))].sort();
  assert.deepEqual(
    rules.map((r: any) => r.id),
    checks,
  );
  const tls = rules.find((r: any) => r.id === 'storage_min_tls');
  assert.equal(tls.name, 'StorageMinTls');
  assert.equal(tls.shortDescription.text, 'Storage accounts refuse requests below TLS 1.2');
  assert.match(tls.fullDescription.text, /AI-SEC-01 \(Data encryption\)/);
  assert.match(tls.help.text, /Remediation .*\n  az CLI: az storage account update/);
  assert.match(tls.help.text, /Re-perform: GET https:\/\/management\.azure\.com/);
  assert.equal(tls.properties['security-severity'], '8.0');
  assert.equal(tls.defaultConfiguration.level, 'error');
  for (const tag of ['security', 'AI-SEC-01', 'NIST-AI-RMF/MEASURE 2.7', 'NIST-SP-800-53/SC-8', 'NIST-SP-800-53/SC-28']) {
    assert.ok(tls.properties.tags.includes(tag), tag);
  }
  const pg = rules.find((r: any) => r.id === 'postgres_cmk_encryption');
  assert.match(pg.help.text, /Azure Policy: \/providers\/Microsoft\.Authorization\/policyDefinitions\//);
  const kv = rules.find((r: any) => r.id === 'keyvault_audit_logging');
  assert.match(kv.help.text, /Remediation: see the control documentation/);
  assert.equal(kv.defaultConfiguration.level, 'warning');
});

test('severity -> level comes from one table; every result uses it', () => {
  const expected: Record<Severity, [string, string | undefined]> = {
    critical: ['error', '9.5'],
    high: ['error', '8.0'],
    medium: ['warning', '5.5'],
    low: ['note', '2.0'],
    info: ['note', undefined],
  };
  for (const s of Object.keys(expected) as Severity[]) {
    assert.deepEqual([SARIF_SEVERITY[s].level, SARIF_SEVERITY[s].securitySeverity], expected[s]);
    const results = sampleResults();
    for (const r of results.results) r.severity = s;
    const log = assertValid(renderSarif(results));
    for (const r of log.runs[0].results) assert.equal(r.level, expected[s][0]);
    for (const rule of log.runs[0].tool.driver.rules) {
      assert.equal(rule.properties['security-severity'], expected[s][1]);
      assert.equal(rule.defaultConfiguration.level, expected[s][0]);
    }
  }
});

test('results for failures only, with the resource as a logical location, a physical location and a stable fingerprint', () => {
  const log = assertValid(renderSarif(SAMPLE));
  const results = log.runs[0].results;
  const fails = SAMPLE.results.filter((r) => r.status === 'fail');
  assert.equal(results.length, fails.length);
  const rules = log.runs[0].tool.driver.rules;
  for (const r of results) {
    assert.equal(r.kind, 'fail');
    assert.equal(rules[r.ruleIndex].id, r.ruleId);
    const loc = r.locations[0];
    assert.equal(loc.physicalLocation.artifactLocation.uri, 'results.json');
    assert.equal(loc.physicalLocation.region.startLine, 1);
    assert.equal(loc.logicalLocations[0].kind, 'resource');
    const source = fails.find((f) => f.resourceId === loc.logicalLocations[0].fullyQualifiedName && f.check === r.ruleId)!;
    assert.ok(source);
    assert.equal(r.partialFingerprints['engramFinding/v1'], sarifFingerprint(source));
    assert.match(r.partialFingerprints.primaryLocationLineHash, /^[0-9a-f]{16}:1$/);
    assert.match(r.message.text, /Expected: .* Actual: /);
  }
  const hostile = results.find((r: any) => r.locations[0].logicalLocations[0].fullyQualifiedName.endsWith(HOSTILE_NAME));
  assert.match(hostile.message.text, /accepts TLS1_0\. Expected: properties\.minimumTlsVersion in \[TLS1_2, TLS1_3\]\. Actual: properties\.minimumTlsVersion = "TLS1_0"\./);
  assert.equal(renderSarif(SAMPLE, { artifactUri: 'controls/AI-SEC-01.yaml' }).includes('"uri": "controls/AI-SEC-01.yaml"'), true);
});

test('fingerprints are stable across runs and case-insensitive on the resource id, distinct per resource', () => {
  const a = SAMPLE.results[1]!;
  assert.equal(sarifFingerprint(a), sarifFingerprint({ ...a, resourceId: a.resourceId.toUpperCase() }));
  assert.notEqual(sarifFingerprint(a), sarifFingerprint(SAMPLE.results[3]!));
  const other = { ...sampleResults(), runId: 'other', startedAt: '2027-01-01T00:00:00Z', finishedAt: '2027-01-01T00:00:01Z' };
  const fp = (t: string) => JSON.parse(t).runs[0].results.map((r: any) => r.partialFingerprints);
  assert.deepEqual(fp(renderSarif(SAMPLE)), fp(renderSarif(other)));
});

test('status mapping: error -> notification and an unsuccessful invocation; pass, not_applicable, manual -> nothing', () => {
  assert.deepEqual(SARIF_STATUS, { fail: 'result', error: 'notification', pass: 'omitted', not_applicable: 'omitted', manual: 'omitted' } satisfies Record<Status, string>);
  const log = assertValid(renderSarif(SAMPLE));
  const inv = log.runs[0].invocations[0];
  assert.equal(inv.executionSuccessful, false);
  const notes = inv.toolExecutionNotifications;
  const evalErr = notes.filter((n: any) => n.descriptor.id === 'evaluation-error');
  assert.equal(evalErr.length, 1);
  assert.equal(evalErr[0].associatedRule.id, 'keyvault_audit_logging');
  assert.equal(evalErr[0].level, 'error');
  assert.match(evalErr[0].locations[0].logicalLocations[0].fullyQualifiedName, /vaults\/kv-prod-01$/);
  const collErr = notes.filter((n: any) => n.descriptor.id === 'collection-error');
  assert.equal(collErr.length, 1);
  assert.match(collErr[0].message.text, /monitor\.diagnosticSettings could not collect .*AuthorizationFailed/);
  assert.deepEqual(log.runs[0].properties.counts, { pass: 2, fail: 2, error: 1, not_applicable: 1, manual: 0 });
});

test('executionSuccessful: true only when the caller agrees and there is no error result or collection error', () => {
  const clean = sampleResults();
  clean.results = clean.results.filter((r) => r.status !== 'error');
  clean.coverage.errors = [];
  assert.equal(assertValid(renderSarif(clean)).runs[0].invocations[0].executionSuccessful, true);
  assert.deepEqual(assertValid(renderSarif(clean)).runs[0].invocations[0].toolExecutionNotifications, []);
  assert.equal(assertValid(renderSarif(clean, { executionSuccessful: false })).runs[0].invocations[0].executionSuccessful, false);
  // A caller cannot claim success over errors.
  assert.equal(assertValid(renderSarif(SAMPLE, { executionSuccessful: true })).runs[0].invocations[0].executionSuccessful, false);
  const onlyCollection = sampleResults();
  onlyCollection.results = onlyCollection.results.filter((r) => r.status !== 'error');
  assert.equal(assertValid(renderSarif(onlyCollection)).runs[0].invocations[0].executionSuccessful, false);
});

test('an all-passing run has rules and no results; an empty run still validates', () => {
  const passing = sampleResults();
  passing.results = passing.results.filter((r) => r.status === 'pass');
  passing.coverage.errors = [];
  const log = assertValid(renderSarif(passing));
  assert.deepEqual(log.runs[0].results, []);
  assert.equal(log.runs[0].tool.driver.rules.length, 2);
  const empty = { ...passing, results: [], controls: [] };
  assert.deepEqual(assertValid(renderSarif(empty)).runs[0].tool.driver.rules, []);
});

test('many resources: 1,000 extra failures, one result each, unique fingerprints, same bytes twice', () => {
  const big = sampleResults({ extraFailures: 1000 });
  const text = renderSarif(big);
  assert.equal(text, renderSarif(big));
  const log = assertValid(text);
  assert.equal(log.runs[0].results.length, 1002);
  const fps = new Set(log.runs[0].results.map((r: any) => r.partialFingerprints['engramFinding/v1']));
  assert.equal(fps.size, 1002);
});

test('secrets in messages are redacted', () => {
  const results = sampleResults();
  results.results[1]!.message = 'conn: Server=x;Password=hunter2secret;';
  const text = renderSarif(results);
  assert.ok(!text.includes('hunter2secret'));
  assertValid(text);
});

test('golden: test/golden/sample.sarif.json (UPDATE_GOLDEN=1 rewrites it) and it validates', () => {
  const file = join(repoRoot, 'test', 'golden', 'sample.sarif.json');
  const text = renderSarif(SAMPLE).replace(versionRe(SAMPLE.version), '[version]');
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), `${file} is missing: run the tests once with UPDATE_GOLDEN=1 and review the diff`);
  assert.equal(text, readFileSync(file, 'utf8'));
  assertValid(readFileSync(file, 'utf8'));
});
