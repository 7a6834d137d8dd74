import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpHeaders, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { collect, KQL_METRIC_ALERTS, type CollectResult } from '../../src/collect/index.js';
import { createReplayCredential } from '../../src/collect/replay.js';
import type { Scope } from '../../src/model.js';
import { buildDemoEstate, demoEstateClient, SUB_PROD } from '../support/demo-estate.js';

// The evidence the later controls read (lifecycle, immutability, backup, HA, monitoring, capacity): each collector
// collected (pass), collected and empty, and refused (403), through the real SDK clients over the demo fake Azure.

const scope = (over: Partial<Scope> = {}): Scope => ({ subscriptions: [], managementGroups: [], tags: {}, source: 'azure', demo: true, ...over });
const fixed = () => new Date('2026-11-01T00:00:00.000Z');
const byId = (r: CollectResult, suffix: string) => r.documents.find((d) => d.id.toLowerCase().endsWith(suffix.toLowerCase()));
const ofType = (r: CollectResult, type: string) => r.documents.filter((d) => String(d.type).toLowerCase() === type);
const props = (d: { properties?: Record<string, unknown> } | undefined) => (d?.properties ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const forbidden = (request: PipelineRequest): PipelineResponse => ({
  request,
  status: 403,
  headers: createHttpHeaders({ 'content-type': 'application/json', 'x-ms-request-id': 'denied-1' }),
  bodyAsText: JSON.stringify({ error: { code: 'AuthorizationFailed', message: 'The client does not have authorization to perform this action.' } }),
});

async function run(override?: (r: PipelineRequest) => PipelineResponse | undefined, requests?: PipelineRequest[], over: Partial<Scope> = {}): Promise<CollectResult> {
  const client = demoEstateClient(undefined, (req) => {
    requests?.push(req);
    return override?.(req);
  });
  return collect({ scope: scope(over), credential: createReplayCredential(), httpClient: client, now: fixed, sleep: async () => {} });
}

test('PostgreSQL: azure.extensions and max_connections are collected with the TLS parameters', async () => {
  const r = await run();
  assert.deepEqual(r.errors, []);
  assert.equal(props(byId(r, '/psql-ai-prod/configurations/azure.extensions')).value, 'VECTOR,PG_STAT_STATEMENTS');
  assert.equal(props(byId(r, '/psql-ai-uat/configurations/azure.extensions')).value, 'vector');
  assert.equal(props(byId(r, '/psql-ai-dev/configurations/max_connections')).value, '50');
  assert.equal(props(byId(r, '/psql-ai-prod/configurations/max_connections')).dataType, 'Integer');
  // Server properties the controls read come with the Resource Graph row: sku, backup, HA, auto-grow, window.
  const prod = byId(r, '/flexibleServers/psql-ai-prod')!;
  assert.deepEqual(prod.sku, { name: 'Standard_D4s_v3', tier: 'GeneralPurpose' });
  assert.deepEqual([props(prod).backup.backupRetentionDays, props(prod).backup.geoRedundantBackup], [35, 'Enabled']);
  assert.deepEqual([props(prod).highAvailability.mode, props(prod).highAvailability.state], ['ZoneRedundant', 'Healthy']);
  assert.equal(props(byId(r, '/flexibleServers/psql-ai-uat')).highAvailability.mode, 'SameZone');
  assert.equal(props(prod).maintenanceWindow.customWindow, 'Enabled');
});

test('PostgreSQL: a 403 on azure.extensions is an error for that server and type; the other parameters are kept', async () => {
  const r = await run((req) => (/psql-ai-uat\/configurations\/azure\.extensions/i.test(req.url) ? forbidden(req) : undefined));
  assert.equal(r.errors.length, 1);
  const e = r.errors[0]!;
  assert.deepEqual([e.collector, e.code, e.resourceType], ['postgres.configurations', 'AuthorizationFailed', 'microsoft.dbforpostgresql/flexibleservers/configurations']);
  assert.match(e.resourceId!, /\/psql-ai-uat$/);
  assert.equal(byId(r, '/psql-ai-uat/configurations/azure.extensions'), undefined);
  assert.ok(byId(r, '/psql-ai-uat/configurations/max_connections'));
});

test('containers under a retention policy or legal hold are fetched one by one; the others are not', async () => {
  const requests: PipelineRequest[] = [];
  const r = await run(undefined, requests);
  assert.deepEqual(r.errors, []);
  const gets = requests.filter((q) => /\/containers\/[^/?]+\?/i.test(q.url)).map((q) => decodeURIComponent(new URL(q.url).pathname).split('/').slice(-3).join('/'));
  assert.deepEqual(gets.map((g) => g.split('/')[2]).sort(), ['record-plane', 'record-plane', 'record-plane']);
  const locked = props(byId(r, '/staiprod01/blobServices/default/containers/record-plane'));
  assert.deepEqual(locked.immutabilityPolicy.properties, { immutabilityPeriodSinceCreationInDays: 2555, state: 'Locked' });
  assert.equal(locked.hasImmutabilityPolicy, true);
  const uat = props(byId(r, '/staiuathostile/blobServices/default/containers/record-plane'));
  assert.equal(uat.immutabilityPolicy.properties.state, 'Unlocked');
  assert.deepEqual(uat.legalHold.tags.map((t: { tag: string }) => t.tag), ['litigation-2026']);
  // A container with neither keeps its list body (no immutabilityPolicy at all).
  const dev = props(byId(r, '/staidevlegacy/blobServices/default/containers/record-plane'));
  assert.deepEqual([dev.hasImmutabilityPolicy, dev.hasLegalHold, dev.immutabilityPolicy], [false, false, undefined]);
});

test('a 403 on one container GET is an error on that container; its list body is kept', async () => {
  const r = await run((req) => (/staiprod01\/blobServices\/default\/containers\/record-plane\?/i.test(req.url) ? forbidden(req) : undefined));
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.collector, 'storage.containers');
  assert.match(r.errors[0]!.resourceId!, /\/staiprod01\/blobServices\/default\/containers\/record-plane$/);
  const kept = props(byId(r, '/staiprod01/blobServices/default/containers/record-plane'));
  assert.deepEqual([kept.hasImmutabilityPolicy, kept.immutabilityPolicy], [true, undefined]);
});

test('blob service properties carry versioning, soft delete, container soft delete and point-in-time restore', async () => {
  const r = await run();
  const prod = props(byId(r, '/staiprod01/blobServices/default'));
  assert.equal(prod.isVersioningEnabled, true);
  assert.deepEqual(prod.deleteRetentionPolicy, { enabled: true, days: 35 });
  assert.deepEqual(prod.containerDeleteRetentionPolicy, { enabled: true, days: 35 });
  assert.equal(prod.restorePolicy.enabled, true);
  assert.equal(props(byId(r, '/staiprodpinned/blobServices/default')).restorePolicy.enabled, false);
  const mp = props(byId(r, '/staiprod01/managementPolicies/default'));
  assert.deepEqual(mp.policy.rules[0].definition.filters.prefixMatch, ['record-plane/']);
  assert.equal(mp.policy.rules[0].definition.actions.baseBlob.delete.daysAfterModificationGreaterThan, 2555);
  assert.deepEqual(byId(r, '/storageAccounts/staiprod01')!.sku, { name: 'Standard_GZRS', tier: 'Standard' });
});

test('diagnostic settings of PostgreSQL servers and blob services: present, collected-empty, and refused', async () => {
  const r = await run();
  const ds = ofType(r, 'microsoft.insights/diagnosticsettings');
  assert.ok(byId(r, '/flexibleServers/psql-ai-prod/providers/microsoft.insights/diagnosticSettings/send-to-law'));
  assert.ok(byId(r, '/staiprod01/blobServices/default/providers/microsoft.insights/diagnosticSettings/send-to-law'));
  assert.ok(props(byId(r, '/staiprodpinned/blobServices/default/providers/microsoft.insights/diagnosticSettings/archive-to-storage')).storageAccountId);
  assert.equal(ds.length, 6); // kv-ai-prod, psql-ai-prod, psql-ai-uat, and the blob services of staiprod01, staiprodpinned, staiuathostile
  const list = (suffix: string) => r.lists.find((l) => l.parentId.endsWith(suffix) && l.resourceType === 'microsoft.insights/diagnosticsettings');
  assert.equal(list('/flexibleServers/psql-ai-dev')?.count, 0);
  assert.equal(list('/staidevlegacy/blobServices/default')?.count, 0);
  assert.equal(list('/staiprod01/blobServices/default')?.count, 1);

  const denied = await run((req) => (/psql-ai-uat\/providers\/Microsoft.Insights\/diagnosticSettings/i.test(req.url) || /staiuathostile\/blobServices\/default\/providers\/Microsoft.Insights\/diagnosticSettings/i.test(req.url) ? forbidden(req) : undefined));
  assert.deepEqual(
    denied.errors.map((e) => [e.collector, e.resourceId!.split('/providers/')[1], e.resourceType]).sort(),
    [
      ['monitor.diagnosticSettings', 'Microsoft.DBforPostgreSQL/flexibleServers/psql-ai-uat', 'microsoft.insights/diagnosticsettings'],
      ['monitor.diagnosticSettings', 'Microsoft.Storage/storageAccounts/staiuathostile/blobServices/default', 'microsoft.insights/diagnosticsettings'],
    ],
  );
  assert.equal(denied.lists.some((l) => /psql-ai-uat$|staiuathostile\/blobServices\/default$/.test(l.parentId) && l.resourceType === 'microsoft.insights/diagnosticsettings'), false);
});

test('metric alerts come from Resource Graph, untagged query, with their scopes', async () => {
  const queries: string[] = [];
  const r = await run((req) => {
    if (req.method === 'POST') queries.push(JSON.parse(String(req.body)).query);
    return undefined;
  }, undefined, { tags: { environment: 'prod' } });
  assert.deepEqual(r.errors, []);
  // The tag filter narrows the workload, never the alerts watching it.
  assert.ok(queries.includes(KQL_METRIC_ALERTS));
  const alerts = ofType(r, 'microsoft.insights/metricalerts');
  assert.equal(alerts.length, 4);
  const prodServer = byId(r, '/flexibleServers/psql-ai-prod')!.id;
  assert.ok(alerts.every((a) => JSON.stringify(props(a).scopes) === JSON.stringify([prodServer])));
  const metrics = alerts.map((a) => `${props(a).criteria.allOf[0].metricName} ${props(a).criteria.allOf[0].operator} ${props(a).criteria.allOf[0].threshold}`).sort();
  assert.deepEqual(metrics, ['active_connections GreaterThan 687', 'cpu_percent GreaterThan 70', 'memory_percent GreaterThan 80', 'storage_percent GreaterThan 85']);
});

test('no metric alerts at all is collected-empty: no documents and no error', async () => {
  const estate = buildDemoEstate();
  estate.metricAlerts = [];
  const r = await collect({ scope: scope(), credential: createReplayCredential(), httpClient: demoEstateClient(estate), now: fixed });
  assert.deepEqual(r.errors, []);
  assert.equal(ofType(r, 'microsoft.insights/metricalerts').length, 0);
});

test('a refused metric alert query is an error for the query and for every server, never "no alerts"', async () => {
  const r = await run((req) => (req.method === 'POST' && JSON.parse(String(req.body)).query === KQL_METRIC_ALERTS ? forbidden(req) : undefined), undefined, { subscriptions: [SUB_PROD] });
  const graph = r.errors.filter((e) => e.resourceId === undefined);
  assert.deepEqual(graph.map((e) => [e.collector, e.code, e.resourceType]), [['resource-graph', 'AuthorizationFailed', 'microsoft.insights/metricalerts']]);
  const perServer = r.errors.filter((e) => e.resourceId !== undefined);
  assert.deepEqual(perServer.map((e) => [e.code, e.resourceType, e.resourceId!.split('/').pop()]), [['AuthorizationFailed', 'microsoft.insights/metricalerts', 'psql-ai-prod']]);
  assert.ok(byId(r, '/flexibleServers/psql-ai-prod'), 'the server itself is kept');
});
