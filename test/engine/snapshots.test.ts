/** End to end through evaluate(): the compliant and non-compliant AI-SEC-01 snapshots in fixtures/snapshots/ai-sec-01. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadCatalog, selectControls } from '../../src/controls/index.js';
import { evaluate } from '../../src/engine/index.js';
import type { AzureDocument } from '../../src/model.js';
import { fixture } from '../support/paths.js';

const catalog = await loadCatalog();
const [ai] = selectControls(catalog, ['AI-SEC-01']);
const now = new Date('2026-11-28T00:00:00Z');
const load = (name: string): AzureDocument[] => (JSON.parse(readFileSync(fixture('snapshots', 'ai-sec-01', name), 'utf8')) as { documents: AzureDocument[] }).documents;
const run = (docs: AzureDocument[]) => evaluate({ documents: docs, provenance: [], errors: [] }, [ai!], { now });

describe('AI-SEC-01 snapshots', () => {
  it('compliant: every check passes on every resource', () => {
    const { controls, results } = run(load('compliant.json'));
    assert.equal(controls[0]?.status, 'pass');
    assert.deepEqual(results.filter((r) => r.status !== 'pass').map((r) => `${r.check} ${r.resourceName}: ${r.message}`), []);
    assert.deepEqual(new Set(results.map((r) => r.check)), new Set(ai!.checks.map((c) => c.id)), 'every check had a target');
  });

  it('non-compliant: every check fails somewhere, each twin only on what its one setting breaks, nothing errors', () => {
    const { controls, results } = run(load('non-compliant.json'));
    assert.equal(controls[0]?.status, 'fail');
    assert.equal(results.filter((r) => r.status === 'error').length, 0);
    const failedChecks = new Set(results.filter((r) => r.status === 'fail').map((r) => r.check));
    for (const c of ai!.checks) assert.ok(failedChecks.has(c.id), `${c.id} fails in the non-compliant estate`);
    const failsOf = (name: string) => results.filter((r) => r.resourceName === name && r.status === 'fail').map((r) => r.check).sort();
    assert.deepEqual(failsOf('sttls10'), ['storage_min_tls_version']);
    assert.deepEqual(failsOf('stanonymous'), ['storage_no_anonymous_blob_access']);
    assert.deepEqual(failsOf('pg-tls11'), ['postgres_min_tls_version']);
    assert.deepEqual(failsOf('pg-allowall'), ['postgres_network_isolation', 'postgres_no_public_firewall_rule']);
    assert.deepEqual(failsOf('kv-noaudit'), ['keyvault_audit_logging']);
    assert.deepEqual(failsOf('slow-cmk'), ['key_rotation_policy']);
    // The compliant twins (the fixtures) pass in the same run.
    assert.ok(results.filter((r) => r.resourceName === 'kv-engram-prod').every((r) => r.status === 'pass'));
  });

  it('each non-compliant resource differs from its compliant twin in one setting (names and derived ids aside)', () => {
    const good = load('compliant.json');
    const bad = load('non-compliant.json');
    /** Differing settings: an object present on one side only counts once (a removed block is one setting). */
    const diff = (a: unknown, b: unknown, path = ''): string[] => {
      const isObj = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x);
      if (isObj(a) && isObj(b)) {
        const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
        return [...keys].flatMap((k) => diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
      }
      return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
    };
    const ignore = /^(id|name|tags(\..*)?|properties\.vaultUri|properties\.fullyQualifiedDomainName)$/;
    const topLevel = (d: AzureDocument) => (d.type ?? '').split('/').length === 2;
    const twins = bad.filter((x) => topLevel(x) && !/engram/.test(x.name ?? ''));
    assert.ok(twins.length >= 20);
    for (const d of twins) {
      // A probe observation's summary and observed facts describe its status: for those, the status is the one setting.
      const probe = (d.type ?? '').startsWith('engram.probe/');
      const facts = /^properties\.(summary|observed(\..*)?)$/;
      const diffs = good.filter((g) => g.type === d.type).map((g) => diff(g, d).filter((k) => !ignore.test(k) && !(probe && facts.test(k))));
      const best = Math.min(...diffs.map((x) => x.length));
      assert.ok(best <= 1, `${d.name} differs from its closest compliant twin in ${best} settings: ${JSON.stringify(diffs)}`);
    }
  });
});
