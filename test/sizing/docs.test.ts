import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { parseDataFile } from '../../src/sizing/data-file.js';
import { catalogFromData } from '../../src/sizing/sku-catalog.js';
import { pricesFromData } from '../../src/sizing/prices.js';
import { sizeBlob } from '../../src/sizing/blob.js';

const doc = readFileSync(join(repoRoot, 'docs', 'sizing.md'), 'utf8');
const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the catalog and price-file examples in docs/sizing.md load', () => {
  assert.equal(yamlBlocks.length, 2);
  const catalog = catalogFromData(parseDataFile(yamlBlocks[0], 'docs/sizing.md#catalog'));
  assert.equal(catalog.skus.length, 2);
  const prices = pricesFromData(parseDataFile(yamlBlocks[1], 'docs/sizing.md#prices'));
  assert.equal(prices.storagePerGbMonth.hot, 0.0208);
  assert.deepEqual(prices.tierSplit.frequent, { hot: 0.6, cool: 0.3, archive: 0.1 });
});

test("the docs' blob worked-example table matches the calculator", () => {
  for (const access of ['frequent', 'moderate', 'rare'] as const) {
    const r = sizeBlob({ docsPerMonth: 30_720, avgMb: 1, retentionDays: 30, access });
    const row = `| ${access} | ${r.tiers.map((t) => t.gb).join(' / ')} |`;
    assert.ok(doc.includes(row), row);
    assert.ok(doc.includes(`| ${r.monthly.total} | ${r.weightedPerGbMonth} | meets |`), `${access} total ${r.monthly.total}`);
  }
});
