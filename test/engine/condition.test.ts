/** The condition language, operator by operator: case-insensitivity, durations, defaults, quantifiers, related documents, lookups, explanations. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition } from '../../src/controls/types.js';
import type { AzureDocument } from '../../src/model.js';
import { DocumentIndex, durationDays, evaluateCondition, keyRotationDays, publicIpv4Addresses, readPath } from '../../src/engine/index.js';

const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers';
const st: AzureDocument = {
  id: `${SUB}/Microsoft.Storage/storageAccounts/st1`,
  type: 'Microsoft.Storage/storageAccounts',
  name: 'st1',
  properties: {
    minimumTlsVersion: 'TLS1_2',
    supportsHttpsTrafficOnly: true,
    count: 5,
    retention: 'P35D',
    keyvaultproperties: { keyversion: '', keyname: 'k' },
    list: [{ status: 'Approved', n: 1 }, { status: 'Pending', n: 2 }, { status: 'approved', n: 3 }],
    tagsList: ['a', 'B'],
  },
};

function run(cond: Condition, docs: AzureDocument[] = [st], params: Record<string, unknown> = {}, target: AzureDocument = st) {
  const index = new DocumentIndex({ documents: docs });
  return evaluateCondition(cond, target, { index, params, used: new Set() });
}
const v = (cond: Condition, docs?: AzureDocument[], params?: Record<string, unknown>) => run(cond, docs, params).verdict;

describe('leaf operators', () => {
  it('equals / not_equals compare strings case-insensitively unless case_sensitive', () => {
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'equals', value: 'tls1_2' }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'equals', value: 'tls1_2', case_sensitive: true }), 'false');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'not_equals', value: 'TLS1_0' }), 'true');
    assert.equal(v({ path: 'properties.supportsHttpsTrafficOnly', op: 'equals', value: 'true' }), 'true', 'boolean vs "true"');
    assert.equal(v({ path: 'properties.count', op: 'equals', value: '5' }), 'true', 'number vs "5"');
  });
  it('in / not_in use sets', () => {
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'in', value: ['TLS1_2', 'TLS1_3'] }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'not_in', value: ['tls1_0', 'tls1_1'] }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'in', value: ['TLS1_3'] }), 'false');
  });
  it('absent values satisfy only absent/empty, never a comparison (fail closed)', () => {
    assert.equal(v({ path: 'properties.nope', op: 'not_equals', value: 'x' }), 'false');
    assert.equal(v({ path: 'properties.nope', op: 'not_in', value: ['x'] }), 'false');
    assert.equal(v({ path: 'properties.nope', op: 'absent' }), 'true');
    assert.equal(v({ path: 'properties.nope', op: 'exists' }), 'false');
    assert.equal(v({ path: 'properties.nope', op: 'empty' }), 'true');
    assert.equal(v({ path: 'properties.keyvaultproperties.keyversion', op: 'empty' }), 'true', 'empty string is empty');
    assert.equal(v({ path: 'properties.keyvaultproperties.keyname', op: 'not_empty' }), 'true');
    assert.equal(v({ path: 'properties.list', op: 'not_empty' }), 'true');
  });
  it('a declared default stands in for an absent property and the explanation says so', () => {
    const out = run({ path: 'properties.allowBlobPublicAccess', op: 'equals', value: false, default: true });
    assert.equal(out.verdict, 'false');
    assert.deepEqual(out.explanations[0], {
      documentId: st.id, path: 'properties.allowBlobPublicAccess', operator: 'equals', expected: false, actual: true, ok: false, defaulted: true,
    });
  });
  it('lt / lte / gt / gte on numbers and numeric strings, with parameters', () => {
    assert.equal(v({ path: 'properties.count', op: 'lt', value: 6 }), 'true');
    assert.equal(v({ path: 'properties.count', op: 'lte', value: 5 }), 'true');
    assert.equal(v({ path: 'properties.count', op: 'gt', value: 5 }), 'false');
    assert.equal(v({ path: 'properties.count', op: 'gte', value: { param: 'min' } }, undefined, { min: 5 }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'gte', value: 1 }), 'false', 'non-numeric actual is not satisfied');
    assert.throws(() => run({ path: 'properties.count', op: 'gte', value: { param: 'missing' } }), /parameter "missing"/);
  });
  it('duration operators compare ISO-8601 durations and day counts', () => {
    assert.equal(v({ path: 'properties.retention', op: 'duration_gte', value: 'P5W' }), 'true');
    assert.equal(v({ path: 'properties.retention', op: 'duration_lte', value: 'P1M' }), 'false');
    assert.equal(v({ path: 'properties.retention', op: 'duration_lte', value: 35 }), 'true');
    assert.equal(v({ path: 'properties.retention', op: 'duration_lt', value: 'P35D' }), 'false');
    assert.equal(v({ path: 'properties.retention', op: 'duration_gt', value: 'PT24H' }), 'true');
    assert.equal(durationDays('P1Y2M3DT12H'), 365 + 60 + 3.5);
    assert.equal(durationDays('p90d'), 90);
    assert.equal(durationDays('90 days'), undefined);
    assert.equal(durationDays('P'), undefined);
  });
  it('matches / not_matches (case-insensitive by default) and contains', () => {
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'matches', value: '^tls1_[23]$' }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'not_matches', value: '^TLS1_[01]$' }), 'true');
    assert.equal(v({ path: 'properties.tagsList', op: 'contains', value: 'b' }), 'true');
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'contains', value: '1_2' }), 'true');
  });
  it('starts_with / prefix_of (a lifecycle prefix "record" covers "record-plane/")', () => {
    assert.equal(v({ path: 'properties.minimumTlsVersion', op: 'starts_with', value: 'tls1' }), 'true');
    const rule: AzureDocument = { id: `${SUB}/x/y/z`, properties: { prefix: 'Record' } };
    const on = (cond: Condition) => run(cond, [rule], {}, rule).verdict;
    assert.equal(on({ path: 'properties.prefix', op: 'prefix_of', value: 'record-plane/' }), 'true');
    assert.equal(on({ path: 'properties.prefix', op: 'prefix_of', value: 'record-plane/', case_sensitive: true }), 'false');
    assert.equal(on({ path: 'properties.prefix', op: 'prefix_of', value: 'archive/' }), 'false');
  });
  it('days_since / days_until use the injected clock, with ISO text or unix seconds', () => {
    const doc: AzureDocument = { id: `${SUB}/a/b/c`, properties: { expiry: '2026-12-28T00:00:00Z', created: 1767225600 } };
    const index = new DocumentIndex({ documents: [doc] });
    const at = (cond: Condition, now?: Date) => evaluateCondition(cond, doc, { index, params: {}, used: new Set(), now });
    const now = new Date('2026-11-28T00:00:00Z');
    assert.equal(at({ derived: 'days_until', path: 'properties.expiry', op: 'equals', value: 30 }, now).verdict, 'true');
    assert.equal(at({ derived: 'days_since', path: 'properties.created', op: 'gte', value: 331 }, now).verdict, 'true');
    assert.equal(at({ derived: 'days_until', path: 'properties.missing', op: 'gt', value: 0 }, now).verdict, 'false', 'no date: not satisfied');
    assert.throws(() => at({ derived: 'days_until', path: 'properties.expiry', op: 'gt', value: 0 }), /run clock/);
  });
  it('paths match keys case-insensitively, index arrays, and reach the document with $root', () => {
    assert.equal(readPath(st, 'Properties.MinimumTLSVersion'), 'TLS1_2');
    assert.equal(readPath(st, 'properties.list.1.status'), 'Pending');
    const obj = { a: 1 };
    assert.equal(readPath(obj, '@'), obj);
    assert.equal(readPath(st.properties, '$root.name', st), 'st1');
  });
});

describe('combinators and quantifiers', () => {
  const t: Condition = { path: 'name', op: 'equals', value: 'st1' };
  const f: Condition = { path: 'name', op: 'equals', value: 'other' };
  it('all / any / not', () => {
    assert.equal(v({ all: [t, t] }), 'true');
    assert.equal(v({ all: [t, f] }), 'false');
    assert.equal(v({ any: [f, t] }), 'true');
    assert.equal(v({ any: [f, f] }), 'false');
    assert.equal(v({ not: f }), 'true');
    const out = run({ not: t });
    assert.equal(out.verdict, 'false');
    assert.equal(out.explanations[0]?.operator, 'not equals');
    assert.equal(out.explanations[0]?.ok, false);
  });
  it('explanations keep only the branches that decided', () => {
    const out = run({ any: [f, t] });
    assert.equal(out.explanations.length, 1);
    assert.equal(out.explanations[0]?.ok, true);
  });
  it('some / every / none / count over arrays, case-insensitive inside', () => {
    const approved: Condition = { path: 'status', op: 'equals', value: 'Approved' };
    assert.equal(v({ some: { path: 'properties.list', where: approved } }), 'true');
    assert.equal(v({ every: { path: 'properties.list', where: approved } }), 'false');
    assert.equal(v({ none: { path: 'properties.list', where: { path: 'status', op: 'equals', value: 'Rejected' } } }), 'true');
    assert.equal(v({ count: { path: 'properties.list', where: approved, op: 'equals', value: 2 } }), 'true');
    assert.equal(v({ count: { path: 'properties.list', op: 'gte', value: 3 } }), 'true');
    assert.equal(v({ some: { path: 'properties.absentList', where: approved } }), 'false', 'absent array: no element');
    assert.equal(v({ every: { path: 'properties.absentList', where: approved } }), 'true', 'vacuous truth, by design');
    const out = run({ every: { path: 'properties.list', where: approved } });
    assert.equal(out.explanations[0]?.operator, 'every');
    assert.equal(out.explanations[1]?.path, 'properties.list.1.status');
    assert.equal(out.explanations[1]?.actual, 'Pending');
  });
});

describe('related documents and lookups', () => {
  const server: AzureDocument = { id: `${SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg1`, type: 'Microsoft.DBforPostgreSQL/flexibleServers', name: 'pg1', properties: {} };
  const cfg = (name: string, value: string): AzureDocument => ({
    id: `${server.id}/configurations/${name}`, type: 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', name, properties: { value },
  });
  const rule = (name: string, start: string, end: string): AzureDocument => ({
    id: `${server.id}/firewallRules/${name}`, type: 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules', name, properties: { startIpAddress: start, endIpAddress: end },
  });
  const on: Condition = { related: { type: 'microsoft.dbforpostgresql/flexibleservers/configurations', name: 'require_secure_transport', where: { path: 'properties.value', op: 'equals', value: 'on' } } };
  const srv = (cond: Condition, docs: AzureDocument[], provenance: Array<{ documentId: string; source: 'azure' }> = []) =>
    evaluateCondition(cond, server, { index: new DocumentIndex({ documents: [server, ...docs], provenance }), params: { max: 256 }, used: new Set() });

  it('finds a named child by id prefix and type, case-insensitively', () => {
    assert.equal(srv(on, [cfg('require_secure_transport', 'ON')]).verdict, 'true');
    assert.equal(srv(on, [cfg('REQUIRE_SECURE_TRANSPORT', 'off')]).verdict, 'false');
  });
  it('an uncollected child is missing evidence, never a pass', () => {
    const out = srv(on, []);
    assert.equal(out.verdict, 'missing');
    assert.match(out.missing[0] ?? '', /no microsoft\.dbforpostgresql\/flexibleservers\/configurations "require_secure_transport" were collected/);
    assert.equal(srv(on, [cfg('ssl_min_protocol_version', 'TLSv1.2')]).verdict, 'missing', 'other parameters present, this one absent');
    assert.equal(srv({ not: on }, []).verdict, 'missing', 'not keeps missing');
  });
  it('an empty list is evidence only when it was collected (marker document or provenance)', () => {
    const none: Condition = { related: { type: 'microsoft.dbforpostgresql/flexibleservers/firewallrules', match: 'none' } };
    assert.equal(srv(none, []).verdict, 'missing');
    assert.equal(srv(none, [{ id: `${server.id}/firewallRules`, type: 'engram.collection', value: [] } as AzureDocument]).verdict, 'true');
    assert.equal(srv(none, [], [{ documentId: `${server.id}/firewallRules`, source: 'azure' }]).verdict, 'true');
    // A list body with items is indexed item by item.
    assert.equal(srv(none, [{ id: `${server.id}/firewallRules`, value: [rule('a', '1.1.1.1', '1.1.1.1')] } as unknown as AzureDocument]).verdict, 'false');
  });
  it('firewall breadth through the public_ipv4_addresses derived value', () => {
    const wide: Condition = { related: { type: 'microsoft.dbforpostgresql/flexibleservers/firewallrules', match: 'none', where: { derived: 'public_ipv4_addresses', op: 'gt', value: { param: 'max' } } } };
    assert.equal(srv(wide, [rule('office', '203.0.113.0', '203.0.113.255')]).verdict, 'true');
    assert.equal(srv(wide, [rule('all', '0.0.0.0', '255.255.255.255')]).verdict, 'false');
    assert.equal(srv(wide, [rule('private', '10.0.0.0', '10.255.255.255')]).verdict, 'true', 'private ranges do not open the server to the internet');
    assert.equal(publicIpv4Addresses({ properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' } }), 0);
    assert.equal(publicIpv4Addresses({ properties: { startIpAddress: '0.0.0.0', endIpAddress: '255.255.255.255' } }), 2 ** 32 - 2 ** 24 * 3 - 2 ** 22 - 2 ** 16 * 2 - 2 ** 20 - 2 ** 28 * 2);
    assert.throws(() => srv(wide, [rule('bad', '1.2.3', '1.2.3.4')]), /not an IPv4 address/);
  });
  it('extension resources (diagnostic settings) are children of the resource they extend', () => {
    const vault: AzureDocument = { id: `${SUB}/Microsoft.KeyVault/vaults/kv1`, type: 'Microsoft.KeyVault/vaults', name: 'kv1', properties: {} };
    const diag: AzureDocument = { id: `${vault.id}/providers/microsoft.insights/diagnosticSettings/d1`, type: 'Microsoft.Insights/diagnosticSettings', name: 'd1', properties: { workspaceId: 'w' } };
    const cond: Condition = { related: { type: 'microsoft.insights/diagnosticsettings', where: { path: 'properties.workspaceId', op: 'not_empty' } } };
    const index = new DocumentIndex({ documents: [vault, diag] });
    const used = new Set<string>();
    assert.equal(evaluateCondition(cond, vault, { index, params: {}, used }).verdict, 'true');
    assert.ok(used.has(diag.id), 'the child is recorded as evidence');
  });
  it('lookup finds the vault whose vaultUri host matches a key URI', () => {
    const vault: AzureDocument = { id: `${SUB}/Microsoft.KeyVault/vaults/kv1`, type: 'microsoft.keyvault/vaults', name: 'kv1', properties: { vaultUri: 'https://KV1.vault.azure.net:443/', enablePurgeProtection: true } };
    const pg: AzureDocument = { ...server, properties: { dataEncryption: { primaryKeyURI: 'https://kv1.vault.azure.net/keys/k' } } };
    const cond: Condition = {
      lookup: {
        type: 'microsoft.keyvault/vaults',
        from: { path: 'properties.dataEncryption.primaryKeyURI', transform: 'host' },
        to: { path: 'properties.vaultUri', transform: 'host' },
        where: { path: 'properties.enablePurgeProtection', op: 'equals', value: true },
      },
    };
    const ev = (docs: AzureDocument[], target: AzureDocument) => evaluateCondition(cond, target, { index: new DocumentIndex({ documents: docs }), params: {}, used: new Set() });
    assert.equal(ev([pg, vault], pg).verdict, 'true');
    assert.equal(ev([pg], pg).verdict, 'missing', 'vault not collected');
    assert.equal(ev([server, vault], server).verdict, 'false', 'no key URI: nothing to find');
    assert.equal(ev([pg, { ...vault, properties: { ...vault.properties, enablePurgeProtection: false } }], pg).verdict, 'false');
  });
  it('reverse lookup through an array key (metric alerts whose scopes include the server), with if_none and match', () => {
    const alert = (name: string, threshold: number, scopes: string[]): AzureDocument => ({
      id: `${SUB}/microsoft.insights/metricalerts/${name}`, type: 'microsoft.insights/metricalerts', name,
      properties: { scopes, criteria: { allOf: [{ metricName: 'cpu_percent', operator: 'GreaterThan', threshold }] } },
    });
    const cond = (ifNone?: 'fail' | 'empty'): Condition => ({
      lookup: {
        type: 'microsoft.insights/metricalerts',
        from: { path: 'id' },
        to: { path: 'properties.scopes' },
        ...(ifNone ? { if_none: ifNone } : {}),
        where: { some: { path: 'properties.criteria.allOf', where: { all: [{ path: 'metricName', op: 'equals', value: 'cpu_percent' }, { path: 'threshold', op: 'lte', value: 70 }] } } },
      },
    });
    const ev = (c: Condition, docs: AzureDocument[]) => evaluateCondition(c, server, { index: new DocumentIndex({ documents: [server, ...docs] }), params: {}, used: new Set() }).verdict;
    assert.equal(ev(cond(), [alert('a1', 90, ['/other']), alert('a2', 70, [server.id.toUpperCase(), '/other'])]), 'true');
    assert.equal(ev(cond(), [alert('a1', 90, [server.id])]), 'false');
    assert.equal(ev(cond(), []), 'missing', 'default: not collected');
    assert.equal(ev(cond('fail'), []), 'false', 'if_none: fail');
    assert.equal(ev({ lookup: { type: 'microsoft.insights/metricalerts', from: { path: 'id' }, to: { path: 'properties.scopes' }, if_none: 'empty', match: 'none' } }, []), 'true');
  });
  it('key_rotation_days reads timeAfterCreate, or expiryTime minus timeBeforeExpiry, Rotate only, case-insensitively', () => {
    const key = (actions: unknown[], expiryTime?: string) => ({ properties: { rotationPolicy: { attributes: { expiryTime }, lifetimeActions: actions } } });
    assert.equal(keyRotationDays(key([{ trigger: { timeAfterCreate: 'P90D' }, action: { type: 'Rotate' } }])), 90);
    assert.equal(keyRotationDays(key([{ trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'rotate' } }], 'P1Y')), 335);
    assert.equal(keyRotationDays(key([{ trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'rotate' } }])), undefined, 'no expiry: cannot schedule');
    assert.equal(keyRotationDays(key([{ trigger: { timeAfterCreate: 'P30D' }, action: { type: 'Notify' } }])), undefined);
    assert.equal(keyRotationDays(key([{ trigger: { timeAfterCreate: 'P1Y' }, action: { type: 'Rotate' } }, { trigger: { timeAfterCreate: 'P3M' }, action: { type: 'ROTATE' } }])), 90);
    // The data-plane rotation policy body (GetKeyRotationPolicy-example.json shape) works too.
    assert.equal(keyRotationDays({ lifetimeActions: [{ trigger: { timeAfterCreate: 'P90D' }, action: { type: 'Rotate' } }], attributes: { expiryTime: 'P2Y' } }), 90);
  });
});
