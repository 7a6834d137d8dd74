import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, ValidationError } from '../../src/errors.js';
import { loadSnapshot } from '../../src/evidence/snapshot.js';
import { serializeEvidence } from '../../src/evidence/serialize.js';
import { findSyntaxError, lineColumnAt, locatePointers } from '../../src/evidence/json-locate.js';
import { ACCOUNT_KEY, CONNECTION_STRING, KV, PG, ST, sampleEvidence, tempDir } from './support.js';
import { repoRoot } from '../support/paths.js';

let tmp: ReturnType<typeof tempDir>;
before(() => {
  tmp = tempDir();
});
after(() => tmp.cleanup());

let n = 0;
function file(content: string, name = `snap-${++n}.json`): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, content);
  return p;
}

async function inputError(path: string): Promise<InputError> {
  try {
    await loadSnapshot(path);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadSnapshot to throw');
}

async function validationError(path: string): Promise<ValidationError> {
  try {
    await loadSnapshot(path);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadSnapshot to throw');
}

test('a valid snapshot loads; documents are redacted on load and get snapshot provenance', async () => {
  const doc = { id: ST, type: 'Microsoft.Storage/storageAccounts', tags: { note: CONNECTION_STRING }, properties: { minimumTlsVersion: 'TLS1_2' } };
  const clean = { id: PG, type: 'Microsoft.DBforPostgreSQL/flexibleServers', properties: {} };
  const ev = await loadSnapshot(file(JSON.stringify({ documents: [doc, clean] }, null, 2)));
  assert.equal(ev.documents.length, 2);
  assert.ok(!JSON.stringify(ev).includes(ACCOUNT_KEY), 'the account key never reaches the loaded evidence');
  assert.match(String(ev.documents[0]!.tags!.note), /AccountKey=\[REDACTED\]/);
  assert.deepEqual(ev.errors, []);
  const p0 = ev.provenance.find((p) => p.documentId === ST)!;
  assert.deepEqual(p0, { documentId: ST, source: 'snapshot', redacted: true });
  const p1 = ev.provenance.find((p) => p.documentId === PG)!;
  assert.equal(p1.source, 'snapshot');
  assert.match(String(p1.bodySha256), /^[0-9a-f]{64}$/);
});

test('not JSON: the error names file:line:column', async () => {
  const path = file('{\n  "documents": [\n    { "id": "a", },\n  ]\n}\n');
  const err = await inputError(path);
  assert.equal(err.code, 'E_SNAPSHOT_NOT_JSON');
  assert.equal(err.details.file, path);
  assert.equal(err.details.line, 3);
  assert.equal(err.details.column, 18);
  assert.match(err.message, /line 3, column 18/);
  assert.match(err.format(), new RegExp(`^${path}:3: `));
  // Unexpected end of input: JSON.parse gives no position; the scanner still finds the line.
  const cut = await inputError(file('{\n "documents": [\n'));
  assert.equal(cut.details.line, 3);
  assert.match(cut.message, /end of file/);
});

test('no documents array, a bare array and a non-object are refused with what to do', async () => {
  const none = await inputError(file('{"resources": []}'));
  assert.equal(none.code, 'E_SNAPSHOT_SHAPE');
  assert.match(none.message, /no `documents` array/);
  assert.equal(none.details.field, '/documents');
  const bare = await inputError(file('[{"id":"x"}]'));
  assert.match(String(bare.details.hint), /jq '\{documents: \.\}'/);
  const str = await inputError(file('"hello"'));
  assert.equal(str.code, 'E_SNAPSHOT_SHAPE');
});

test('every schema problem is reported together with its JSON pointer and line', async () => {
  const text = [
    '{',
    '  "documents": [',
    '    { "id": "/subscriptions/0/a" },',
    '    { "id": "/subscriptions/0/b" },',
    '    { "id": "/subscriptions/0/c" },',
    '    { "name": "no-id-here" },',
    '    { "id": 42 },',
    '    "not an object"',
    '  ],',
    '  "provenance": [ { "documentId": "x", "source": "carrier-pigeon" } ]',
    '}',
  ].join('\n');
  const path = file(text);
  const err = await validationError(path);
  assert.equal(err.exitCode, 2);
  assert.equal(err.details.file, path);
  const byField = new Map(err.problems.map((p) => [p.details.field, p]));
  const missing = byField.get('/documents/3/id');
  assert.ok(missing, `pointer /documents/3/id reported; got ${[...byField.keys()].join(', ')}`);
  assert.match(missing.message, /document has no `id`/);
  assert.equal(missing.details.line, 6);
  assert.equal(missing.details.file, path);
  const wrongType = byField.get('/documents/4/id');
  assert.ok(wrongType);
  assert.match(wrongType.message, /`id` must be a string/);
  assert.equal(wrongType.details.line, 7);
  assert.equal(byField.get('/documents/5')?.details.line, 8);
  assert.match(String(byField.get('/provenance/0/source')?.message), /carrier-pigeon|allowed values/);
  const printed = err.format();
  assert.match(printed, /\/documents\/3\/id/);
  assert.match(printed, new RegExp(`${path}:6: document has no`));
});

test('az graph query output ({ data }) and az rest list output ({ value }) load as they are; pointers follow the file', async () => {
  const graph = await loadSnapshot(file(JSON.stringify({ count: 1, data: [{ id: ST, type: 'microsoft.storage/storageaccounts' }], skip_token: null, total_records: 1 })));
  assert.equal(graph.documents[0]!.id, ST);
  const rest = await loadSnapshot(file(JSON.stringify({ value: [{ id: PG }] })));
  assert.equal(rest.documents[0]!.id, PG);
  const bad = await validationError(file(JSON.stringify({ data: [{ name: 'x' }] })));
  assert.equal(bad.problems[0]!.details.field, '/data/0/id');
});

test('one page of several (skip_token or nextLink set) is refused: resources would be missing', async () => {
  const g = await inputError(file(JSON.stringify({ count: 1, data: [{ id: ST }], skip_token: 'ew0KICAiJGlkIjogIjEiLA0K' })));
  assert.equal(g.code, 'E_SNAPSHOT_TRUNCATED');
  assert.match(String(g.details.hint), /jq -s/);
  const r = await inputError(file(JSON.stringify({ value: [{ id: PG }], nextLink: 'https://management.azure.com/next' })));
  assert.equal(r.code, 'E_SNAPSHOT_TRUNCATED');
});

test('a missing file is an InputError naming it', async () => {
  const path = join(tmp.dir, 'nope.json');
  const err = await inputError(path);
  assert.equal(err.code, 'E_SNAPSHOT_NOT_FOUND');
  assert.equal(err.details.file, path);
});

test('a serialised evidence directory is itself a snapshot: dir, bundle dir, index.json and one part file all load', async () => {
  const bundle = join(tmp.dir, 'bundle');
  const ser = serializeEvidence(sampleEvidence());
  for (const [p, bytes] of Object.entries(ser.files)) {
    mkdirSync(join(bundle, p, '..'), { recursive: true });
    writeFileSync(join(bundle, p), bytes);
  }
  const original = sampleEvidence();
  for (const path of [bundle, join(bundle, 'evidence'), join(bundle, 'evidence', 'index.json')]) {
    const ev = await loadSnapshot(path);
    assert.equal(ev.documents.length, original.documents.length, path);
    assert.deepEqual(
      ev.documents.map((d) => d.id).sort(),
      original.documents.map((d) => d.id).sort(),
    );
    assert.deepEqual(ev.errors, original.errors);
    // Azure provenance survives a round trip; documents without any get a snapshot record.
    assert.equal(ev.provenance.find((p) => p.documentId === PG)?.source, 'replay');
    assert.equal(ev.provenance.find((p) => p.documentId === KV)?.source, 'snapshot');
    assert.ok(!JSON.stringify(ev).includes(ACCOUNT_KEY));
  }
  const part = ser.index.find((f) => f.family === 'microsoft.storage/storageaccounts')!;
  const one = await loadSnapshot(join(bundle, part.path));
  assert.equal(one.documents.length, part.documents);
});

test('an evidence file changed after writing is refused on load, pointing to verify', async () => {
  const bundle = join(tmp.dir, 'bundle-tampered');
  const ser = serializeEvidence(sampleEvidence());
  for (const [p, bytes] of Object.entries(ser.files)) {
    mkdirSync(join(bundle, p, '..'), { recursive: true });
    writeFileSync(join(bundle, p), bytes);
  }
  const part = join(bundle, ser.index[0]!.path);
  writeFileSync(part, readFileSync(part, 'utf8').replace('"documents"', '"documents" '));
  const err = await inputError(bundle);
  assert.equal(err.code, 'E_EVIDENCE_CHANGED');
  assert.equal(err.details.file, part);
  assert.match(String(err.details.hint), /engram-audit verify/);
  const plain = join(tmp.dir, 'plain-dir');
  mkdirSync(plain);
  assert.equal((await inputError(plain)).code, 'E_SNAPSHOT_SHAPE');
});

test('the JSON scanner agrees with JSON.parse and locates pointers', () => {
  for (const ok of ['{}', '[]', '{"a":[1,-2.5e3,true,false,null,"x\\u0041"]}', ' \n{"a/b":{"~":1}}\n']) {
    assert.equal(findSyntaxError(ok), undefined, ok);
  }
  for (const bad of ['{', '{"a":1,}', '[1 2]', '{"a" 1}', '"\n"', '01', '{"a":1}x']) {
    assert.ok(findSyntaxError(bad), bad);
  }
  const text = '{\n "a/b": {\n  "~": [\n   1,\n   2\n  ]\n }\n}';
  const at = locatePointers(text, ['/a~1b', '/a~1b/~0/1']);
  assert.equal(lineColumnAt(text, at.get('/a~1b')!).line, 2);
  assert.equal(lineColumnAt(text, at.get('/a~1b/~0/1')!).line, 5);
});

test('the example snapshot in docs/evidence-format.md loads', async () => {
  const md = readFileSync(join(repoRoot, 'docs', 'evidence-format.md'), 'utf8');
  const example = /## A snapshot file\s*```json\n([\s\S]*?)```/.exec(md);
  assert.ok(example, 'the doc has an example');
  const ev = await loadSnapshot(file(example[1]!));
  assert.equal(ev.documents.length, 2);
  assert.ok(ev.provenance.every((p) => p.source === 'snapshot'));
});

test('provenance and error fields added by newer collectors are kept, not rejected', async () => {
  const ev = await loadSnapshot(file(JSON.stringify({
    documents: [{ id: ST }],
    provenance: [{ documentId: ST, source: 'azure', query: 'resources | take 1' }],
    errors: [{ collector: 'c', scope: 's', code: 'X', message: 'm', retryAfterMs: 10 }],
  })));
  assert.equal((ev.provenance[0] as unknown as { query: string }).query, 'resources | take 1');
  assert.equal((ev.errors[0] as unknown as { retryAfterMs: number }).retryAfterMs, 10);
});

test('thousands of problems: the first 50 are listed and the total is counted', async () => {
  const err = await validationError(file(JSON.stringify({ documents: Array.from({ length: 120 }, (_, i) => ({ name: `r${i}` })) })));
  assert.equal(err.problems.length, 50);
  assert.match(err.message, /^120 problems in the snapshot \(first 50 listed\)/);
});
