import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { sizeBlob } from '../../src/sizing/blob.js';
import { DEFAULT_BLOB_PRICES, type BlobPrices } from '../../src/sizing/prices.js';

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

// One load for every pattern: 30,720 docs/month x 1 MB, kept 30 days -> 1 month -> 30,720 stored docs,
// 30,720 MB / 1024 = 30 GB. Reads = stored docs x share x reads/doc/month; hot also gets 30,720 writes.
const load = { docsPerMonth: 30_720, avgMb: 1, retentionDays: 30 };

test('frequent: .7/.2/.1 of 30 GB, costs by hand', () => {
  const r = sizeBlob({ ...load, access: 'frequent' });
  assert.equal(r.totalGb, 30);
  assert.deepEqual(r.tiers.map((t) => [t.tier, t.share, t.gb]), [['hot', 0.7, 21], ['cool', 0.2, 6], ['archive', 0.1, 3]]);
  // storage: 21 x 0.018 = 0.378; 6 x 0.01 = 0.06; 3 x 0.002 = 0.006; total 0.444.
  close(r.tiers[0].storageCost, 0.378, 'hot storage');
  close(r.tiers[1].storageCost, 0.06, 'cool storage');
  close(r.tiers[2].storageCost, 0.006, 'archive storage');
  close(r.monthly.storage, 0.444, 'storage');
  // ops: hot 30,720 x .7 x 2 + 30,720 = 43,008 + 30,720 = 73,728 -> 7.3728 x 0.05 = 0.36864;
  // cool 30,720 x .2 x .5 = 3,072 -> 0.3072 x 0.10 = 0.03072; archive 30,720 x .1 x .01 = 30.72 -> 0.003072 x 5 = 0.01536.
  assert.deepEqual(r.tiers.map((t) => t.operations), [73_728, 3_072, 30.72]);
  close(r.monthly.access, 0.41472, 'access');
  close(r.monthly.total, 0.85872, 'total');
  // weighted: .7 x .018 + .2 x .01 + .1 x .002 = .0126 + .002 + .0002 = .0148 < .015.
  close(r.weightedPerGbMonth, 0.0148, 'weighted');
  assert.equal(r.meetsTarget, true);
  close(r.allInPerGbMonth ?? -1, 0.85872 / 30, 'all-in');
});

test('moderate: .3/.5/.2 of 30 GB, costs by hand', () => {
  const r = sizeBlob({ ...load, access: 'moderate' });
  assert.deepEqual(r.tiers.map((t) => t.gb), [9, 15, 6]);
  // storage 9 x .018 = .162; 15 x .01 = .15; 6 x .002 = .012; total .324.
  close(r.monthly.storage, 0.324, 'storage');
  // ops: hot 30,720 x .3 x 1 + 30,720 = 39,936 -> .19968; cool 30,720 x .5 x .2 = 3,072 -> .03072;
  // archive 30,720 x .2 x .005 = 30.72 -> .01536; access .24576; total .56976.
  assert.deepEqual(r.tiers.map((t) => t.operations), [39_936, 3_072, 30.72]);
  close(r.monthly.access, 0.24576, 'access');
  close(r.monthly.total, 0.56976, 'total');
  // weighted .3 x .018 + .5 x .01 + .2 x .002 = .0054 + .005 + .0004 = .0108.
  close(r.weightedPerGbMonth, 0.0108, 'weighted');
  assert.equal(r.meetsTarget, true);
});

test('rare: .1/.3/.6 of 30 GB, costs by hand', () => {
  const r = sizeBlob({ ...load, access: 'rare' });
  assert.deepEqual(r.tiers.map((t) => t.gb), [3, 9, 18]);
  // storage 3 x .018 = .054; 9 x .01 = .09; 18 x .002 = .036; total .18.
  close(r.monthly.storage, 0.18, 'storage');
  // ops: hot 30,720 x .1 x .5 + 30,720 = 32,256 -> .16128; cool 30,720 x .3 x .1 = 921.6 -> .009216;
  // archive 30,720 x .6 x .001 = 18.432 -> .0018432 x 5 = .009216; access .179712; total .359712.
  assert.deepEqual(r.tiers.map((t) => t.operations), [32_256, 921.6, 18.432]);
  close(r.monthly.access, 0.179712, 'access');
  close(r.monthly.total, 0.359712, 'total');
  // weighted .1 x .018 + .3 x .01 + .6 x .002 = .0018 + .003 + .0012 = .006.
  close(r.weightedPerGbMonth, 0.006, 'weighted');
});

test('seven-year retention: 2555 days is 85.1666... months of ingest', () => {
  // 1,000 docs x 3 MB x 2555 / 30 = 255,500 MB / 1024 = 249.51171875 GB.
  const r = sizeBlob({ docsPerMonth: 1000, avgMb: 3, retentionDays: 2555, access: 'rare' });
  close(r.totalGb, 249.51171875, 'total GB');
  close(r.storedDocuments, 85_166.6666667, 'stored docs');
});

test('the target is strict (< 0.015) and follows the prices', () => {
  const at: BlobPrices = { ...structuredClone(DEFAULT_BLOB_PRICES), targetPerGbMonth: 0.0148 };
  assert.equal(sizeBlob({ ...load, access: 'frequent' }, at).meetsTarget, false, '0.0148 is not below 0.0148');
  // hot at 0.02: .7 x .02 + .002 + .0002 = .0162 > .015.
  const dear: BlobPrices = structuredClone(DEFAULT_BLOB_PRICES) as BlobPrices;
  dear.storagePerGbMonth.hot = 0.02;
  const r = sizeBlob({ ...load, access: 'frequent' }, dear);
  close(r.weightedPerGbMonth, 0.0162, 'weighted');
  assert.equal(r.meetsTarget, false);
});

test('nothing stored: zero GB, a defined weighted price, no all-in figure', () => {
  const r = sizeBlob({ docsPerMonth: 0, avgMb: 2, retentionDays: 90, access: 'moderate' });
  assert.equal(r.totalGb, 0);
  assert.equal(r.monthly.total, 0);
  close(r.weightedPerGbMonth, 0.0108, 'weighted');
  assert.equal(r.allInPerGbMonth, null);
});

test('bad inputs are InputErrors naming the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...load, docsPerMonth: -1, access: 'rare' }, 'docsPerMonth'],
    [{ ...load, avgMb: Number.POSITIVE_INFINITY, access: 'rare' }, 'avgMb'],
    [{ ...load, retentionDays: 1.5, access: 'rare' }, 'retentionDays'],
    [{ ...load, access: 'sometimes' }, 'access'],
  ];
  for (const [input, field] of cases) {
    assert.throws(() => sizeBlob(input as never), (e: unknown) => e instanceof InputError && e.details.field === field, field);
  }
});
