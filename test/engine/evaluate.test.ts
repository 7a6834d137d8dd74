/** evaluate(): statuses, nothing in scope, collection errors, environment applicability, throwing conditions, ordering, scale. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Check, Control } from '../../src/controls/types.js';
import type { AzureDocument, CollectionError, EvidenceSet } from '../../src/model.js';
import { evaluate, NOTHING_IN_SCOPE, COLLECTION_INCOMPLETE, resolveParameters } from '../../src/engine/index.js';
import { loadCatalog } from '../../src/controls/index.js';

const now = new Date('2026-11-28T00:00:00Z');
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const stId = (name: string) => `${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${name}`;
const st = (name: string, props: Record<string, unknown> = {}, tags?: Record<string, string>): AzureDocument => ({
  id: stId(name), name, type: 'microsoft.storage/storageaccounts', ...(tags ? { tags } : {}), properties: { minimumTlsVersion: 'TLS1_2', ...props },
});
const ev = (documents: AzureDocument[], errors: CollectionError[] = []): EvidenceSet => ({ documents, provenance: [], errors });

function check(over: Partial<Check> = {}): Check {
  return {
    id: 'tls_check',
    title: 'Storage accounts require TLS 1.2 or newer',
    severity: 'high',
    resource_type: 'microsoft.storage/storageaccounts',
    condition: { path: 'properties.minimumTlsVersion', op: 'in', value: ['TLS1_2', 'TLS1_3'], default: 'TLS1_0' },
    messages: { pass: '{resource.name} requires TLS 1.2 ({actual}).', fail: '{resource.name} accepts old TLS ({actual}); want {expected}.' },
    remediation: { cli: 'az storage account update --min-tls-version TLS1_2', bicep: "minimumTlsVersion: 'TLS1_2'" },
    reperform: { request: 'GET https://management.azure.com{resource.id}?api-version=2025-08-01', json_path: 'properties.minimumTlsVersion' },
    policy_definition_id: '/providers/Microsoft.Authorization/policyDefinitions/fe83a0eb-a853-422d-aac2-1bffd182c5d0',
    examples: {} as Check['examples'],
    ...over,
  };
}
function control(checks: Check[], over: Partial<Control> = {}): Control {
  return { id: 'T-01', title: 'Test', objective: 'Test control objective.', nist_ai_rmf: ['MEASURE 2.7'], sp800_53: ['SC-8'], checks, ...over };
}

describe('evaluate', () => {
  it('passes and fails per resource with messages, expected/actual, remediation, re-performance and policy id', () => {
    const { controls, results } = evaluate(ev([st('ok'), st('bad', { minimumTlsVersion: 'TLS1_0' })]), [control([check()])], { now });
    assert.equal(controls[0]?.status, 'fail');
    assert.deepEqual(controls[0]?.counts, { pass: 1, fail: 1, error: 0, not_applicable: 0, manual: 0 });
    const bad = results.find((r) => r.resourceName === 'bad')!;
    assert.equal(bad.status, 'fail');
    assert.equal(bad.message, 'bad accepts old TLS (properties.minimumTlsVersion = "TLS1_0"); want properties.minimumTlsVersion in [TLS1_2, TLS1_3].');
    assert.equal(bad.expected, 'properties.minimumTlsVersion in [TLS1_2, TLS1_3]');
    assert.equal(bad.actual, 'properties.minimumTlsVersion = "TLS1_0"');
    assert.equal(bad.reperform, `GET https://management.azure.com${stId('bad')}?api-version=2025-08-01 -> properties.minimumTlsVersion`);
    assert.equal(bad.policyDefinitionId, '/providers/Microsoft.Authorization/policyDefinitions/fe83a0eb-a853-422d-aac2-1bffd182c5d0');
    assert.equal(bad.remediation?.cli, 'az storage account update --min-tls-version TLS1_2');
    assert.deepEqual(bad.evidence, [stId('bad')]);
    assert.equal(bad.explanation?.[0]?.actual, 'TLS1_0');
    assert.equal(controls[0]?.nistAiRmf[0], 'MEASURE 2.7');
  });

  it('says when an absent property was judged as its Azure default', () => {
    const { results } = evaluate(ev([st('legacy', { minimumTlsVersion: undefined })]), [control([check()])], { now });
    assert.equal(results[0]?.status, 'fail');
    assert.equal(results[0]?.actual, 'properties.minimumTlsVersion = (absent; Azure default "TLS1_0")');
  });

  it('a control with nothing in scope is error with one synthetic result, never pass', () => {
    const vaultOnly = check({ resource_type: 'microsoft.keyvault/vaults' });
    const { controls, results } = evaluate(ev([st('ok')]), [control([vaultOnly])], { now });
    assert.equal(controls[0]?.status, 'error');
    assert.equal(results.length, 1);
    assert.equal(results[0]?.check, NOTHING_IN_SCOPE);
    assert.equal(results[0]?.status, 'error');
    assert.match(results[0]?.message ?? '', /Nothing in scope for T-01: the evidence holds no resource of type microsoft\.keyvault\/vaults\. Check the scope/);
    // An empty snapshot too.
    assert.equal(evaluate(ev([]), [control([check()])], { now }).controls[0]?.status, 'error');
  });

  it('a check with no targets adds no results while the control has others', () => {
    const { results } = evaluate(ev([st('ok')]), [control([check(), check({ id: 'vault_check', resource_type: 'microsoft.keyvault/vaults' })])], { now });
    assert.deepEqual(results.map((r) => r.check), ['tls_check']);
  });

  it('a collection error for a resource turns its affected checks into error with the collector message', () => {
    const err: CollectionError = { collector: 'storage.accounts', scope: SUB, resourceId: stId('bad').toUpperCase(), code: 'AuthorizationFailed', message: 'no read permission' };
    const { controls, results } = evaluate(ev([st('ok'), st('bad')], [err]), [control([check()])], { now });
    const bad = results.find((r) => r.resourceName === 'bad')!;
    assert.equal(bad.status, 'error');
    assert.match(bad.message, /collection failed \(storage\.accounts: AuthorizationFailed: no read permission\)/);
    assert.equal(results.find((r) => r.resourceName === 'ok')?.status, 'pass');
    assert.equal(controls[0]?.status, 'error');
  });

  it('a collection error on a child type affects only checks that read that type', () => {
    const server: AzureDocument = { id: `${SUB}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1`, type: 'Microsoft.DBforPostgreSQL/flexibleServers', name: 'pg1', properties: { network: { publicNetworkAccess: 'Disabled' } } };
    const cfg: AzureDocument = { id: `${server.id}/configurations/require_secure_transport`, type: 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', name: 'require_secure_transport', properties: { value: 'on' } };
    const err: CollectionError = { collector: 'postgres.configurations', scope: SUB, resourceId: server.id, resourceType: 'microsoft.dbforpostgresql/flexibleservers/configurations', code: 'Timeout', message: 'timed out' };
    const usesCfg = check({ id: 'secure_transport', resource_type: 'microsoft.dbforpostgresql/flexibleservers', condition: { related: { type: 'microsoft.dbforpostgresql/flexibleservers/configurations', name: 'require_secure_transport', where: { path: 'properties.value', op: 'equals', value: 'on' } } } });
    const plain = check({ id: 'public_access', resource_type: 'microsoft.dbforpostgresql/flexibleservers', condition: { path: 'properties.network.publicNetworkAccess', op: 'equals', value: 'Disabled' } });
    const { results } = evaluate(ev([server, cfg], [err]), [control([usesCfg, plain])], { now });
    assert.deepEqual(results.map((r) => `${r.check}:${r.status}`), ['secure_transport:error', 'public_access:pass']);
  });

  it('a failure to list a whole type, or a whole scope, is reported as error (resources may be missing)', () => {
    const typeErr: CollectionError = { collector: 'resource-graph', scope: SUB, resourceType: 'Microsoft.Storage/storageAccounts', code: 'Throttled', message: 'quota exhausted' };
    const scopeErr: CollectionError = { collector: 'resource-graph', scope: `${SUB}-2`, code: 'AuthorizationFailed', message: 'no access' };
    const { controls, results } = evaluate(ev([st('ok')], [typeErr, scopeErr]), [control([check()])], { now });
    assert.equal(controls[0]?.status, 'error');
    assert.ok(results.some((r) => r.status === 'error' && r.resourceId === SUB && /quota exhausted/.test(r.message)));
    assert.ok(results.some((r) => r.check === COLLECTION_INCOMPLETE && /no access/.test(r.message)));
    assert.equal(results.find((r) => r.resourceName === 'ok')?.status, 'pass');
  });

  it('a failure to list the keys of a vault is an error result for the key check, not silence', () => {
    const vault = `${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1`;
    const keyCheck = check({ id: 'rotation', resource_type: 'microsoft.keyvault/vaults/keys', condition: { derived: 'key_rotation_days', op: 'lte', value: 90 } });
    const err: CollectionError = { collector: 'keyvault.keys', scope: SUB, resourceId: vault, resourceType: 'Microsoft.KeyVault/vaults/keys', code: 'Forbidden', message: 'listing keys was denied' };
    const { controls, results } = evaluate(ev([st('ok')], [err]), [control([check(), keyCheck])], { now });
    const r = results.find((x) => x.check === 'rotation');
    assert.equal(r?.status, 'error');
    assert.equal(r?.resourceId, vault);
    assert.match(r?.message ?? '', /listing keys was denied/);
    assert.equal(controls[0]?.status, 'error');
  });

  it('a condition that throws is error for that resource only', () => {
    const throwing = check({ condition: { path: 'properties.minimumTlsVersion', op: 'gte', value: { param: 'undeclared' } } });
    const { controls, results } = evaluate(ev([st('a'), st('b')]), [control([throwing])], { now });
    assert.ok(results.every((r) => r.status === 'error' && /parameter "undeclared"/.test(r.message)));
    assert.equal(controls[0]?.status, 'error');
  });

  it('environment applicability: prod-only check is not_applicable on dev, applied conservatively to untagged and unknown tags', () => {
    const prodOnly = check({ applicability: { environments: ['prod'] } });
    const docs = [
      st('p', { minimumTlsVersion: 'TLS1_0' }, { Environment: 'PROD' }),
      st('d', { minimumTlsVersion: 'TLS1_0' }, { environment: 'dev' }),
      st('u', { minimumTlsVersion: 'TLS1_0' }),
      st('s', {}, { environment: 'staging' }),
    ];
    const { results, controls } = evaluate(ev(docs), [control([prodOnly])], { now });
    const by = Object.fromEntries(results.map((r) => [r.resourceName, r]));
    assert.equal(by.p?.status, 'fail');
    assert.equal(by.p?.environment, 'prod');
    assert.equal(by.d?.status, 'not_applicable');
    assert.equal(by.d?.message, 'd is tagged environment=dev; this check applies only to prod.');
    assert.equal(by.u?.status, 'fail');
    assert.match(by.u?.message ?? '', /no environment tag, so this prod check was applied conservatively/);
    assert.equal(by.s?.status, 'pass');
    assert.match(by.s?.message ?? '', /"staging" is not one of dev\/test\/uat\/prod/);
    assert.equal(controls[0]?.status, 'fail');
    // A custom tag name.
    const custom = evaluate(ev([st('x', {}, { stage: 'dev' })]), [control([prodOnly])], { now, environmentTag: 'Stage' });
    assert.equal(custom.results[0]?.status, 'not_applicable');
  });

  it('never copies a secret from a tag or property into a message, expected/actual or explanation', () => {
    const secret = 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0';
    const prodOnly = check({ applicability: { environments: ['prod'] }, condition: { path: 'properties.note', op: 'equals', value: 'x' } });
    const { results } = evaluate(ev([st('leaky', { note: secret }, { environment: secret })]), [control([prodOnly])], { now });
    const text = JSON.stringify(results);
    assert.doesNotMatch(text, /c2VjcmV0c2VjcmV0c2VjcmV0/);
    assert.match(results[0]?.actual ?? '', /\[REDACTED\]/);
  });

  it('all results not applicable make the control not_applicable', () => {
    const prodOnly = check({ applicability: { environments: ['prod'] } });
    assert.equal(evaluate(ev([st('d', {}, { environment: 'dev' })]), [control([prodOnly])], { now }).controls[0]?.status, 'not_applicable');
  });

  it('environment-specific parameters (7 days, 35 in prod); untagged take prod', () => {
    const retention = check({
      id: 'retention',
      parameters: { min_days: { default: 7, by_environment: { prod: 35 } } },
      condition: { path: 'properties.days', op: 'gte', value: { param: 'min_days' } },
      messages: { pass: '{resource.name} keeps {param.min_days} days.', fail: '{resource.name} keeps fewer than {param.min_days} days.' },
    });
    const docs = [st('dev1', { days: 10 }, { environment: 'dev' }), st('prod1', { days: 10 }, { environment: 'prod' }), st('none1', { days: 10 })];
    const by = Object.fromEntries(evaluate(ev(docs), [control([retention])], { now }).results.map((r) => [r.resourceName, r]));
    assert.equal(by.dev1?.status, 'pass');
    assert.equal(by.prod1?.status, 'fail');
    assert.equal(by.prod1?.message, 'prod1 keeps fewer than 35 days.');
    assert.equal(by.none1?.status, 'fail');
    assert.deepEqual(resolveParameters(control([retention]), retention, 'uat'), { min_days: 7 });
  });

  it('orders results deterministically whatever the input order', () => {
    const docs = ['c', 'A', 'b'].map((n) => st(n));
    const a = evaluate(ev(docs), [control([check(), check({ id: 'second' })])], { now }).results;
    const b = evaluate(ev([...docs].reverse()), [control([check(), check({ id: 'second' })])], { now }).results;
    assert.deepEqual(a, b);
    assert.deepEqual(a.map((r) => `${r.check}/${r.resourceName}`), ['tls_check/A', 'tls_check/b', 'tls_check/c', 'second/A', 'second/b', 'second/c']);
  });

  it('handles 2,000 storage accounts, 500 servers and 2,000 keys with AI-SEC-01 (one result per check and target)', async () => {
    const ai = (await loadCatalog()).get('AI-SEC-01')!;
    const docs: AzureDocument[] = [];
    const rg = `${SUB}/resourceGroups/rg/providers`;
    for (let v = 0; v < 200; v++) {
      const vid = `${rg}/Microsoft.KeyVault/vaults/kv${v}`;
      docs.push({ id: vid, type: 'Microsoft.KeyVault/vaults', name: `kv${v}`, properties: { vaultUri: `https://kv${v}.vault.azure.net/`, enablePurgeProtection: true } });
      for (let k = 0; k < 10; k++) docs.push({ id: `${vid}/keys/k${k}`, type: 'Microsoft.KeyVault/vaults/keys', name: `k${k}`, properties: { rotationPolicy: { lifetimeActions: [{ trigger: { timeAfterCreate: 'P90D' }, action: { type: 'rotate' } }] } } });
    }
    for (let i = 0; i < 2000; i++) docs.push(st(`st${i}`, { encryption: { keySource: 'Microsoft.Keyvault', keyvaultproperties: { keyvaulturi: `https://kv${i % 200}.vault.azure.net`, keyname: 'k0', keyversion: '' } } }));
    for (let i = 0; i < 500; i++) {
      const id = `${rg}/Microsoft.DBforPostgreSQL/flexibleServers/pg${i}`;
      docs.push({ id, type: 'Microsoft.DBforPostgreSQL/flexibleServers', name: `pg${i}`, properties: { dataEncryption: { type: 'AzureKeyVault', primaryKeyURI: `https://kv${i % 200}.vault.azure.net/keys/k1` } } });
      docs.push({ id: `${id}/configurations/require_secure_transport`, type: 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', name: 'require_secure_transport', properties: { value: 'on' } });
    }
    const started = process.hrtime.bigint();
    const { results } = evaluate(ev(docs), [ai], { now });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const perType = (t: string) => ai.checks.filter((c) => c.resource_type === t).length;
    assert.equal(results.length, 2000 * perType('microsoft.storage/storageaccounts') + 500 * perType('microsoft.dbforpostgresql/flexibleservers') + 200 * perType('microsoft.keyvault/vaults') + 2000 * perType('microsoft.keyvault/vaults/keys'));
    assert.equal(results.filter((r) => r.check === 'storage_key_in_customer_vault' && r.status === 'pass').length, 2000);
    assert.equal(results.filter((r) => r.check === 'postgres_min_tls_version' && r.status === 'error').length, 500, 'ssl_min_protocol_version was not collected');
    process.stderr.write(`# evaluate: ${docs.length} documents, ${results.length} results in ${ms.toFixed(0)} ms\n`);
  });
});
