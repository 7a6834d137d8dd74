import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpHeaders, type PipelineRequest } from '@azure/core-rest-pipeline';
import { collect, coverageOf, type CollectResult } from '../../src/collect/index.js';
import { createRecordingClient, createReplayClient, createReplayCredential, requestKey, type CassetteEntry } from '../../src/collect/replay.js';
import { sha256Hex } from '../../src/util/hash.js';
import type { Scope } from '../../src/model.js';
import { fixture } from '../support/paths.js';
import { demoEstateClient, demoSnapshotText, PLANTED_ACCOUNT_KEY, SUB_NONPROD, SUB_PROD } from '../support/demo-estate.js';

const demoDir = fixture('demo', 'replay');
const scope = (over: Partial<Scope> = {}): Scope => ({ subscriptions: [], managementGroups: [], tags: {}, source: 'replay', demo: true, ...over });
const fixed = () => new Date('2026-11-01T00:00:00.000Z');
const byId = (r: CollectResult, suffix: string) => r.documents.find((d) => d.id.toLowerCase().endsWith(suffix.toLowerCase()));
const ofType = (r: CollectResult, type: string) => r.documents.filter((d) => String(d.type).toLowerCase() === type);

async function replayDemo(dir = demoDir): Promise<CollectResult> {
  return collect({ scope: scope(), credential: createReplayCredential(), httpClient: createReplayClient(dir), now: fixed });
}

test('the demo estate replays through the real SDK clients with no errors', async () => {
  const r = await replayDemo();
  assert.deepEqual(r.errors, []);
  assert.equal(ofType(r, 'microsoft.dbforpostgresql/flexibleservers').length, 3);
  // Resource Graph pages: storage and postgres each came in two $skipToken pages of 2.
  assert.equal(ofType(r, 'microsoft.storage/storageaccounts').length, 4);
  assert.equal(ofType(r, 'microsoft.keyvault/vaults').length, 2);
  assert.equal(ofType(r, 'microsoft.keyvault/vaults/keys').length, 4);
  assert.equal(ofType(r, 'microsoft.dbforpostgresql/flexibleservers/configurations').length, 12);
  assert.equal(ofType(r, 'microsoft.insights/metricalerts').length, 4);
  // nextLink paging: staidevlegacy has 4 containers over 2 pages.
  const legacy = ofType(r, 'microsoft.storage/storageaccounts/blobservices/containers').filter((d) => d.id.includes('/staidevlegacy/'));
  assert.deepEqual(legacy.map((d) => d.name).sort(), ['exports', 'public-assets', 'record-plane', 'scratch']);
  assert.deepEqual(r.subscriptionsReturned, [SUB_PROD, SUB_NONPROD]);
  assert.deepEqual(r.subscriptionsRequested, []);
});

test('Resource Graph rows keep the lower-cased type and wire names (networkAcls, not networkRuleSet)', async () => {
  const r = await replayDemo();
  const legacy = byId(r, '/storageAccounts/staidevlegacy')!;
  assert.equal(legacy.type, 'microsoft.storage/storageaccounts');
  const props = legacy.properties as Record<string, unknown>;
  assert.equal(props.minimumTlsVersion, 'TLS1_0');
  assert.equal(props.allowBlobPublicAccess, true);
  assert.ok('networkAcls' in props && !('networkRuleSet' in props));
  assert.ok('supportsHttpsTrafficOnly' in props);
  const key = byId(r, '/vaults/kv-ai-prod/keys/pg-cmk')!;
  const rp = (key.properties as { rotationPolicy?: { lifetimeActions: Array<{ trigger: { timeAfterCreate?: string } }> } }).rotationPolicy;
  assert.equal(rp?.lifetimeActions[0]?.trigger.timeAfterCreate, 'P90D');
});

test('diagnostic settings are separate documents under the vault id; an empty list is recorded as collected', async () => {
  const r = await replayDemo();
  const ds = ofType(r, 'microsoft.insights/diagnosticsettings').filter((d) => d.id.includes('/vaults/'));
  assert.equal(ds.length, 1);
  assert.match(ds[0]!.id, /\/vaults\/kv-ai-prod\/providers\/microsoft\.insights\/diagnosticSettings\/send-to-law$/);
  const devList = r.lists.find((l) => l.parentId.endsWith('/kv-ai-dev') && l.resourceType === 'microsoft.insights/diagnosticsettings');
  assert.deepEqual(devList && { count: devList.count, collector: devList.collector }, { count: 0, collector: 'monitor.diagnosticSettings' });
  const prodFw = r.lists.find((l) => l.parentId.endsWith('/psql-ai-prod') && l.resourceType.endsWith('/firewallrules'));
  assert.equal(prodFw?.count, 0);
  const noPolicy = r.lists.find((l) => l.parentId.endsWith('/staiprodpinned') && l.resourceType.endsWith('/managementpolicies'));
  assert.equal(noPolicy?.count, 0);
});

test('provenance: every document has method, URL with api-version, status, request id, time and the body digest', async () => {
  const r = await replayDemo();
  assert.equal(r.provenance.length, r.documents.length);
  const cassettes = readdirSync(demoDir).map((n) => JSON.parse(readFileSync(join(demoDir, n), 'utf8')) as CassetteEntry);
  for (const p of r.provenance) {
    assert.equal(p.source, 'replay');
    assert.ok(p.method === 'GET' || p.method === 'POST', p.documentId);
    assert.match(p.url!, /[?&]api(-|%2D)version=\d{4}-\d{2}-\d{2}/i);
    assert.equal(p.status, 200);
    assert.match(p.requestId!, /^[0-9a-f-]{36}$/);
    assert.equal(p.time, '2026-11-01T00:00:00.000Z');
    assert.match(p.bodySha256!, /^[0-9a-f]{64}$/);
  }
  // The digest is over the body exactly as served for that request.
  const p = r.provenance.find((x) => x.documentId.endsWith('/configurations/ssl_min_protocol_version') && x.documentId.includes('psql-ai-dev'))!;
  const entry = cassettes.find((c) => requestKey(c.request.method, c.request.url, c.request.body) === requestKey(p.method!, p.url!))!;
  assert.equal(p.bodySha256, sha256Hex(JSON.stringify(entry.response.body)));
});

test('a secret pasted into a tag is redacted in the document, flagged in provenance, and absent from every cassette', async () => {
  const r = await replayDemo();
  const hostile = byId(r, '/storageAccounts/staiuathostile')!;
  const tagText = JSON.stringify(hostile.tags);
  assert.ok(!tagText.includes(PLANTED_ACCOUNT_KEY));
  assert.match(tagText, /AccountKey=\[REDACTED\]/);
  assert.equal(hostile.tags!.owner, "<script>alert('x')</script>"); // kept verbatim: escaping is the renderer's job
  // Replayed cassettes were scrubbed when recorded; a live read flags the document it had to change.
  const live = await collect({ scope: scope({ source: 'azure' }), credential: createReplayCredential(), httpClient: demoEstateClient(), now: fixed });
  assert.ok(!JSON.stringify(byId(live, '/storageAccounts/staiuathostile')!.tags).includes(PLANTED_ACCOUNT_KEY));
  assert.equal(live.provenance.find((p) => p.documentId === hostile.id)?.redacted, true);
  assert.equal(live.provenance.find((p) => p.documentId === hostile.id)?.source, 'azure');
  assert.equal(live.provenance.find((p) => p.documentId.endsWith('/staiprod01'))?.redacted, false);
  assert.notEqual(
    live.provenance.find((p) => p.documentId === hostile.id)?.bodySha256,
    r.provenance.find((p) => p.documentId === hostile.id)?.bodySha256,
    'the live digest is over the unredacted wire body',
  );
  for (const name of readdirSync(demoDir)) assert.ok(!readFileSync(join(demoDir, name), 'utf8').includes(PLANTED_ACCOUNT_KEY), name);
  assert.ok(!readFileSync(fixture('demo', 'snapshot.json'), 'utf8').includes(PLANTED_ACCOUNT_KEY));
});

test('fixtures/demo/snapshot.json is exactly the replay output (same inputs, same bytes)', async () => {
  const r = await replayDemo();
  assert.equal(demoSnapshotText(r), readFileSync(fixture('demo', 'snapshot.json'), 'utf8'));
  // The list records travel with the documents, so evaluate --evidence sees "read and empty" as the scan does.
  const snap = JSON.parse(readFileSync(fixture('demo', 'snapshot.json'), 'utf8')) as { lists: unknown[] };
  assert.equal(snap.lists.length, r.lists.length);
  assert.ok(r.lists.some((l) => l.count === 0 && l.parentId.endsWith('/kv-ai-dev')));
});

test('recording scrubs: no Authorization, no token, secrets redacted, and the recording replays identically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-rec-'));
  try {
    const live = await collect({ scope: scope({ source: 'azure' }), credential: createReplayCredential(), httpClient: createRecordingClient(demoEstateClient(), dir), now: fixed });
    const files = readdirSync(dir);
    assert.ok(files.length >= 30);
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      // Names are stable and the committed demo cassettes are current: each recording is byte-identical.
      assert.equal(text, readFileSync(join(demoDir, f), 'utf8'), f);
      assert.ok(!/"authorization"\s*:|Bearer /i.test(text), f);
      assert.deepEqual(Object.keys(JSON.parse(text).request).sort().filter((k) => k !== 'body'), ['method', 'url'], f);
      assert.ok(!text.includes('replay-placeholder-token'), f);
      assert.ok(!text.includes(PLANTED_ACCOUNT_KEY), f);
    }
    const replayed = await collect({ scope: scope(), credential: createReplayCredential(), httpClient: createReplayClient(dir), now: fixed });
    assert.deepEqual(replayed.documents, live.documents);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the demo cassettes also answer --subscription and --tag environment=... scopes', async () => {
  const prod = await collect({ scope: scope({ subscriptions: [SUB_PROD] }), credential: createReplayCredential(), httpClient: createReplayClient(demoDir), now: fixed });
  assert.deepEqual(prod.errors, []);
  assert.ok(prod.documents.length > 10 && prod.documents.every((d) => d.id.startsWith(`/subscriptions/${SUB_PROD}/`)));
  const uat = await collect({ scope: scope({ tags: { environment: 'uat' } }), credential: createReplayCredential(), httpClient: createReplayClient(demoDir), now: fixed });
  assert.deepEqual(uat.errors, []);
  const top = uat.documents.filter((d) => d.tags && (d.type === 'microsoft.storage/storageaccounts' || d.type === 'microsoft.dbforpostgresql/flexibleservers' || d.type === 'microsoft.keyvault/vaults'));
  assert.deepEqual(top.map((d) => d.name).sort(), ['psql-ai-uat', 'staiuathostile']);
  const cov = coverageOf(uat);
  assert.equal(cov.resourcesByType['microsoft.dbforpostgresql/flexibleservers'], 1);
  assert.deepEqual(cov.subscriptionsScanned, [SUB_PROD, SUB_NONPROD]);
});

test('an unmatched replay request becomes a CollectionError naming the request and the directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  try {
    cpSync(demoDir, dir, { recursive: true });
    const victim = readdirSync(dir).find((n) => {
      const e = JSON.parse(readFileSync(join(dir, n), 'utf8')) as CassetteEntry;
      return /kv-ai-dev\/providers\/Microsoft.Insights\/diagnosticSettings/i.test(e.request.url);
    })!;
    rmSync(join(dir, victim));
    const r = await replayDemo(dir);
    assert.equal(r.errors.length, 1);
    const e = r.errors[0]!;
    assert.equal(e.code, 'REPLAY_UNMATCHED');
    assert.equal(e.collector, 'monitor.diagnosticSettings');
    assert.match(e.resourceId!, /\/vaults\/kv-ai-dev$/);
    assert.equal(e.resourceType, 'microsoft.insights/diagnosticsettings');
    assert.ok(e.message.includes('GET https://management.azure.com/subscriptions/') && e.message.includes(dir), e.message);
    // Not collected, so no "collected, empty" record either: the engine sees an error, not "no settings".
    assert.equal(r.lists.some((l) => l.parentId.endsWith('/kv-ai-dev') && l.resourceType === 'microsoft.insights/diagnosticsettings'), false);
    assert.ok(byId(r, '/vaults/kv-ai-dev/keys/dev-key'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const forbidden = (request: PipelineRequest) => ({
  request,
  status: 403,
  headers: createHttpHeaders({ 'content-type': 'application/json', 'x-ms-request-id': 'denied-1' }),
  bodyAsText: JSON.stringify({ error: { code: 'AuthorizationFailed', message: 'The client does not have authorization to perform action Microsoft.Storage/storageAccounts/blobServices/containers/read.' } }),
});

test('a failing child call (403) is an error for that resource; the rest is still collected', async () => {
  const client = demoEstateClient(undefined, (req) => (/staiprodpinned\/blobServices\/default\/containers/i.test(req.url) ? forbidden(req) : undefined));
  const r = await collect({ scope: scope({ source: 'azure' }), credential: createReplayCredential(), httpClient: client, now: fixed, sleep: async () => {} });
  assert.equal(r.errors.length, 1);
  const e = r.errors[0]!;
  assert.equal(e.collector, 'storage.containers');
  assert.equal(e.code, 'AuthorizationFailed');
  assert.match(e.resourceId!, /\/storageAccounts\/staiprodpinned$/);
  assert.equal(e.resourceType, 'microsoft.storage/storageaccounts/blobservices/containers');
  assert.equal(e.scope, `/subscriptions/${SUB_PROD}`);
  assert.match(e.message, /^HTTP 403: /);
  assert.ok(byId(r, '/storageAccounts/staiprodpinned'), 'the account itself is kept');
  assert.ok(byId(r, '/staiprodpinned/blobServices/default'), 'its other children are kept');
  assert.equal(ofType(r, 'microsoft.storage/storageaccounts/blobservices/containers').length, 8);
  assert.equal(r.lists.some((l) => l.parentId.endsWith('/staiprodpinned') && l.resourceType.endsWith('/containers')), false);
});

test('429 and 503 storms are retried through the SDK clients; exhaustion becomes a CollectionError', async () => {
  const seen = new Map<string, number>();
  const sleeps: number[] = [];
  const flaky = demoEstateClient(undefined, (req) => {
    const n = (seen.get(req.url + String(req.body)) ?? 0) + 1;
    seen.set(req.url + String(req.body), n);
    if (/psql-ai-dev\/firewallRules/i.test(req.url)) return { request: req, status: 503, headers: createHttpHeaders({}), bodyAsText: '' };
    if (n === 1) return { request: req, status: 429, headers: createHttpHeaders({ 'retry-after': '3' }), bodyAsText: '' };
    return undefined;
  });
  const r = await collect({ scope: scope({ source: 'azure' }), credential: createReplayCredential(), httpClient: flaky, now: fixed, maxRetries: 2, sleep: async (ms) => void sleeps.push(ms) });
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.collector, 'postgres.firewallRules');
  assert.match(r.errors[0]!.resourceId!, /psql-ai-dev$/);
  assert.match(r.errors[0]!.message, /503/);
  const replay = await replayDemo();
  assert.equal(r.documents.length, replay.documents.length - 2); // the two dev firewall rules
  assert.ok(sleeps.filter((ms) => ms >= 3000 && ms < 3250).length > 20, 'Retry-After 3 s honoured');
});

test('requested subscriptions Resource Graph cannot see are reported', async () => {
  const missing = '00000000-0000-0000-0000-0000000000ff';
  const r = await collect({ scope: scope({ subscriptions: [SUB_PROD, missing], source: 'azure' }), credential: createReplayCredential(), httpClient: demoEstateClient(), now: fixed });
  assert.deepEqual(r.subscriptionsRequested, [SUB_PROD, missing]);
  assert.deepEqual(r.subscriptionsReturned, [SUB_PROD]);
  assert.deepEqual(r.errors.map((e) => [e.code, e.scope]), [['SUBSCRIPTION_NOT_VISIBLE', `/subscriptions/${missing}`]]);
  assert.ok(r.documents.every((d) => d.id.startsWith(`/subscriptions/${SUB_PROD}/`)));
});

test('a tag filter reaches Resource Graph as KQL', async () => {
  const queries: string[] = [];
  const client = demoEstateClient(undefined, (req) => {
    if (req.method === 'POST') queries.push(JSON.parse(String(req.body)).query);
    return undefined;
  });
  await collect({ scope: scope({ tags: { environment: "prod'" }, source: 'azure' }), credential: createReplayCredential(), httpClient: client, now: fixed });
  assert.ok(queries.includes("Resources | where type =~ 'microsoft.keyvault/vaults' | where tags['environment'] =~ 'prod\\'' | order by id asc"));
});

test('a key whose GET fails keeps its list entry and gets an error on its own id', async () => {
  const client = demoEstateClient(undefined, (req) => (/\/keys\/archive-cmk\?/i.test(req.url) ? forbidden(req) : undefined));
  const r = await collect({ scope: scope({ source: 'azure' }), credential: createReplayCredential(), httpClient: client, now: fixed });
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.resourceId!, /\/vaults\/kv-ai-prod\/keys\/archive-cmk$/);
  assert.equal(r.errors[0]!.resourceType, 'microsoft.keyvault/vaults/keys');
  const key = byId(r, '/keys/archive-cmk')!;
  assert.equal((key.properties as Record<string, unknown>).rotationPolicy, undefined, 'only the list body, which has no rotation policy');
  assert.ok((byId(r, '/keys/pg-cmk')!.properties as Record<string, unknown>).rotationPolicy);
});
