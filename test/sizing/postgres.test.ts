import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { DEFAULT_STORAGE_CONSTANTS, sizePostgres } from '../../src/sizing/postgres.js';
import { DEFAULT_SKU_CATALOG, type SkuCatalog } from '../../src/sizing/sku-catalog.js';

const values = (terms: { name: string; value: number }[]): Record<string, number> =>
  Object.fromEntries(terms.map((t) => [t.name, t.value]));

test("the strategy's production example: 1M vectors, 200 connections, growth 2.0", () => {
  const r = sizePostgres({ sessions: 10_000, facts: 1_000_000, connections: 200 });
  // vCores: ceil(1,000,000 / 500,000) = 2; ceil(200 / 100) x 0.5 = 1; (2 + 2 + 1) x 2 = 10.
  assert.deepEqual(values(r.terms.vcores), {
    base: 2, 'facts term': 2, 'connections term': 1, subtotal: 5, 'x growth': 10, vCores: 10,
  });
  // Memory: 4 + 2 x 1,000,000 / 1M = 2 + 0.1 x 200 / 10 = 2 -> 8 GB; x 2 = 16 GB.
  assert.deepEqual(values(r.terms.memoryGb), {
    base: 4, 'facts term': 2, 'connections term': 2, subtotal: 8, 'x growth': 16, memory: 16,
  });
  // Storage (ours): vector 4 x 1536 + 8 = 6,152 B; row 6,152 + 1,024 + 28 = 7,204 B;
  // table 1,000,000 x 7,204 + 10,000 x 8,192 = 7,204,000,000 + 81,920,000 = 7,285,920,000;
  // HNSW 1,000,000 x (6,152 + 192) = 6,344,000,000; B-tree 10 % of table = 728,592,000;
  // subtotal 14,358,512,000; x 1.2 = 17,230,214,400; x 2 = 34,460,428,800 B;
  // / 2^30 = 32.09 (32 GiB = 34,359,738,368 B is 100,690,432 B short) -> 33 GiB; provision 64 GiB.
  assert.deepEqual(values(r.terms.storageGb), {
    'vector bytes': 6152,
    'fact row bytes': 7204,
    'table bytes': 7_285_920_000,
    'HNSW index bytes': 6_344_000_000,
    'B-tree index bytes': 728_592_000,
    subtotal: 14_358_512_000,
    'x bloat': 17_230_214_400,
    'x growth': 34_460_428_800,
    storage: 33,
  });
  assert.deepEqual(r.required, { vcores: 10, memoryGb: 16, storageGb: 33 });
  assert.equal(r.storageProvisionGb, 64);
  // Cheapest with >= 10 vCores and >= 16 GiB: B12ms (12, 48 GiB, 0.816/h) beats D16 (1.424/h) and E16 (2.016/h).
  assert.equal(r.sku?.name, 'Standard_B12ms');
  assert.equal(r.sku?.tier, 'Burstable');
  assert.equal(r.cheapestByTier.GeneralPurpose?.name, 'Standard_D16ds_v5');
  assert.equal(r.cheapestByTier.MemoryOptimized?.name, 'Standard_E16ds_v5');
  // The prod preset D4s_v3 (4 vCores, 16 GiB) is short of 10 vCores.
  const prod = r.presets.find((p) => p.environment === 'prod');
  assert.equal(prod?.sku.name, 'Standard_D4s_v3');
  assert.equal(prod?.meetsRequired, false);
  assert.equal(r.preset, undefined, 'no --environment, no single preset');
});

test('the Dev row: (2 + 1 + 0.5) x 2 = 7 vCores, so an 8-vCore SKU where the preset says B1ms', () => {
  const r = sizePostgres({ sessions: 100, facts: 100_000, connections: 50, environment: 'dev' });
  // ceil(100,000 / 500,000) = 1; ceil(50 / 100) x 0.5 = 0.5; (2 + 1 + 0.5) x 2 = 7.
  assert.deepEqual(values(r.terms.vcores), {
    base: 2, 'facts term': 1, 'connections term': 0.5, subtotal: 3.5, 'x growth': 7, vCores: 7,
  });
  // Memory: (4 + 0.2 + 0.5) x 2 = 9.4 -> 10 GB.
  assert.equal(r.required.memoryGb, 10);
  // Storage: table 100,000 x 7,204 + 100 x 8,192 = 721,219,200; HNSW 634,400,000; B-tree 72,121,920;
  // subtotal 1,427,741,120 x 1.2 = 1,713,289,344 x 2 = 3,426,578,688 B = 3.19 GiB -> 4 GiB, provision 32.
  assert.equal(r.required.storageGb, 4);
  assert.equal(r.storageProvisionGb, 32);
  assert.equal(r.sku?.vcores, 8);
  assert.equal(r.sku?.name, 'Standard_B8ms');
  // The General Purpose answer is the D8s_v3 class (8 vCores, 32 GiB); the newest generation wins the price tie.
  assert.equal(r.cheapestByTier.GeneralPurpose?.name, 'Standard_D8ds_v5');
  assert.equal(r.cheapestByTier.GeneralPurpose?.vcores, 8);
  assert.deepEqual(r.preset, {
    environment: 'dev',
    sku: { name: 'Standard_B1ms', tier: 'Burstable', vcores: 1, memoryGb: 2, pricePerHour: 0.017 },
    meetsRequired: false,
  });
  assert.ok(r.presets.every((p) => !p.meetsRequired));
  assert.match(r.notes.join('\n'), /preset, not this formula's output.*\(2 \+ 1 \+ 0\.5\) x 2 = 7 vCores, i\.e\. an 8-vCore SKU/s);
  assert.match(r.notes.join('\n'), /storage formula was not available/);
  assert.match(r.notes.join('\n'), /unverified list prices/);
});

test('facts and connections at their ceil() boundaries', () => {
  // growth 1: facts 500,000 -> 1, connections 100 -> 1 x 0.5; 2 + 1 + 0.5 = 3.5 -> 4 vCores.
  // memory 4 + 1 + 1 = 6 GB. Cheapest >= 4 vCores, >= 6 GiB: B4ms (4, 16 GiB).
  const at = sizePostgres({ sessions: 0, facts: 500_000, connections: 100, growth: 1 });
  assert.deepEqual([at.required.vcores, at.required.memoryGb, at.sku?.name], [4, 6, 'Standard_B4ms']);
  // One more of each: facts 500,001 -> 2, connections 101 -> 2 x 0.5 = 1; 2 + 2 + 1 = 5 vCores.
  // memory 4 + 1.000002 + 1.01 = 6.010002 -> 7 GB. Cheapest >= 5 vCores: B8ms (0.544/h) over D8 (0.712/h).
  const over = sizePostgres({ sessions: 0, facts: 500_001, connections: 101, growth: 1 });
  assert.deepEqual([over.required.vcores, over.required.memoryGb, over.sku?.name], [5, 7, 'Standard_B8ms']);
});

test('an empty load at growth 1 needs exactly B2s (2 vCores, 4 GiB: both at the boundary)', () => {
  // vCores 2 + 0 + 0 = 2; memory 4 + 0 + 0 = 4; storage 0 -> 0 GiB, smallest provisionable 32 GiB.
  const r = sizePostgres({ sessions: 0, facts: 0, connections: 0, growth: 1 });
  assert.deepEqual(r.required, { vcores: 2, memoryGb: 4, storageGb: 0 });
  assert.equal(r.sku?.name, 'Standard_B2s');
  assert.equal(r.storageProvisionGb, 32);
  // test preset B2s meets it; dev B1ms (1 vCore) does not.
  assert.deepEqual(r.presets.map((p) => [p.environment, p.meetsRequired]), [['dev', false], ['test', true], ['uat', true], ['prod', true]]);
  assert.ok(!r.notes.some((n) => n.includes('test B2s')));
});

test('exact arithmetic: (4 + 1.4 + 0.2) x 2.5 is 14 GB, where floating point gives 14.000000000000002 and ceil 15', () => {
  // facts 700,000: 2 x 0.7 = 1.4; connections 20: 0.2; subtotal 5.6 x 2.5 = 14 exactly.
  assert.equal((4 + (2 * 700_000) / 1_000_000 + (0.1 * 20) / 10) * 2.5 > 14, true, 'the float trap this test guards');
  const r = sizePostgres({ sessions: 0, facts: 700_000, connections: 20, growth: 2.5 });
  assert.equal(r.required.memoryGb, 14);
  // vCores: ceil(700,000 / 500,000) = 2, ceil(20 / 100) x 0.5 = 0.5; 4.5 x 2.5 = 11.25 -> 12.
  assert.equal(r.required.vcores, 12);
  // growth 1.1 on an empty load: 2 x 1.1 = 2.2 -> 3 vCores; 4 x 1.1 = 4.4 -> 5 GB.
  const g = sizePostgres({ sessions: 0, facts: 0, connections: 0, growth: 1.1 });
  assert.deepEqual([g.required.vcores, g.required.memoryGb], [3, 5]);
});

test('a load no single SKU can carry gives sku null and says so', () => {
  // 20,000,000 facts: ceil(/500K) = 40; 10,000 connections: 100 x 0.5 = 50; (2 + 40 + 50) x 2 = 184 vCores.
  const r = sizePostgres({ sessions: 0, facts: 20_000_000, connections: 10_000 });
  assert.equal(r.required.vcores, 184);
  assert.equal(r.sku, null);
  assert.equal(r.cheapestByTier.GeneralPurpose, null);
  assert.match(r.notes.join('\n'), /No single SKU in the catalog has 184 vCores/);
});

test('storage constants can be overridden one at a time', () => {
  // 768 dims: vector 4 x 768 + 8 = 3,080 B; row 3,080 + 1,024 + 28 = 4,132 B.
  const r = sizePostgres({ sessions: 0, facts: 1000, connections: 0 }, { storageConstants: { embeddingDimensions: 768 } });
  assert.equal(values(r.terms.storageGb)['vector bytes'], 3080);
  assert.equal(values(r.terms.storageGb)['fact row bytes'], 4132);
  assert.equal(r.storageConstants.bloatPercent, DEFAULT_STORAGE_CONSTANTS.bloatPercent);
});

test('a custom catalog changes the choice and the preset lookup falls back to the built-in sizes', () => {
  const catalog: SkuCatalog = {
    ...DEFAULT_SKU_CATALOG,
    verified: true,
    skus: [
      { name: 'Standard_D16ds_v5', tier: 'GeneralPurpose', vcores: 16, memoryGb: 64, pricePerHour: 1 },
      { name: 'Standard_B12ms', tier: 'Burstable', vcores: 12, memoryGb: 48, pricePerHour: 2 },
    ],
  };
  const r = sizePostgres({ sessions: 0, facts: 1_000_000, connections: 200 }, { catalog });
  assert.equal(r.sku?.name, 'Standard_D16ds_v5');
  assert.equal(r.presets.length, 4);
  assert.ok(!r.notes.some((n) => n.includes('unverified')));
});

test('bad inputs are InputErrors naming the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ sessions: -1, facts: 0, connections: 0 }, 'sessions'],
    [{ sessions: 0, facts: 1.5, connections: 0 }, 'facts'],
    [{ sessions: 0, facts: 0, connections: Number.NaN }, 'connections'],
    [{ sessions: 0, facts: 0, connections: 0, growth: 0.5 }, 'growth'],
    [{ sessions: 0, facts: 0, connections: 0, environment: 'staging' }, 'environment'],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => sizePostgres(input as never),
      (e: unknown) => e instanceof InputError && e.details.field === field && e.exitCode === 2,
      field,
    );
  }
});
