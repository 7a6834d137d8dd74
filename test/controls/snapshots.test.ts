/**
 * End to end through evaluate(): every control's compliant and non-compliant snapshots in fixtures/snapshots/<id>/.
 * The compliant estate has no finding; in the non-compliant one each twin breaks exactly the check it was built for
 * (its one changed setting) and passes the others; the committed files equal what build.mjs writes now.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCatalog } from '../../src/controls/index.js';
import { evaluate } from '../../src/engine/index.js';
import type { AzureDocument } from '../../src/model.js';
import { fixture, repoRoot } from '../support/paths.js';

const catalog = await loadCatalog(join(repoRoot, 'controls'));
const now = new Date('2026-11-28T00:00:00Z');
const NEW_CONTROLS = ['AI-DATA-01', 'AI-DATA-02', 'AI-RES-01', 'AI-RES-02', 'AI-MON-01', 'AI-CAP-01', 'AI-GOV-01'];

interface Twins {
  control: string;
  twins: Array<{ check: string; twins: string[]; change: string }>;
}

const load = (dir: string, name: string): AzureDocument[] => (JSON.parse(readFileSync(fixture('snapshots', dir, name), 'utf8')) as { documents: AzureDocument[] }).documents;

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'engram-twins-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const id of NEW_CONTROLS) {
  const dir = id.toLowerCase();
  if (!existsSync(fixture('snapshots', dir, 'twins.json'))) continue;
  describe(`${id} snapshots`, () => {
    const control = catalog.get(id);
    const twins = JSON.parse(readFileSync(fixture('snapshots', dir, 'twins.json'), 'utf8')) as Twins;

    it('the compliant estate has no finding and the control passes', () => {
      assert.ok(control);
      const { controls, results } = evaluate({ documents: load(dir, 'compliant.json'), provenance: [], errors: [] }, [control], { now });
      const bad = results.filter((r) => r.status !== 'pass' && r.status !== 'not_applicable');
      assert.deepEqual(bad.map((r) => `${r.check} ${r.resourceName} ${r.status}: ${r.message}`), []);
      assert.equal(controls[0]?.status, 'pass');
      // Every check is exercised by the compliant estate, not skipped.
      for (const check of control.checks) assert.ok(results.some((r) => r.check === check.id && r.status === 'pass'), `${check.id} passes somewhere`);
    });

    it('each non-compliant twin breaks exactly its own check', () => {
      assert.ok(control);
      const { controls, results } = evaluate({ documents: load(dir, 'non-compliant.json'), provenance: [], errors: [] }, [control], { now });
      assert.equal(twins.twins.length, control.checks.length);
      for (const t of twins.twins) {
        const check = control.checks.find((c) => c.id === t.check);
        assert.ok(check, t.check);
        const unsatisfied = check.unsatisfied_status ?? 'fail';
        const own = results.filter((r) => r.check === t.check && t.twins.some((n) => r.resourceId.includes(n)));
        assert.ok(own.length > 0, `${t.check}: a result for ${t.twins.join(', ')}`);
        assert.ok(own.some((r) => r.status === unsatisfied), `${t.check} on ${t.twins.join(', ')}: ${own.map((r) => `${r.status} ${r.message}`).join(' | ')}`);
        const others = results.filter((r) => r.check !== t.check && t.twins.some((n) => r.resourceId.includes(`${n}`) && new RegExp(`${n}(/|$)`).test(r.resourceId)));
        for (const r of others) assert.ok(r.status === 'pass' || r.status === 'not_applicable', `${t.twins.join(', ')} should only break ${t.check}, but ${r.check} is ${r.status}: ${r.message}`);
      }
      assert.equal(controls[0]?.status, control.checks.every((c) => c.unsatisfied_status === 'manual') ? 'manual' : 'fail');
      assert.ok(!results.some((r) => r.status === 'error'), results.filter((r) => r.status === 'error').map((r) => r.message).join(' | '));
    });

    it('the committed files equal what build.mjs writes', async () => {
      const out = join(tmp, dir);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(out, { recursive: true });
      const { buildTwins } = (await import(pathToFileURL(fixture('snapshots', 'twins.mjs')).href)) as {
        buildTwins: (root: string, id: string, dir: string) => Promise<unknown>;
      };
      await buildTwins(repoRoot, id, out);
      for (const f of ['compliant.json', 'non-compliant.json', 'twins.json']) {
        assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(fixture('snapshots', dir, f), 'utf8'), `${dir}/${f} is stale: run node fixtures/snapshots/${dir}/build.mjs`);
      }
    });
  });
}

describe('snapshot coverage', () => {
  it('every control of the catalog has a compliant and a non-compliant snapshot', () => {
    for (const control of catalog.controls) {
      const dir = control.id.toLowerCase();
      assert.ok(existsSync(fixture('snapshots', dir, 'compliant.json')), `${dir}/compliant.json`);
      assert.ok(existsSync(fixture('snapshots', dir, 'non-compliant.json')), `${dir}/non-compliant.json`);
    }
  });
});
