/** Runs every example of every check in the catalog through the engine: pass, fail, missing evidence, several resources. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exampleEvidence, loadCatalog } from '../../src/controls/index.js';
import type { Control } from '../../src/controls/index.js';
import { evaluate } from '../../src/engine/index.js';
import { repoRoot } from '../support/paths.js';
import { join } from 'node:path';

const catalog = await loadCatalog(join(repoRoot, 'controls'));
const now = new Date('2026-11-28T00:00:00Z');

for (const control of catalog.controls) {
  describe(`${control.id} examples`, () => {
    for (const check of control.checks) {
      for (const [kind, example] of Object.entries(check.examples)) {
        it(`${check.id} / ${kind}`, () => {
          const only: Control = { ...control, checks: [check] };
          const { results } = evaluate(exampleEvidence(control, example, check), [only], { now });
          const mine = results.filter((r) => r.check === check.id);
          assert.ok(mine.length > 0, `${check.id}/${kind}: the example produced no result for the check`);
          // Expected statuses are keyed by resource name, or by id where names repeat (probe observations, synthetic results).
          const keys = typeof example.expect === 'object' ? Object.keys(example.expect) : [];
          const got = Object.fromEntries(mine.map((r) => [keys.includes(r.resourceId) ? r.resourceId : r.resourceName, r.status]));
          if (typeof example.expect === 'string') {
            for (const r of mine) assert.equal(r.status, example.expect, `${check.id}/${kind} on ${r.resourceName}: ${r.message} | expected ${r.expected} | actual ${r.actual}`);
          } else {
            assert.deepEqual(got, example.expect, `${check.id}/${kind}: ${mine.map((r) => `${r.resourceName}=${r.status}: ${r.message}`).join(' || ')}`);
          }
          for (const r of mine) {
            assert.ok(r.message.includes(r.resourceName) || r.resourceName.startsWith('/'), `message names the resource: ${r.message}`);
            assert.match(r.message, /[.)]$/, `message ends with a period: ${r.message}`);
            if (r.status === 'pass' || r.status === 'fail') {
              assert.ok(r.expected.length > 0 && r.actual.length > 0, `expected/actual filled: ${JSON.stringify(r)}`);
              assert.ok(r.evidence.length > 0);
            }
          }
        });
      }
    }
  });
}
