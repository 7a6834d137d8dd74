import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// fast-xml-parser comes with @azure/core-xml (a dependency of @azure/storage-blob); it is the XML parser in node_modules.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { JUNIT_STATUS, renderJunit, xmlEscape } from '../../src/reporters/junit.js';
import type { ResultsFile, Status } from '../../src/model.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';
import { repoRoot } from '../support/paths.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  trimValues: false,
  htmlEntities: true,
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
});

/** XML 1.0 `Char` production: anything outside it makes a strict parser (Azure DevOps, Jenkins) reject the file. */
const NOT_XML_CHAR = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function parse(xml: string): any {
  assert.equal(XMLValidator.validate(xml), true, JSON.stringify(XMLValidator.validate(xml)));
  assert.doesNotMatch(xml, NOT_XML_CHAR);
  // No raw '<' or '&' inside attribute values: every attribute is "...", and its content has no '<', '"' or bare '&'.
  for (const m of xml.matchAll(/\s[\w:-]+="([^"]*)"/g)) {
    assert.doesNotMatch(m[1]!, /<|&(?!(amp|lt|gt|quot|apos|#\d+);)/, m[0]);
  }
  return parser.parse(xml);
}

function versionRe(version: string): RegExp {
  return new RegExp(`(?<![\\d.])${version.replace(/\./g, '\\.')}(?![\\d.])`, 'g');
}

/** Recounts a parsed suite from its testcases, the way Azure DevOps and Jenkins do. */
function recount(cases: any[]) {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.failure !== undefined).length,
    errors: cases.filter((c) => c.error !== undefined).length,
    skipped: cases.filter((c) => c.skipped !== undefined).length,
  };
}
function declared(node: any) {
  return { tests: Number(node['@tests']), failures: Number(node['@failures']), errors: Number(node['@errors']), skipped: Number(node['@skipped']) };
}

const SAMPLE = sampleResults();

test('the sample is well-formed JUnit XML: one suite per control, one testcase per check and resource, counts add up', () => {
  const doc = parse(renderJunit(SAMPLE));
  const root = doc.testsuites;
  const suites = root.testsuite;
  assert.deepEqual(
    suites.map((s: any) => s['@id']),
    ['AI-SEC-01'],
  );
  const s = suites[0];
  assert.equal(s['@name'], 'AI-SEC-01 Data encryption');
  assert.equal(s.testcase.length, SAMPLE.results.length);
  assert.deepEqual(declared(s), recount(s.testcase));
  assert.deepEqual(declared(s), { tests: 6, failures: 2, errors: 1, skipped: 1 });
  assert.deepEqual(declared(root), { tests: 6, failures: 2, errors: 1, skipped: 1 });
  assert.equal(s['@time'], '5.000');
  assert.equal(s['@timestamp'], SAMPLE.startedAt);
  assert.match(root['@name'], /DEMO DATA/);
});

test('status mapping: fail -> failure with expected/actual, error -> error, not_applicable and manual -> skipped', () => {
  assert.deepEqual(JUNIT_STATUS, { pass: null, fail: 'failure', error: 'error', not_applicable: 'skipped', manual: 'skipped' } satisfies Record<Status, unknown>);
  const cases = parse(renderJunit(SAMPLE)).testsuites.testsuite[0].testcase;
  const byName = (re: RegExp) => cases.find((c: any) => re.test(c['@name']));
  const pgFail = cases.find((c: any) => c['@name'] === 'postgres_cmk_encryption [pg-dev-01]' && c.failure);
  assert.equal(pgFail['@classname'], 'AI-SEC-01.postgres_cmk_encryption');
  assert.equal(pgFail.failure['@message'], SAMPLE.results[1]!.message);
  assert.equal(pgFail.failure['@type'], 'high');
  assert.match(pgFail.failure['#text'], /Expected: properties\.dataEncryption\.type in \[AzureKeyVault\]\nActual: properties\.dataEncryption\.type = "SystemManaged"/);
  assert.match(pgFail.failure['#text'], /Remediation \(az CLI\): az postgres flexible-server update/);
  const err = byName(/^keyvault_audit_logging/);
  assert.equal(err.error['@type'], 'could-not-evaluate');
  assert.match(err.error['@message'], /could not evaluate/);
  assert.match(err.error['#text'], /Actual: \(missing evidence\)/);
  const na = byName(/^postgres_geo_backup_prod/);
  assert.match(na.skipped['@message'], /applies to prod only/);
  const pass = cases.find((c: any) => c['@name'] === 'postgres_cmk_encryption [pg-prod-01]');
  assert.equal(pass.failure, undefined);
  assert.equal(pass.error, undefined);
  assert.equal(pass.skipped, undefined);
  const props = Object.fromEntries(pass.properties.property.map((p: any) => [p['@name'], p['@value']]));
  assert.equal(props.status, 'pass');
  assert.equal(props.environment, 'prod');
  assert.match(props.resourceId, /flexibleServers\/pg-prod-01$/);
});

test('hostile names and messages round-trip exactly through a parser (escaping is complete)', () => {
  const results = sampleResults();
  const nasty = `${HOSTILE_NAME} & "q" 'a' ]]> <!-- x --> \n\ttab`;
  results.results[3]!.resourceName = nasty;
  results.results[3]!.message = `msg ${nasty}`;
  results.results[3]!.actual = `</failure><error message="x"/>`;
  results.controls[0]!.title = 'Data <encryption> & "TLS"';
  const xml = renderJunit(results);
  const suite = parse(xml).testsuites.testsuite[0];
  assert.equal(suite['@name'], 'AI-SEC-01 Data <encryption> & "TLS"');
  const c = suite.testcase.find((x: any) => x.failure && x['@name'].includes('<script>'));
  assert.equal(c['@name'], `storage_min_tls [${nasty}]`);
  assert.equal(c.failure['@message'], `msg ${nasty}`);
  assert.match(c.failure['#text'], /Actual: <\/failure><error message="x"\/>/);
  assert.deepEqual(declared(suite), recount(suite.testcase));
  assert.ok(!xml.includes('<script>'));
});

test('characters XML 1.0 forbids become U+FFFD instead of breaking the file', () => {
  assert.equal(xmlEscape('a\u0000b\u001bc\uFFFEd'), 'a\uFFFDb\uFFFDc\uFFFDd');
  assert.equal(xmlEscape('x\ny', true), 'x&#10;y');
  assert.equal(xmlEscape('x\ny'), 'x\ny');
  assert.equal(xmlEscape('\uD83D\uDE00'), '\uD83D\uDE00');
  assert.equal(xmlEscape('\uD83D'), '\uFFFD');
  const results = sampleResults();
  results.results[1]!.message = 'bell\u0007 null\u0000 esc\u001b';
  const xml = renderJunit(results);
  const c = parse(xml).testsuites.testsuite[0].testcase.find((x: any) => x.failure && /bell/.test(x.failure['@message']));
  assert.equal(c.failure['@message'], 'bell\uFFFD null\uFFFD esc\uFFFD');
});

test('several controls: suites sorted by id, counts per suite and in total', () => {
  const results = sampleResults({ extraFailures: 250 });
  results.results.push({ ...results.results[0]!, control: 'AI-DATA-01', check: 'blob_lifecycle', status: 'manual' });
  results.results.push({ ...results.results[0]!, control: 'AI-DATA-01', check: 'blob_versioning', status: 'fail' });
  const doc = parse(renderJunit(results));
  const suites = doc.testsuites.testsuite;
  assert.deepEqual(
    suites.map((s: any) => s['@id']),
    ['AI-DATA-01', 'AI-SEC-01'],
  );
  const total = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const s of suites) {
    assert.deepEqual(declared(s), recount(s.testcase));
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += declared(s)[k];
  }
  assert.deepEqual(declared(doc.testsuites), total);
  assert.deepEqual(total, { tests: 258, failures: 253, errors: 1, skipped: 2 });
});

test('collection errors that name no resource become an errored collection suite', () => {
  const results: ResultsFile = sampleResults();
  results.coverage.errors.push({ collector: 'resource-graph', scope: 'sub-<2>', code: 'Throttled', message: '429 & retry exhausted' });
  const doc = parse(renderJunit(results));
  const suites = doc.testsuites.testsuite;
  const coll = suites.find((s: any) => s['@id'] === 'engram-audit.collection');
  assert.equal(coll.testcase.length, 1);
  assert.equal(coll.testcase[0]['@name'], 'resource-graph [sub-<2>]');
  assert.equal(coll.testcase[0].error['@message'], 'Throttled: 429 & retry exhausted');
  assert.deepEqual(declared(doc.testsuites), { tests: 7, failures: 2, errors: 2, skipped: 1 });
});

test('a control with no results is an empty suite; the same input renders the same bytes', () => {
  const results = sampleResults();
  results.controls.push({ id: 'AI-GOV-01', title: 'Governance', status: 'not_applicable', counts: { pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0 }, nistAiRmf: [], sp80053: [] });
  const xml = renderJunit(results);
  assert.equal(xml, renderJunit(results));
  const gov = parse(xml).testsuites.testsuite.find((s: any) => s['@id'] === 'AI-GOV-01');
  assert.deepEqual(declared(gov), { tests: 0, failures: 0, errors: 0, skipped: 0 });
});

test('golden: test/golden/sample.junit.xml (UPDATE_GOLDEN=1 rewrites it)', () => {
  const file = join(repoRoot, 'test', 'golden', 'sample.junit.xml');
  const text = renderJunit(SAMPLE).replace(versionRe(SAMPLE.version), '[version]');
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), `${file} is missing: run the tests once with UPDATE_GOLDEN=1 and review the diff`);
  assert.equal(text, readFileSync(file, 'utf8'));
  parse(readFileSync(file, 'utf8'));
});
