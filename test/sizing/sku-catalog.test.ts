import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/errors.js';
import { parseDataFile } from '../../src/sizing/data-file.js';
import {
  DEFAULT_SKU_CATALOG,
  ENVIRONMENT_PRESETS,
  catalogFromData,
  chooseSku,
  findSku,
} from '../../src/sizing/sku-catalog.js';

const pick = (vcores: number, memoryGb: number, tiers?: ('Burstable' | 'GeneralPurpose' | 'MemoryOptimized')[]) =>
  chooseSku({ vcores, memoryGb }, DEFAULT_SKU_CATALOG, tiers)?.name;

test('the catalog carries the published sizes, including the 432 GiB cap of E64s_v3 and E64ds_v4', () => {
  const size = (n: string) => { const s = findSku(n); return s && [s.tier, s.vcores, s.memoryGb]; };
  assert.deepEqual(size('B1ms'), ['Burstable', 1, 2]);
  assert.deepEqual(size('B2s'), ['Burstable', 2, 4]);
  assert.deepEqual(size('B20ms'), ['Burstable', 20, 80]);
  assert.deepEqual(size('D4s_v3'), ['GeneralPurpose', 4, 16]);
  assert.deepEqual(size('D64ds_v5'), ['GeneralPurpose', 64, 256]);
  assert.deepEqual(size('E20ds_v4'), ['MemoryOptimized', 20, 160]);
  assert.deepEqual(size('E64s_v3'), ['MemoryOptimized', 64, 432]);
  assert.deepEqual(size('E64ds_v4'), ['MemoryOptimized', 64, 432]);
  assert.deepEqual(size('E64ds_v5'), ['MemoryOptimized', 64, 512]);
  assert.equal(findSku('E20s_v3'), undefined, 'Esv3 has no 20-vCore size');
  const names = DEFAULT_SKU_CATALOG.skus.map((s) => s.name.toLowerCase());
  assert.equal(new Set(names).size, names.length);
  // 8 Burstable + 3 x 7 General Purpose + (3 x 8 - 1) Memory Optimized.
  assert.equal(DEFAULT_SKU_CATALOG.skus.length, 8 + 21 + 23);
  for (const s of DEFAULT_SKU_CATALOG.skus.filter((x) => x.tier === 'GeneralPurpose')) assert.equal(s.memoryGb, s.vcores * 4, s.name);
  assert.equal(DEFAULT_SKU_CATALOG.verified, false);
  for (const env of Object.keys(ENVIRONMENT_PRESETS) as (keyof typeof ENVIRONMENT_PRESETS)[]) assert.ok(findSku(ENVIRONMENT_PRESETS[env]), env);
});

test('findSku is case-insensitive and takes names with or without Standard_', () => {
  assert.equal(findSku('standard_d4S_V3')?.name, 'Standard_D4s_v3');
  assert.equal(findSku('d4s_v3')?.name, 'Standard_D4s_v3');
  assert.equal(findSku('Standard_X1'), undefined);
});

test('the cheapest SKU exactly at and just past each boundary', () => {
  assert.equal(pick(1, 2), 'Standard_B1ms'); // exactly B1ms
  assert.equal(pick(1, 3), 'Standard_B2s'); // 3 GiB: B2s (4 GiB, 0.068/h)
  assert.equal(pick(2, 4), 'Standard_B2s'); // exactly B2s
  assert.equal(pick(2, 5), 'Standard_B2ms'); // 5 GiB: B2ms (8 GiB, 0.136/h) beats D2 (0.178/h)
  assert.equal(pick(8, 32), 'Standard_B8ms'); // exactly B8ms
  assert.equal(pick(8, 33), 'Standard_B12ms'); // B12ms 0.816/h beats E8ds_v5 1.008/h and D16 1.424/h
  assert.equal(pick(20, 80), 'Standard_B20ms'); // the largest Burstable, exactly
  assert.equal(pick(21, 1), 'Standard_D32ds_v5'); // past Burstable: D32 2.848/h beats E32 4.032/h
  assert.equal(pick(20, 81), 'Standard_E20ds_v5'); // 81 GiB: E20ds_v5 (160 GiB, 2.52/h) beats D32 (128 GiB, 2.848/h)
});

test('at equal price the newer generation wins, and 64-vCore memory boundaries use the real caps', () => {
  assert.equal(pick(64, 432), 'Standard_E64ds_v5'); // v5, v4 and v3 all qualify at 8.064/h; v5 is listed first
  assert.equal(pick(64, 433), 'Standard_E64ds_v5'); // only v5 (512 GiB) qualifies
  assert.equal(pick(64, 512), 'Standard_E64ds_v5');
  assert.equal(pick(64, 513), undefined);
  assert.equal(pick(65, 1), undefined);
  assert.equal(pick(7, 10, ['GeneralPurpose']), 'Standard_D8ds_v5');
  assert.equal(pick(7, 10, ['MemoryOptimized']), 'Standard_E8ds_v5');
});

test('a catalog file is validated field by field with file and line', () => {
  const text = [
    'region: westeurope',
    'currency: EUR',
    'source: retail price API',
    'recordedOn: "2026-11-01"',
    'colour: blue',
    'skus:',
    '  - { name: Standard_D2ds_v5, tier: GeneralPurpose, vcores: 2, memoryGb: 8, pricePerHour: 0.2 }',
    '  - { name: Standard_X, tier: Tiny, vcores: 0, memoryGb: 8, pricePerHour: -1 }',
    '  - { name: standard_d2ds_v5, tier: GeneralPurpose, vcores: 2, memoryGb: 8, pricePerHour: 0.2 }',
  ].join('\n');
  assert.throws(
    () => catalogFromData(parseDataFile(text, 'cat.yaml')),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      const got = e.problems.map((p) => [p.details.field, p.details.line]);
      assert.deepEqual(got, [
        ['/colour', 5],
        ['/skus/1/tier', 8],
        ['/skus/1/vcores', 8],
        ['/skus/1/pricePerHour', 8],
        ['/skus/2/name', 9],
      ]);
      assert.ok(e.problems.every((p) => p.details.file === 'cat.yaml'));
      assert.match(e.format(), /cat\.yaml:8: "tier" must be one of Burstable, GeneralPurpose, MemoryOptimized \(at \/skus\/1\/tier\)/);
      return true;
    },
  );
  const ok = catalogFromData(parseDataFile(text.split('\n').filter((l) => !/colour|X|standard_d2/.test(l)).join('\n'), 'cat.yaml'));
  assert.equal(ok.currency, 'EUR');
  assert.equal(ok.skus.length, 1);
  assert.equal(ok.verified, false);
});
