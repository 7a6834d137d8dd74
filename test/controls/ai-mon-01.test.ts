/**
 * AI-MON-01's second threshold profile (the strategy's warning/critical tiers), selected by the threshold_profile
 * parameter: the examples run the default (seed) profile, these run the tiered one on the control's own fixtures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCatalog, materialise } from '../../src/controls/index.js';
import type { Control, ExampleDocument } from '../../src/controls/index.js';
import { evaluate } from '../../src/engine/index.js';
import { repoRoot } from '../support/paths.js';

const catalog = await loadCatalog(join(repoRoot, 'controls'));
const base = catalog.get('AI-MON-01') as Control;
const now = new Date('2026-11-28T00:00:00Z');
const ALERT_CHECKS = ['postgres_cpu_alert', 'postgres_memory_alert', 'postgres_connections_alert', 'postgres_storage_alert'];

/** The control with threshold_profile set as a user would in the YAML (default, or per environment). */
function withProfile(profile: { default: string; by_environment?: Record<string, string> }): Control {
  const c = structuredClone(base);
  c.parameters = { ...c.parameters, threshold_profile: { ...c.parameters?.threshold_profile, ...profile } };
  c.checks = c.checks.filter((k) => ALERT_CHECKS.includes(k.id));
  return c;
}

const docs = (control: Control, specs: ExampleDocument[]) => ({ documents: specs.map((d) => materialise(control, d)), provenance: [], errors: [] });
const TIERED = ['alert_cpu_warning', 'alert_cpu_critical', 'alert_memory_warning', 'alert_memory_critical', 'alert_connections_warning', 'alert_connections_critical', 'alert_storage_critical'];
const SEED = ['alert_cpu', 'alert_memory', 'alert_connections', 'alert_storage'];
const statuses = (control: Control, specs: ExampleDocument[]) =>
  Object.fromEntries(evaluate(docs(control, specs), [control], { now }).results.map((r) => [`${r.check}@${r.resourceName}`, r.status]));
const server = [{ fixture: 'pg_ok' }, { fixture: 'pg_max_connections' }];

describe('AI-MON-01 threshold profiles', () => {
  it('the tiered profile passes with warning and critical alerts (storage: critical only)', () => {
    const tiered = withProfile({ default: 'tiered' });
    const got = statuses(tiered, [...server, ...TIERED.map((fixture) => ({ fixture }))]);
    assert.deepEqual(Object.values(got), ['pass', 'pass', 'pass', 'pass'], JSON.stringify(got));
  });

  it('the seed alerts satisfy the seed profile but not the tiered one, and the reverse fails the 70 % / 80 % seed thresholds only where they differ', () => {
    const seedAlerts = [...server, ...SEED.map((fixture) => ({ fixture }))];
    assert.deepEqual(Object.values(statuses(withProfile({ default: 'seed' }), seedAlerts)), ['pass', 'pass', 'pass', 'pass']);
    // Seed alerts are severity 2 at 70/80/80/85 %: no warning tier at 60/70/70 and no severity-1 critical alert.
    assert.deepEqual(Object.values(statuses(withProfile({ default: 'tiered' }), seedAlerts)), ['fail', 'fail', 'fail', 'fail']);
  });

  it('a warning alert of severity 3 (informational) is not a warning tier', () => {
    const tiered = withProfile({ default: 'tiered' });
    const specs: ExampleDocument[] = [...server, ...TIERED.map((fixture) => (fixture === 'alert_cpu_warning' ? { fixture, set: { 'properties.severity': 3 } } : { fixture }))];
    const got = statuses(tiered, specs);
    assert.equal(got['postgres_cpu_alert@pg-engram-prod'], 'fail');
    assert.equal(got['postgres_memory_alert@pg-engram-prod'], 'pass');
  });

  it('the profile can differ per environment (tiered in prod, seed elsewhere)', () => {
    const mixed = withProfile({ default: 'seed', by_environment: { prod: 'tiered' } });
    const dev: ExampleDocument[] = [
      { fixture: 'pg_ok', name: 'pg-engram-dev', tags: { environment: 'dev' } },
      { fixture: 'pg_max_connections', rename: { 'pg-engram-prod': 'pg-engram-dev' } },
    ];
    // The alert fixtures are named after and scoped to pg-engram-prod: move copies to the dev server.
    const devAlerts = SEED.map((fixture) => {
      const a = materialise(mixed, { fixture });
      const props = a.properties as { scopes: string[] };
      a.id = a.id.replace('pg-engram-prod', 'pg-engram-dev');
      a.name = String(a.name).replace('pg-engram-prod', 'pg-engram-dev');
      props.scopes = props.scopes.map((s) => s.replace('pg-engram-prod', 'pg-engram-dev'));
      return a;
    });
    const all = docs(mixed, [...server, ...TIERED.map((fixture) => ({ fixture })), ...dev]);
    all.documents.push(...devAlerts);
    const results = evaluate(all, [mixed], { now }).results;
    for (const r of results) assert.equal(r.status, 'pass', `${r.check}@${r.resourceName}: ${r.message}`);
    assert.equal(results.length, 8);
    assert.ok(results.some((r) => r.resourceName === 'pg-engram-dev' && /seed profile/.test(r.message)));
    assert.ok(results.some((r) => r.resourceName === 'pg-engram-prod' && /tiered profile/.test(r.message)));
  });

  it('an unknown profile name satisfies neither branch, so the alerts fail rather than pass', () => {
    const odd = withProfile({ default: 'strict' });
    const got = statuses(odd, [...server, ...SEED.map((fixture) => ({ fixture })), ...TIERED.map((fixture) => ({ fixture }))]);
    assert.deepEqual(Object.values(got), ['fail', 'fail', 'fail', 'fail']);
  });
});
