import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSizeCommand } from '../../src/cli/size.js';

interface Run { code: number; out: string; err: string }
async function run(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runSizeCommand(argv, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; } });
  return { code, out, err };
}

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'engram-size-cli-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const prod = ['postgres', '--sessions', '10000', '--facts', '1000000', '--connections', '200'];

test('size postgres --json has the documented shape and the production numbers', async () => {
  const r = await run(...prod, '--environment', 'prod', '--json');
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
  const j = JSON.parse(r.out);
  assert.deepEqual(j.required, { vcores: 10, memoryGb: 16, storageGb: 33 });
  assert.deepEqual(j.sku, { name: 'Standard_B12ms', tier: 'Burstable', vcores: 12, memoryGb: 48, pricePerHour: 0.816 });
  assert.deepEqual(Object.keys(j.terms), ['memoryGb', 'storageGb', 'vcores']);
  assert.deepEqual(j.terms.vcores.map((t: { value: number }) => t.value), [2, 2, 1, 5, 10, 10]);
  assert.equal(j.preset.environment, 'prod');
  assert.equal(j.preset.sku.name, 'Standard_D4s_v3');
  assert.equal(j.preset.meetsRequired, false);
  assert.equal(j.cheapestByTier.GeneralPurpose.name, 'Standard_D16ds_v5');
  assert.equal(j.storageProvisionGb, 64);
  assert.equal(j.catalog.verified, false);
  // Canonical JSON: same inputs, same bytes; keys sorted.
  assert.equal((await run(...prod, '--environment', 'prod', '--json')).out, r.out);
  assert.deepEqual(Object.keys(j), [...Object.keys(j)].sort());
});

test('size postgres prints an aligned table with every term, the chosen SKU and the preset', async () => {
  const r = await run('postgres', '--sessions', '100', '--facts', '100000', '--connections', '50', '--environment', 'dev');
  assert.equal(r.code, 0);
  assert.match(r.out, /vCores = ceil\(\(2 \+ ceil\(facts \/ 500K\) \+ ceil\(connections \/ 100\) x 0\.5\) x growth\)/);
  assert.match(r.out, /connections term +ceil\(50 \/ 100\) x 0\.5 +0\.5/);
  assert.match(r.out, /x growth +3\.5 x 2 +7/);
  assert.match(r.out, /required +7 vCores, 10 GB memory, 4 GiB storage \(provision 32 GiB\)/);
  assert.match(r.out, /chosen SKU +Standard_B8ms +Burstable +8 vCores +32 GiB/);
  assert.match(r.out, /cheapest GeneralPurpose +Standard_D8ds_v5 +GeneralPurpose +8 vCores/);
  assert.match(r.out, /\* dev +Standard_B1ms +Burstable +1 vCores +2 GiB .* below the formula/);
  assert.match(r.out, /storage formula was not available/);
  assert.match(r.out, /an 8-vCore SKU, even the Dev row/);
  // Aligned: the value column of the vCore terms ends at the same column on every row.
  const rows = r.out.split('\n').slice(r.out.split('\n').findIndex((l) => l.startsWith('vCores =')) + 1).slice(0, 6);
  const ends = rows.map((l) => l.replace(/\s+vCores$/, '').length);
  assert.equal(new Set(ends).size, 1, rows.join('\n'));
});

test('size blob --json and table for each access pattern', async () => {
  const base = ['blob', '--docs-per-month', '30720', '--avg-mb', '1', '--retention-days', '30'];
  const expected: Record<string, [number[], number]> = {
    frequent: [[21, 6, 3], 0.0148],
    moderate: [[9, 15, 6], 0.0108],
    rare: [[3, 9, 18], 0.006],
  };
  for (const [access, [gb, weighted]] of Object.entries(expected)) {
    const r = await run(...base, '--access', access, '--json');
    assert.equal(r.code, 0, access);
    const j = JSON.parse(r.out);
    assert.equal(j.totalGb, 30);
    assert.deepEqual(j.tiers.map((t: { gb: number }) => t.gb), gb, access);
    assert.equal(j.weightedPerGbMonth, weighted, access);
    assert.equal(j.meetsTarget, true);
  }
  const t = await run(...base, '--access', 'moderate');
  assert.match(t.out, /weighted \$\/GB-month +USD 0\.0108 \(target < 0\.015: meets\)/);
  assert.match(t.out, /hot +0\.3 +9 +0\.162 +39,936 +0\.19968/);
});

test('--prices overrides the strategy prices; a bad price file is exit 2 naming file and field', async () => {
  const good = join(dir, 'prices.yaml');
  writeFileSync(good, 'storagePerGbMonth:\n  hot: 0.02\n');
  const r = await run('blob', '--docs-per-month', '30720', '--avg-mb', '1', '--retention-days', '30', '--access', 'frequent', '--prices', good, '--json');
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  // .7 x .02 + .2 x .01 + .1 x .002 = .0162: misses the target.
  assert.equal(j.weightedPerGbMonth, 0.0162);
  assert.equal(j.meetsTarget, false);

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{\n  "operationsPer10k": { "archive": "five" }\n}\n');
  const e = await run('blob', '--docs-per-month', '1', '--avg-mb', '1', '--retention-days', '1', '--access', 'rare', '--prices', bad);
  assert.equal(e.code, 2);
  assert.equal(e.out, '');
  assert.match(e.err, /invalid price file/);
  assert.match(e.err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: must be a number >= 0, got "five" \\(at /operationsPer10k/archive\\)`));

  const missing = await run('blob', '--docs-per-month', '1', '--avg-mb', '1', '--retention-days', '1', '--access', 'rare', '--prices', join(dir, 'none.yaml'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /none\.yaml: cannot read file \(ENOENT\)/);
});

test('--catalog replaces the SKU catalog; a bad one is exit 2', async () => {
  const cat = join(dir, 'cat.json');
  writeFileSync(cat, JSON.stringify({
    region: 'westeurope', currency: 'EUR', source: 'test', recordedOn: '2026-11-01', verified: true,
    skus: [{ name: 'Standard_D16ds_v5', tier: 'GeneralPurpose', vcores: 16, memoryGb: 64, pricePerHour: 1.5 }],
  }));
  const r = await run(...prod, '--catalog', cat, '--json');
  assert.equal(r.code, 0);
  assert.equal(JSON.parse(r.out).sku.name, 'Standard_D16ds_v5');
  const bad = join(dir, 'badcat.json');
  writeFileSync(bad, JSON.stringify({ region: 'x', currency: 'EUR', source: 's', recordedOn: 'd', skus: [] }));
  const e = await run(...prod, '--catalog', bad);
  assert.equal(e.code, 2);
  assert.match(e.err, /"skus" must be a non-empty list \(at \/skus\)/);
});

test('usage errors name the flag and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['postgres', '--sessions', '1', '--facts', '-5', '--connections', '2'], /--facts must be a whole number >= 0, got "-5"/],
    [['postgres', '--sessions', '1', '--facts', '--connections', '2'], /--facts/],
    [['postgres', '--sessions', 'ten', '--facts', '1', '--connections', '2'], /--sessions must be a whole number >= 0, got "ten"/],
    [['postgres', '--sessions', '1', '--facts', '1.5', '--connections', '2'], /--facts must be a whole number/],
    [['postgres', '--sessions', '1', '--facts', '1'], /missing required flag --connections/],
    [[...prod, '--growth', '0.5'], /--growth must be a number >= 1, got "0\.5"/],
    [[...prod, '--growth', 'x2'], /--growth must be a number >= 1/],
    [[...prod, '--environment', 'staging'], /--environment must be one of dev, test, uat, prod, got "staging"/],
    [[...prod, '--format', 'xml'], /Unknown option '--format'/],
    [['blob', '--docs-per-month', '1', '--avg-mb', '-1', '--retention-days', '1', '--access', 'rare'], /--avg-mb must be a number >= 0, got "-1"/],
    [['blob', '--docs-per-month', '1', '--avg-mb', '1', '--retention-days', '1', '--access', 'often'], /--access must be one of frequent, moderate, rare/],
    [['blob', '--avg-mb', '1', '--retention-days', '1', '--access', 'rare'], /missing required flag --docs-per-month/],
    [[], /missing subcommand/],
    [['disk'], /unknown subcommand "disk"/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.out, '', argv.join(' '));
    assert.match(r.err, message, argv.join(' '));
  }
});

test('--help teaches with an example and exits 0', async () => {
  const pg = await run('postgres', '--help');
  assert.equal(pg.code, 0);
  assert.match(pg.out, /Example \(the strategy's production load/);
  assert.match(pg.out, /engram-audit size postgres --sessions 10000 --facts 1000000 --connections 200/);
  const blob = await run('blob', '-h');
  assert.equal(blob.code, 0);
  assert.match(blob.out, /Example:\n  engram-audit size blob --docs-per-month 30720/);
  const top = await run('--help');
  assert.equal(top.code, 0);
  assert.match(top.out, /size postgres/);
});

test('the help examples print what their arrows promise', async () => {
  const pg = JSON.parse((await run(...prod, '--environment', 'prod', '--json')).out);
  assert.deepEqual([pg.required.vcores, pg.required.memoryGb, pg.required.storageGb, pg.sku.name], [10, 16, 33, 'Standard_B12ms']);
  const b = JSON.parse((await run('blob', '--docs-per-month', '30720', '--avg-mb', '1', '--retention-days', '30', '--access', 'moderate', '--json')).out);
  assert.deepEqual([b.totalGb, ...b.tiers.map((t: { gb: number }) => t.gb), b.weightedPerGbMonth], [30, 9, 15, 6, 0.0108]);
});

test('relative --prices paths resolve against io.cwd', async () => {
  writeFileSync(join(dir, 'rel.yaml'), 'targetPerGbMonth: 0.01\n');
  let out = '';
  const code = await runSizeCommand(
    ['blob', '--docs-per-month', '1', '--avg-mb', '1', '--retention-days', '30', '--access', 'moderate', '--prices', 'rel.yaml', '--json'],
    { stdout: (s) => { out += s; }, stderr: () => {}, cwd: dir },
  );
  assert.equal(code, 0);
  // weighted .0108 is not below the overridden .01 target.
  assert.equal(JSON.parse(out).meetsTarget, false);
});
