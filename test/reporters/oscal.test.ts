import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsNs from 'ajv-formats';
import {
  OSCAL_AI_RMF_NS,
  OSCAL_NS,
  OSCAL_STATE,
  isUuidV4,
  oscalControlId,
  renderOscal,
  seededUuidV4,
  type EvidenceIndexEntry,
} from '../../src/reporters/oscal.js';
import { InputError } from '../../src/errors.js';
import type { ResultsFile, Status } from '../../src/model.js';
import { sha256Hex } from '../../src/util/hash.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';
import { repoRoot, shared } from '../support/paths.js';

const addFormats = addFormatsNs.default;
const ajv = new Ajv({ allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(shared('oscal', 'oscal_assessment-results_schema.json'), 'utf8')));

function assertValid(text: string): any {
  const doc = JSON.parse(text);
  const ok = validate(doc);
  assert.equal(ok, true, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  return doc;
}

/** Matches the tool version as a whole token, so goldens survive a version bump. */
function versionRe(version: string): RegExp {
  return new RegExp(`(?<![\\d.])${version.replace(/\./g, '\\.')}(?![\\d.])`, 'g');
}

/** A counter generator of valid v4 UUIDs, so tests can predict ids. */
function counter(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`;
}

const SAMPLE = sampleResults();
const PG_DEV = SAMPLE.results.find((r) => r.resourceId.endsWith('pg-dev-01'))!.resourceId;
const ST_BAD = SAMPLE.results.find((r) => r.resourceId.endsWith(HOSTILE_NAME))!.resourceId;
const PG_PROD = SAMPLE.results.find((r) => r.resourceId.endsWith('pg-prod-01'))!.resourceId;

/** Evidence index: one file per service family, plus a file of probe observations; the hostile id is in storage. */
function index(): EvidenceIndexEntry[] {
  const storage = SAMPLE.results.filter((r) => r.resourceType.includes('storage')).map((r) => r.resourceId);
  return [
    { path: 'evidence/postgres.json', sha256: sha256Hex('pg'), documents: [PG_PROD, PG_DEV.toUpperCase()] },
    { path: 'evidence/storage.json', sha256: sha256Hex('st').toUpperCase(), documents: storage },
    { path: 'evidence/probes.json', sha256: sha256Hex('probes'), documents: [`${PG_PROD}/probes/tls`] },
  ];
}

function uuids(value: unknown, out: { key: string; value: string }[] = []): { key: string; value: string }[] {
  if (Array.isArray(value)) value.forEach((v) => uuids(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if ((k === 'uuid' || k.endsWith('-uuid')) && typeof v === 'string') out.push({ key: k, value: v });
      else if (k.endsWith('-uuids') && Array.isArray(v)) v.forEach((x) => out.push({ key: k, value: x }));
      else uuids(v, out);
    }
  }
  return out;
}

test('the sample renders to OSCAL 1.1.3 assessment-results that validate against the NIST schema', () => {
  const doc = assertValid(renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  const ar = doc['assessment-results'];
  assert.equal(ar.metadata['oscal-version'], '1.1.3');
  assert.equal(ar.metadata['last-modified'], SAMPLE.finishedAt);
  assert.match(ar.metadata.title, /AI-SEC-01.*DEMO DATA/);
  assert.equal(ar['import-ap'].href, 'results.json');
  assert.match(ar['import-ap'].remarks, /no OSCAL assessment plan/);
  assert.equal(ar.results.length, 1);
  assert.equal(ar.results[0].start, SAMPLE.startedAt);
  assert.equal(ar.results[0].end, SAMPLE.finishedAt);
});

test('the schema really is enforced: a v7 uuid or a bogus state is rejected', () => {
  const doc = JSON.parse(renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  const bad1 = structuredClone(doc);
  bad1['assessment-results'].uuid = '01890a5d-ac96-774b-bcce-b302099a8057';
  assert.equal(validate(bad1), false);
  const bad2 = structuredClone(doc);
  bad2['assessment-results'].results[0].findings[0].target.status.state = 'not-applicable';
  assert.equal(validate(bad2), false);
});

test('every uuid is a UUIDv4, unique where defined, and every reference resolves inside the document', () => {
  const text = renderOscal(SAMPLE, { evidenceIndex: index() });
  const doc = assertValid(text);
  const all = uuids(doc);
  assert.ok(all.length > 20);
  for (const u of all) assert.equal(isUuidV4(u.value), true, `${u.key} ${u.value}`);
  const defined = all.filter((u) => u.key === 'uuid').map((u) => u.value);
  assert.equal(new Set(defined).size, defined.length, 'defined uuids are unique');
  for (const ref of all.filter((u) => u.key !== 'uuid')) assert.ok(defined.includes(ref.value), `${ref.key} ${ref.value} resolves`);
  const ar = doc['assessment-results'];
  const backMatter = ar['back-matter'].resources.map((r: { uuid: string }) => r.uuid);
  for (const o of ar.results[0].observations) {
    for (const ev of o['relevant-evidence'] ?? []) assert.ok(backMatter.includes(ev.links[0].href.slice(1)));
  }
});

test('uuids are deterministic: the injected generator is used in order, the default is seeded by the run id', () => {
  const a = renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() });
  assert.equal(a, renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  assert.equal(JSON.parse(a)['assessment-results'].uuid, '00000000-0000-4000-8000-000000000001');
  const d1 = renderOscal(SAMPLE, { evidenceIndex: index() });
  assert.equal(d1, renderOscal(SAMPLE, { evidenceIndex: index() }));
  const other: ResultsFile = { ...SAMPLE, runId: 'another-run' };
  assert.notEqual(JSON.parse(d1)['assessment-results'].uuid, JSON.parse(renderOscal(other, { evidenceIndex: index() }))['assessment-results'].uuid);
  const gen = seededUuidV4('seed');
  for (let i = 0; i < 200; i++) assert.equal(isUuidV4(gen()), true);
});

test('a generator that returns a non-v4 UUID is refused with InputError', () => {
  assert.throws(
    () => renderOscal(SAMPLE, { evidenceIndex: index(), uuid: () => '01890a5d-ac96-774b-bcce-b302099a8057' }),
    (e: unknown) => e instanceof InputError && e.code === 'E_OSCAL_UUID' && /not a UUIDv4/.test(e.message),
  );
});

test('reviewed-controls name the SP 800-53 controls with OSCAL ids that exist in the NIST catalog, plus AI RMF props', () => {
  const doc = assertValid(renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  const sel = doc['assessment-results'].results[0]['reviewed-controls']['control-selections'];
  assert.equal(sel.length, 1);
  const ids = sel[0]['include-controls'].map((c: { 'control-id': string }) => c['control-id']);
  assert.deepEqual(ids, ['ac-3', 'au-2', 'sc-12', 'sc-13', 'sc-28', 'sc-7', 'sc-8']);
  const catalog = readFileSync(shared('oscal', 'NIST_SP-800-53_rev5_HIGH-baseline-resolved-profile_catalog-min.json'), 'utf8');
  for (const id of ids) assert.ok(catalog.includes(`"id":"${id}"`), `${id} is a control id in the NIST catalog`);
  assert.deepEqual(
    sel[0].props.filter((p: { ns: string }) => p.ns === OSCAL_AI_RMF_NS),
    [
      { name: 'subcategory', ns: OSCAL_AI_RMF_NS, value: 'MEASURE 2.7' },
      { name: 'subcategory', ns: OSCAL_AI_RMF_NS, value: 'MEASURE 2.10' },
    ],
  );
});

test('oscalControlId maps SP 800-53 spellings to OSCAL ids and refuses what it cannot map', () => {
  assert.equal(oscalControlId('SC-28'), 'sc-28');
  assert.equal(oscalControlId('SC-8(1)'), 'sc-8.1');
  assert.equal(oscalControlId('cp-2 (2)'), 'cp-2.2');
  assert.equal(oscalControlId('AU-06'), 'au-6');
  assert.throws(() => oscalControlId('SC 28'), (e: unknown) => e instanceof InputError && /SC-8\(1\)/.test(String(e.details.hint)));
});

test('one observation per result: subject is the resource, evidence links carry the file digest, methods are allowed values', () => {
  const doc = assertValid(renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  const r0 = doc['assessment-results'].results[0];
  const obs = r0.observations;
  assert.equal(obs.length, SAMPLE.results.length);
  const items = new Map(r0['local-definitions']['inventory-items'].map((i: any) => [i.uuid, i]));
  const prop = (o: any, name: string) => o.props.find((p: any) => p.name === name && p.ns === OSCAL_NS)?.value;
  for (const o of obs) {
    assert.deepEqual(o.methods.filter((m: string) => !['EXAMINE', 'TEST', 'INTERVIEW', 'UNKNOWN'].includes(m)), []);
    assert.equal(o.collected, SAMPLE.finishedAt);
    assert.equal(o.subjects[0].type, 'inventory-item');
    const item: any = items.get(o.subjects[0]['subject-uuid']);
    // The title is Markdown (escaped); the prop is the plain resource id.
    assert.equal(item.props.find((p: any) => p.name === 'resource-id').value, o.subjects[0].title.replace(/\\(.)/g, '$1'));
    assert.equal(o.origins[0].actors[0].type, 'tool');
  }
  // The failing PostgreSQL result links to evidence/postgres.json (matched case-insensitively) with its digest.
  const pgFail = obs.find((o: any) => prop(o, 'check-id') === 'postgres_cmk_encryption' && prop(o, 'result-status') === 'fail');
  assert.equal(pgFail['relevant-evidence'].length, 1);
  const ev = pgFail['relevant-evidence'][0];
  assert.equal(ev.href, 'evidence/postgres.json');
  assert.deepEqual(ev.props.find((p: any) => p.name === 'sha256'), { name: 'sha256', ns: OSCAL_NS, value: sha256Hex('pg') });
  assert.match(pgFail.remarks, /Expected: properties\.dataEncryption\.type in \[AzureKeyVault\]/);
  assert.match(pgFail.remarks, /Actual: properties\.dataEncryption\.type = "SystemManaged"/);
  // The hostile storage name: href percent-encoded in one segment, digest lower-cased from the index's upper case.
  const hostile = obs.find((o: any) => o.subjects[0].title.replace(/\\(.)/g, '$1') === ST_BAD);
  assert.equal(hostile['relevant-evidence'][0].href, 'evidence/storage.json');
  assert.equal(hostile['relevant-evidence'][0].props[0].value, sha256Hex('st'));
  // The error result has no evidence and says so.
  const err = obs.find((o: any) => prop(o, 'result-status') === 'error');
  assert.equal(err['relevant-evidence'], undefined);
  assert.match(err.remarks, /No evidence document was available/);
  // back-matter: every file with a SHA-256 hash, whether linked or not.
  const bm = doc['assessment-results']['back-matter'].resources;
  assert.deepEqual(
    bm.map((b: any) => [b.rlinks[0].href, b.rlinks[0].hashes[0].algorithm, b.rlinks[0].hashes[0].value]),
    [
      ['evidence/postgres.json', 'SHA-256', sha256Hex('pg')],
      ['evidence/probes.json', 'SHA-256', sha256Hex('probes')],
      ['evidence/storage.json', 'SHA-256', sha256Hex('st')],
    ],
  );
});

test('probe evidence makes the method TEST; configuration evidence EXAMINE; a file without a document list is the fallback', () => {
  const results = sampleResults();
  results.results[0]!.evidence = [results.results[0]!.resourceId, `${results.results[0]!.resourceId}/probes/tls`];
  results.results[2]!.evidence = ['/subscriptions/x/unknown-doc'];
  const idx: EvidenceIndexEntry[] = [
    ...index(),
    { path: 'evidence/all documents #1.json', sha256: sha256Hex('all') },
  ];
  const doc = assertValid(renderOscal(results, { evidenceIndex: idx, uuid: counter() }));
  const obs = doc['assessment-results'].results[0].observations;
  const withProbe = obs.find((o: any) => (o['relevant-evidence'] ?? []).some((e: any) => e.href === 'evidence/probes.json'));
  assert.deepEqual(withProbe.methods, ['TEST']);
  const fallback = obs.find((o: any) => (o['relevant-evidence'] ?? []).some((e: any) => e.href.startsWith('evidence/all')));
  assert.equal(fallback['relevant-evidence'][0].href, 'evidence/all%20documents%20%231.json');
  assert.deepEqual(fallback.methods, ['EXAMINE']);
  // Without a catch-all file, an evidence id no file holds is named in the remarks.
  const doc2 = assertValid(renderOscal(results, { evidenceIndex: index(), uuid: counter() }));
  const lost = doc2['assessment-results'].results[0].observations.find((o: any) => /unknown-doc/.test(o.remarks));
  assert.match(lost.remarks, /not found in the bundle's evidence index: \/subscriptions\/x\/unknown-doc/);
});

test('findings: one per control and SP 800-53 objective, state from the documented table, fail closed', () => {
  const doc = assertValid(renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }));
  const r0 = doc['assessment-results'].results[0];
  assert.equal(r0.findings.length, 7);
  for (const f of r0.findings) {
    assert.equal(f.target.type, 'objective-id');
    assert.match(f.target['target-id'], /^[a-z]{2}-\d+_obj$/);
    assert.deepEqual(f.target.status.state, 'not-satisfied');
    assert.equal(f.target.status.reason, 'fail');
    assert.equal(f.props.find((p: any) => p.name === 'control-id').value, 'AI-SEC-01');
    assert.equal(f['related-observations'].length, SAMPLE.results.length);
  }
  const expected: Record<Status, [string, string]> = {
    pass: ['satisfied', 'pass'],
    fail: ['not-satisfied', 'fail'],
    error: ['not-satisfied', 'other'],
    not_applicable: ['not-satisfied', 'other'],
    manual: ['not-satisfied', 'other'],
  };
  for (const status of Object.keys(expected) as Status[]) {
    assert.deepEqual([OSCAL_STATE[status].state, OSCAL_STATE[status].reason], expected[status]);
    const results = sampleResults();
    results.controls[0]!.status = status;
    const d = assertValid(renderOscal(results, { evidenceIndex: index(), uuid: counter() }));
    const f = d['assessment-results'].results[0].findings[0];
    assert.deepEqual([f.target.status.state, f.target.status.reason], expected[status], status);
  }
});

test('a control with no results and no SP 800-53 mapping still validates, with no observations', () => {
  const results: ResultsFile = {
    ...sampleResults(),
    results: [],
    controls: [
      { id: 'AI-GOV-01', title: 'Governance attestations', status: 'not_applicable', counts: { pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0 }, nistAiRmf: ['GOVERN 1.1'], sp80053: [] },
    ],
  };
  const doc = assertValid(renderOscal(results, { evidenceIndex: [], uuid: counter() }));
  const r0 = doc['assessment-results'].results[0];
  assert.equal(r0.observations, undefined);
  assert.equal(r0.findings[0].target['target-id'], 'ai-gov-01_obj');
  assert.equal(r0.findings[0].target.status.state, 'not-satisfied');
  assert.equal(doc['assessment-results']['back-matter'], undefined);
});

test('results of a control missing from the summaries get a derived finding', () => {
  const results = sampleResults();
  results.results.push({ ...results.results[0]!, control: 'AI-RES-01', check: 'postgres_backup_retention', status: 'pass' });
  const doc = assertValid(renderOscal(results, { evidenceIndex: index(), uuid: counter() }));
  const f = doc['assessment-results'].results[0].findings.find((x: any) => x.target['target-id'] === 'ai-res-01_obj');
  assert.equal(f.target.status.state, 'satisfied');
});

test('hostile text: line breaks and edge spaces never break StringDatatype props; secrets in messages are redacted', () => {
  const results = sampleResults();
  const key = `${'A'.repeat(40)}${'b9+/'.repeat(11)}ZZ==`;
  results.results[3]!.resourceName = ` ${HOSTILE_NAME}\nline2\u2028 `;
  results.results[3]!.environment = '\n';
  results.results[3]!.message = `bad tag AccountKey=${key};`;
  results.scope.tags['note\n'] = ' x \r\n y ';
  const text = renderOscal(results, { evidenceIndex: index(), uuid: counter() });
  assertValid(text);
  assert.ok(!text.includes(key));
  assert.match(text, /AccountKey=\[REDACTED\]/);
  const doc = JSON.parse(text);
  const item = doc['assessment-results'].results[0]['local-definitions']['inventory-items'].find((i: any) =>
    i.props.some((p: any) => p.value.startsWith(HOSTILE_NAME)),
  );
  assert.equal(item.props.find((p: any) => p.name === 'resource-name').value, `${HOSTILE_NAME} line2`);
  assert.equal(item.props.find((p: any) => p.name === 'environment'), undefined);
});

test('Markdown fields escape < > & and backslashes, so a hostile name cannot inject HTML into an OSCAL viewer', () => {
  const results = sampleResults();
  results.results[3]!.message = `${HOSTILE_NAME} & <img src=x onerror=alert(1)> C:\\temp`;
  const doc = assertValid(renderOscal(results, { evidenceIndex: index(), uuid: counter() }));
  const obs = doc['assessment-results'].results[0].observations.find((o: any) => o.subjects[0].title.includes('alert(1)'));
  assert.equal(obs.description, 'st\\<script\\>alert(1)\\</script\\> \\& \\<img src=x onerror=alert(1)\\> C:\\\\temp');
  const markdown: string[] = [];
  (function walk(v: unknown): void {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (['title', 'description', 'remarks'].includes(k) && typeof x === 'string') markdown.push(x);
        else walk(x);
      }
    }
  })(doc);
  assert.ok(markdown.length > 30);
  for (const m of markdown) assert.doesNotMatch(m, /(^|[^\\])[<&]/, m);
  // Prop values are plain strings, not Markdown: they keep the exact resource id.
  const item = doc['assessment-results'].results[0]['local-definitions']['inventory-items'].find((i: any) =>
    i.props.some((p: any) => p.name === 'resource-id' && p.value === ST_BAD),
  );
  assert.ok(item);
});

test('a malformed evidence index is an InputError naming every bad entry', () => {
  assert.throws(
    () => renderOscal(SAMPLE, { evidenceIndex: [{ path: '', sha256: 'x' }, { path: 'a', sha256: 'z'.repeat(64) }] }),
    (e: unknown) =>
      e instanceof InputError &&
      /evidenceIndex\[0\]\.path is empty/.test(e.message) &&
      /evidenceIndex\[0\]\.sha256/.test(e.message) &&
      /evidenceIndex\[1\]\.sha256/.test(e.message),
  );
});

test('a large estate (500 extra failures) renders and validates', () => {
  const big = sampleResults({ extraFailures: 500 });
  const doc = assertValid(renderOscal(big, { evidenceIndex: index(), uuid: counter() }));
  assert.equal(doc['assessment-results'].results[0].observations.length, big.results.length);
  assert.equal(doc['assessment-results'].results[0]['local-definitions']['inventory-items'].length, 505);
});

test('golden: test/golden/sample.oscal.json (UPDATE_GOLDEN=1 rewrites it) and it validates', () => {
  const file = join(repoRoot, 'test', 'golden', 'sample.oscal.json');
  const text = renderOscal(SAMPLE, { evidenceIndex: index(), uuid: counter() }).replace(versionRe(SAMPLE.version), '[version]');
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), `${file} is missing: run the tests once with UPDATE_GOLDEN=1 and review the diff`);
  assert.equal(text, readFileSync(file, 'utf8'));
  assertValid(readFileSync(file, 'utf8'));
});
