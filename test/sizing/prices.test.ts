import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, ValidationError } from '../../src/errors.js';
import { DEFAULT_BLOB_PRICES } from '../../src/sizing/prices.js';
import { loadBlobPrices } from '../../src/sizing/files.js';

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'engram-prices-')); });
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => { const f = join(dir, name); writeFileSync(f, text); return f; };

test('a YAML price file overrides only what it names', () => {
  const f = write('p.yaml', ['currency: EUR', 'storagePerGbMonth:', '  hot: 0.02', 'readsPerDocumentMonth:', '  rare: { archive: 0 }', ''].join('\n'));
  const p = loadBlobPrices(f);
  assert.equal(p.currency, 'EUR');
  assert.deepEqual(p.storagePerGbMonth, { hot: 0.02, cool: 0.01, archive: 0.002 });
  assert.deepEqual(p.readsPerDocumentMonth.rare, { hot: 0.5, cool: 0.1, archive: 0 });
  assert.deepEqual(p.tierSplit, DEFAULT_BLOB_PRICES.tierSplit);
  assert.equal(DEFAULT_BLOB_PRICES.storagePerGbMonth.hot, 0.018, 'defaults are not mutated');
});

test('a JSON price file works the same, including a full tier split', () => {
  const f = write('p.json', JSON.stringify({ tierSplit: { frequent: { hot: 0.5, cool: 0.5, archive: 0 } }, targetPerGbMonth: 0.02 }, null, 2));
  const p = loadBlobPrices(f);
  assert.deepEqual(p.tierSplit.frequent, { hot: 0.5, cool: 0.5, archive: 0 });
  assert.equal(p.targetPerGbMonth, 0.02);
});

test('every problem is reported with file, line and JSON pointer', () => {
  const f = write('bad.json', [
    '{',
    '  "storagePerGbMonth": { "hot": -0.1, "premium": 0.2 },',
    '  "operationsPer10k": { "cool": "cheap" },',
    '  "tierSplit": { "frequent": { "hot": 0.9 }, "often": {} },',
    '  "discount": 5',
    '}',
  ].join('\n'));
  assert.throws(() => loadBlobPrices(f), (e: unknown) => {
    assert.ok(e instanceof ValidationError);
    assert.equal(e.exitCode, 2);
    assert.deepEqual(e.problems.map((p) => [p.details.field, p.details.line]), [
      ['/discount', 5],
      ['/storagePerGbMonth/hot', 2],
      ['/storagePerGbMonth/premium', 2],
      ['/operationsPer10k/cool', 3],
      ['/tierSplit/often', 4],
      // .9 + the default .2 + .1 = 1.2
      ['/tierSplit/frequent', 4],
    ]);
    assert.ok(e.problems.every((p) => p.details.file === f));
    assert.match(e.format(), /bad\.json:2: must be a number >= 0, got -0\.1 \(at \/storagePerGbMonth\/hot\)/);
    assert.match(e.format(), /shares must sum to 1, got 1\.2/);
    return true;
  });
});

test('syntax errors, non-objects and missing files are InputErrors naming the file', () => {
  const syntax = write('s.yaml', 'storagePerGbMonth:\n  hot: [1,\n');
  assert.throws(() => loadBlobPrices(syntax), (e: unknown) => e instanceof InputError && e.code === 'E_SIZING_FILE_SYNTAX' && e.details.file === syntax && typeof e.details.line === 'number');
  const list = write('l.json', '[1, 2]');
  assert.throws(() => loadBlobPrices(list), (e: unknown) => e instanceof InputError && e.code === 'E_SIZING_PRICES');
  const missing = join(dir, 'nope.json');
  assert.throws(() => loadBlobPrices(missing), (e: unknown) => e instanceof InputError && e.code === 'E_SIZING_FILE_READ' && /ENOENT/.test(e.message));
});
