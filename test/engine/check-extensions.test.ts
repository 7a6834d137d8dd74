/**
 * The engine features the later controls need: select / applies_if / if_no_target / unsatisfied_status (manual),
 * the leaf `param` source, derived expected values, the SKU / sizing / max_connections derived values, environment
 * inherited from the parent resource, errors for types read through lookups, and the control status with manual results.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Check, Control } from '../../src/controls/types.js';
import type { AzureDocument, CollectionError, EvidenceSet } from '../../src/model.js';
import { evaluate } from '../../src/engine/index.js';
import { DERIVED, MissingEvidence, declaredLoadRequirement, percentOfMaxConnections } from '../../src/engine/derived.js';
import { DocumentIndex } from '../../src/engine/documents.js';

const now = new Date('2026-11-28T00:00:00Z');
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers';
const ev = (documents: AzureDocument[], errors: CollectionError[] = []): EvidenceSet => ({ documents, provenance: [], errors });
const base: Omit<Check, 'id' | 'resource_type' | 'condition'> = {
  title: 'A secure state',
  severity: 'medium',
  messages: { pass: '{resource.name} passes ({actual}).', fail: '{resource.name} fails ({actual}).' },
  remediation: { cli: 'az something', bicep: 'something: true' },
  reperform: { request: 'GET https://management.azure.com{resource.id}?api-version=2025-08-01', json_path: 'properties' },
  examples: {} as Check['examples'],
};
const control = (checks: Check[], over: Partial<Control> = {}): Control => ({
  id: 'T-02', title: 'Test', objective: 'Test control objective.', nist_ai_rmf: ['GOVERN 1.1'], sp800_53: ['CM-6'], checks, ...over,
});
const att = (name: string, props: Record<string, unknown>): AzureDocument => ({ id: `attestation://${name}`, name, type: 'engram.attestation', properties: props });
const attCheck: Check = {
  ...base,
  id: 'policy_attested',
  resource_type: 'engram.attestation',
  select: { path: 'properties.check', op: 'equals', value: 'policy_attested' },
  if_no_target: { status: 'manual', resource_id: 'attestation://policy', message: '{resource.name} has not been attested.' },
  unsatisfied_status: 'manual',
  messages: { ...base.messages, manual: '{resource.name} awaits attestation ({actual}).' },
  reperform: { command: 'sha256sum the evidence files', json_path: 'properties.evidence' },
  condition: { derived: 'days_until', path: 'properties.expires', op: 'gt', value: 0 },
};

describe('manual checks (attestations)', () => {
  it('a missing attestation is one manual result for the expected id, and the control is manual, never pass', () => {
    const { controls, results } = evaluate(ev([]), [control([attCheck])], { now });
    assert.equal(results.length, 1);
    assert.equal(results[0]?.status, 'manual');
    assert.equal(results[0]?.resourceId, 'attestation://policy');
    assert.equal(results[0]?.message, 'policy has not been attested.');
    assert.equal(results[0]?.reperform, 'sha256sum the evidence files -> properties.evidence');
    assert.equal(controls[0]?.status, 'manual');
  });

  it('an expired attestation is manual with the manual message; a current one passes; others are not targets', () => {
    const { controls, results } = evaluate(
      ev([att('policy', { check: 'policy_attested', expires: '2027-01-01' }), att('policy-old', { check: 'policy_attested', expires: '2026-01-01' }), att('other', { check: 'other_check', expires: '2020-01-01' })]),
      [control([attCheck])],
      { now },
    );
    assert.deepEqual(results.map((r) => [r.resourceName, r.status]), [['policy', 'pass'], ['policy-old', 'manual']]);
    assert.match(results[1]?.message ?? '', /^policy-old awaits attestation \(days_until\(properties\.expires\) = -331\)\.$/);
    // Manual outranks pass: a control with an awaited attestation is not satisfied.
    assert.equal(controls[0]?.status, 'manual');
    assert.deepEqual(controls[0]?.counts, { pass: 1, fail: 0, error: 0, not_applicable: 0, manual: 1 });
  });

  it('if_no_target does not fire when something was selected, and fail still outranks manual', () => {
    const failing: Check = { ...base, id: 'tls', resource_type: 'microsoft.storage/storageaccounts', condition: { path: 'properties.x', op: 'equals', value: true } };
    const { controls } = evaluate(ev([{ id: `${SUB}/Microsoft.Storage/storageAccounts/st`, name: 'st', type: 'Microsoft.Storage/storageAccounts', properties: {} }]), [control([attCheck, failing])], { now });
    assert.equal(controls[0]?.status, 'fail');
  });
});

describe('select and applies_if', () => {
  const container = (account: string, name: string, props: Record<string, unknown>): AzureDocument => ({
    id: `${SUB}/Microsoft.Storage/storageAccounts/${account}/blobServices/default/containers/${name}`, name, type: 'Microsoft.Storage/storageAccounts/blobServices/containers', properties: props,
  });
  const account = (name: string, env: string, props: Record<string, unknown> = {}): AzureDocument => ({
    id: `${SUB}/Microsoft.Storage/storageAccounts/${name}`, name, type: 'Microsoft.Storage/storageAccounts', tags: { environment: env }, properties: props,
  });
  const locked: Check = {
    ...base,
    id: 'locked',
    resource_type: 'microsoft.storage/storageaccounts/blobservices/containers',
    applicability: { environments: ['prod'] },
    select: { path: 'name', op: 'starts_with', value: 'record' },
    condition: { path: 'properties.state', op: 'equals', value: 'Locked' },
  };

  it('selects targets by condition and gives children the environment of their account', () => {
    const { results } = evaluate(
      ev([account('stprod', 'prod'), account('stdev', 'dev'), container('stprod', 'record-plane', { state: 'Unlocked' }), container('stprod', 'scratch', {}), container('stdev', 'record-plane', { state: 'Unlocked' })]),
      [control([locked])],
      { now },
    );
    assert.deepEqual(results.map((r) => [r.resourceId.split('/')[8], r.resourceName, r.status, r.environment]), [
      ['stdev', 'record-plane', 'not_applicable', 'dev'],
      ['stprod', 'record-plane', 'fail', 'prod'],
    ]);
  });

  it('applies_if false is not_applicable with the reason; missing evidence in it is an error', () => {
    const versioned: Check = {
      ...base,
      id: 'worm',
      resource_type: 'microsoft.storage/storageaccounts',
      applies_if: { path: 'properties.worm.enabled', op: 'equals', value: true, default: false },
      condition: { path: 'properties.worm.days', op: 'gte', value: 7 },
    };
    const viaChild: Check = { ...versioned, id: 'worm_child', applies_if: { related: { type: 'microsoft.storage/storageaccounts/blobservices', where: { path: 'properties.x', op: 'exists' } } } };
    const { results } = evaluate(ev([account('on', 'prod', { worm: { enabled: true, days: 3 } }), account('off', 'prod')]), [control([versioned, viaChild])], { now });
    const byKey = Object.fromEntries(results.map((r) => [`${r.check}/${r.resourceName}`, r]));
    assert.equal(byKey['worm/on']?.status, 'fail');
    assert.equal(byKey['worm/off']?.status, 'not_applicable');
    assert.match(byKey['worm/off']?.message ?? '', /off does not meet this check's precondition \(properties\.worm\.enabled = \(absent; Azure default false\)\), so worm does not apply\./);
    assert.equal(byKey['worm_child/on']?.status, 'error');
    assert.match(byKey['worm_child/on']?.message ?? '', /missing evidence/);
  });
});

describe('parameters as values', () => {
  it('a leaf can test a parameter (profile switch), also per environment', () => {
    const profiled: Check = {
      ...base,
      id: 'profiled',
      resource_type: 'microsoft.storage/storageaccounts',
      parameters: { profile: { default: 'seed', by_environment: { prod: 'tiered' } }, seed_max: { default: 70 }, tiered_max: { default: 60 } },
      condition: {
        any: [
          { all: [{ param: 'profile', op: 'equals', value: 'seed' }, { path: 'properties.t', op: 'lte', value: { param: 'seed_max' } }] },
          { all: [{ param: 'profile', op: 'equals', value: 'tiered' }, { path: 'properties.t', op: 'lte', value: { param: 'tiered_max' } }] },
        ],
      },
    };
    const doc = (name: string, env: string): AzureDocument => ({ id: `${SUB}/Microsoft.Storage/storageAccounts/${name}`, name, type: 'Microsoft.Storage/storageAccounts', tags: { environment: env }, properties: { t: 65 } });
    const { results } = evaluate(ev([doc('dev', 'dev'), doc('prod', 'prod')]), [control([profiled])], { now });
    assert.deepEqual(results.map((r) => [r.resourceName, r.status]), [['dev', 'pass'], ['prod', 'fail']]);
    assert.match(results[1]?.actual ?? '', /parameter profile = "tiered"/);
  });
});

describe('derived values for capacity and monitoring', () => {
  const server = (sku: string, tags: Record<string, string> = {}): AzureDocument => ({
    id: `${SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg`, name: 'pg', type: 'Microsoft.DBforPostgreSQL/flexibleServers', tags, sku: { name: sku }, properties: {},
  });

  it('sku_vcores / sku_memory_gb read the SKU catalog, with or without the Standard_ prefix; an unknown SKU is missing evidence', () => {
    const ctx = { root: server('x') };
    assert.equal(DERIVED.sku_vcores?.('Standard_D4s_v3', ctx), 4);
    assert.equal(DERIVED.sku_memory_gb?.('standard_d4s_v3', ctx), 16);
    assert.equal(DERIVED.sku_vcores?.('B1ms', ctx), 1);
    assert.ok(DERIVED.sku_vcores?.('Standard_Q1', ctx) instanceof MissingEvidence);
    assert.equal(DERIVED.sku_vcores?.(undefined, ctx), undefined);
  });

  it('a derived expected value: the server must have at least the profile SKU\'s vCores ("or larger" by size)', () => {
    const sized: Check = {
      ...base,
      id: 'sized',
      resource_type: 'microsoft.dbforpostgresql/flexibleservers',
      parameters: { profile_sku: { default: 'Standard_D4s_v3' } },
      condition: { derived: 'sku_vcores', path: 'sku.name', op: 'gte', value: { param: 'profile_sku', derived: 'sku_vcores' } },
    };
    const run = (sku: string) => evaluate(ev([server(sku)]), [control([sized])], { now }).results[0];
    assert.equal(run('Standard_E4ds_v5')?.status, 'pass');
    assert.equal(run('Standard_D2ds_v5')?.status, 'fail');
    assert.equal(run('Standard_D2ds_v5')?.expected, 'sku_vcores(sku.name) >= 4');
    assert.equal(run('Standard_Nope')?.status, 'error');
    assert.match(run('Standard_Nope')?.message ?? '', /not in the SKU catalog/);
  });

  it('declaredLoadRequirement applies the strategy formula to the load tags and rejects non-numeric tags', () => {
    // The strategy's production example: 1M facts, 200 connections, growth 2.0 -> (2+2+1)x2 = 10 vCores, (4+2+2)x2 = 16 GB.
    assert.deepEqual(declaredLoadRequirement({ 'engram-facts': '1000000', 'engram-connections': '200' }), { vcores: 10, memoryGb: 16 });
    assert.deepEqual(declaredLoadRequirement({ 'Engram-Facts': '1000000', 'engram-connections': '200', 'engram-growth': '1.5' }), { vcores: 8, memoryGb: 12 });
    assert.equal(declaredLoadRequirement({ environment: 'prod' }), undefined);
    assert.throws(() => declaredLoadRequirement({ 'engram-facts': '1e6' }), /whole number/);
    assert.throws(() => declaredLoadRequirement({ 'engram-facts': '10', 'engram-growth': '0.5' }), /number >= 1/);
  });

  it('percent_of_max_connections divides by the target server\'s max_connections, and is missing evidence without it', () => {
    const srv = server('Standard_D4s_v3');
    const cfg: AzureDocument = { id: `${srv.id}/configurations/max_connections`, name: 'max_connections', type: 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', properties: { value: '859' } };
    const used: string[] = [];
    const withCfg = new DocumentIndex({ documents: [srv, cfg] });
    assert.equal(percentOfMaxConnections(687.2, { root: srv, target: srv, index: withCfg, use: (id) => used.push(id) }), 80);
    assert.deepEqual(used, [cfg.id]);
    const without = new DocumentIndex({ documents: [srv] });
    assert.ok(percentOfMaxConnections(700, { root: srv, target: srv, index: without }) instanceof MissingEvidence);
    assert.equal(percentOfMaxConnections('n/a', { root: srv, target: srv, index: without }), undefined);
    const bad = new DocumentIndex({ documents: [srv, { ...cfg, properties: { value: 'lots' } }] });
    assert.throws(() => percentOfMaxConnections(700, { root: srv, target: srv, index: bad }), /not a positive number/);
  });
});

describe('collection errors for types read through lookups', () => {
  it('a failure to list metric alerts makes every server that looks them up an error, not a fail', () => {
    const srv: AzureDocument = { id: `${SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg`, name: 'pg', type: 'Microsoft.DBforPostgreSQL/flexibleServers', properties: {} };
    const alerted: Check = {
      ...base,
      id: 'alerted',
      resource_type: 'microsoft.dbforpostgresql/flexibleservers',
      condition: { lookup: { type: 'microsoft.insights/metricalerts', from: { path: 'id' }, to: { path: 'properties.scopes' }, if_none: 'fail' } },
    };
    assert.equal(evaluate(ev([srv]), [control([alerted])], { now }).results[0]?.status, 'fail');
    const err: CollectionError = { collector: 'monitor.metricAlerts', scope: '/subscriptions/00000000-0000-0000-0000-000000000000', resourceType: 'microsoft.insights/metricalerts', code: 'Throttled', message: 'too many requests' };
    const r = evaluate(ev([srv], [err]), [control([alerted])], { now }).results;
    assert.equal(r.length, 1);
    assert.equal(r[0]?.status, 'error');
    assert.match(r[0]?.message ?? '', /monitor\.metricAlerts: Throttled/);
  });
});
