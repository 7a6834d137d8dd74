/**
 * results.json streamed (jsonChunks + writeChunks) is byte for byte the one-string rendering, for empty, small and
 * hostile results, and the file's digest is the SHA-256 of those bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jsonChunks, renderJson } from '../../src/reporters/json.js';
import { redactValue } from '../../src/evidence/redact.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { writeChunks } from '../../src/evidence/stream-file.js';
import type { ResultsFile } from '../../src/model.js';
import { sampleResults } from '../support/sample-results.js';
import { tempDir } from '../support/cli.js';
import { ACCOUNT_KEY } from '../evidence/support.js';

const whole = (r: ResultsFile) => canonicalJson(redactValue(r).value);

test('the chunks concatenate to the canonical, redacted results.json', () => {
  const full = sampleResults({ extraFailures: 40 });
  assert.ok(full.results.length > 40);
  assert.equal(renderJson(full), whole(full));
  assert.ok([...jsonChunks(full)].length > full.results.length, 'one chunk per result, at least');
  const empty = { ...full, results: [] };
  assert.equal(renderJson(empty), whole(empty));
  assert.match(renderJson(empty), /"results": \[\],/);
});

test('a secret in a result is redacted in the streamed form too, and never splits the layout', () => {
  const r = sampleResults();
  r.results[0] = { ...r.results[0]!, message: `found AccountKey=${ACCOUNT_KEY} in a tag`, actual: 'line one\nline two' };
  const text = renderJson(r);
  assert.equal(text, whole(r));
  assert.equal(text.includes(ACCOUNT_KEY), false);
  assert.deepEqual(JSON.parse(text).results[0].actual, 'line one\nline two');
});

test('writeChunks writes the bytes and returns their SHA-256 and size', () => {
  const dir = tempDir();
  try {
    const r = sampleResults({ extraFailures: 2000 });
    const file = writeChunks(join(dir, 'results.json'), jsonChunks(r));
    const bytes = readFileSync(file.path);
    assert.ok(bytes.length > 1 << 20, 'more than one write batch');
    assert.equal(bytes.toString('utf8'), renderJson(r));
    assert.equal(file.size, bytes.length);
    assert.equal(file.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.throws(() => writeChunks(file.path, ['x']), /EEXIST/, 'never overwrites');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
