import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { KeyClient } from '@azure/keyvault-keys';
import { Agent } from 'node:https';
import {
  buildFamilyQuery,
  KQL_KEY_VAULTS,
  KQL_POSTGRES_FLEXIBLE_SERVERS,
  KQL_STORAGE_ACCOUNTS,
  KQL_SUBSCRIPTIONS,
} from '../../src/collect/resource-graph.js';
import { createReplayCredential } from '../../src/collect/replay.js';
import { estateCounts, generateEstate, lostEvidence, subscriptionId } from '../support/fake-azure/estate.js';
import { matchFamilyQuery, startFakeAzure, type FakeAzure } from '../support/fake-azure/server.js';

const estate = generateEstate({ subscriptions: 3, storage: 12, postgres: 5, vaults: 3, keysPerVault: 2, seed: 42 });
let fa: FakeAzure;
let agent: Agent;

before(async () => {
  fa = await startFakeAzure({ estate, graphQuota: false, dataPlaneVaults: ['kv-ai-00001'] });
  agent = new Agent({ ca: fa.ca, keepAlive: true });
});
after(async () => {
  agent.destroy();
  await fa.close();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: 'Bearer test' }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${fa.url}${path}`, { method, agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const GRAPH = '/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01';

test('the generator is deterministic, mixes compliant and non-compliant settings and tags every resource', () => {
  const again = generateEstate({ subscriptions: 3, storage: 12, postgres: 5, vaults: 3, keysPerVault: 2, seed: 42 });
  assert.deepEqual(again, estate);
  const other = generateEstate({ subscriptions: 3, storage: 12, postgres: 5, vaults: 3, keysPerVault: 2, seed: 43 });
  assert.notDeepEqual(other.accounts.map((a) => a.doc.properties.minimumTlsVersion), estate.accounts.map((a) => a.doc.properties.minimumTlsVersion));
  const big = generateEstate({ subscriptions: 5, storage: 300, postgres: 100, vaults: 40, keysPerVault: 5 });
  const tls = new Set(big.accounts.map((a) => a.doc.properties.minimumTlsVersion));
  assert.ok(tls.has('TLS1_0') && tls.has('TLS1_2'), 'both failing and passing TLS floors');
  assert.ok(big.vaults.some((v) => v.keys.some((k) => !k.rotation)) && big.vaults.some((v) => v.keys.some((k) => k.rotation)));
  assert.ok(big.servers.some((s) => s.doc.properties.dataEncryption?.type === 'AzureKeyVault') && big.servers.some((s) => s.doc.properties.dataEncryption?.type !== 'AzureKeyVault'));
  for (const d of [...big.accounts, ...big.servers, ...big.vaults].map((x) => x.doc)) {
    assert.match(d.tags.environment, /^(dev|test|uat|prod)$/);
    assert.ok(d.id.startsWith(`/subscriptions/${subscriptionId(0).slice(0, 24)}`));
  }
  assert.deepEqual(estateCounts(estate).resources, 20);
});

test('the certificate is a self-signed one for 127.0.0.1 (openssl-made at start)', () => {
  const cert = new X509Certificate(fa.ca);
  assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.equal(cert.subject, cert.issuer);
});

test('Resource Graph answers exactly the queries the collector builds, and 400 for anything else', async () => {
  assert.deepEqual(matchFamilyQuery(buildFamilyQuery('storage', { environment: "it's \\ prod" })), { family: 'storage', tags: { environment: "it's \\ prod" } });
  assert.equal(matchFamilyQuery(`${KQL_STORAGE_ACCOUNTS} `), undefined);
  assert.equal(matchFamilyQuery(KQL_STORAGE_ACCOUNTS.replace('order by id asc', 'order by name asc')), undefined);
  const client = new ResourceGraphClient(createReplayCredential(), {
    endpoint: fa.url,
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ position: 'perCall', policy: { name: 'ca', sendRequest: (r, next) => ((r.agent = agent), next(r)) } }],
  });
  const ok = await client.resources({ query: KQL_POSTGRES_FLEXIBLE_SERVERS, options: { resultFormat: 'objectArray' } });
  assert.equal((ok.data as unknown[]).length, 5);
  const changed = "Resources | where type =~ 'microsoft.dbforpostgresql/flexibleservers' | project id | order by id asc";
  await assert.rejects(client.resources({ query: changed, options: { resultFormat: 'objectArray' } }), (err: { statusCode?: number }) => err.statusCode === 400);
  const raw = await call('POST', GRAPH, { query: 'Resources | take 1', options: { resultFormat: 'objectArray' } });
  assert.equal(raw.status, 400);
  assert.equal(raw.body.error.code, 'BadRequest');
  assert.ok(fa.stats.rejectedQueries.includes(changed) && fa.stats.rejectedQueries.includes('Resources | take 1'));
});

test('Resource Graph pages with $top and $skipToken, filters by subscription and tag, and refuses foreign tokens', async () => {
  const subs = [subscriptionId(0), subscriptionId(1)];
  const expected = estate.accounts.filter((a) => subs.some((s) => a.doc.id.includes(s))).map((a) => a.doc.id.toLowerCase()).sort();
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await call('POST', GRAPH, { query: KQL_STORAGE_ACCOUNTS, subscriptions: subs, options: { resultFormat: 'objectArray', $top: 3, ...(token ? { $skipToken: token } : {}) } });
    assert.equal(r.status, 200);
    assert.equal(r.body.resultTruncated, 'false');
    assert.equal(r.body.totalRecords, expected.length);
    for (const row of r.body.data) {
      assert.equal(row.type, 'microsoft.storage/storageaccounts');
      seen.push(row.id.toLowerCase());
    }
    token = r.body.$skipToken;
    pages++;
  } while (token);
  assert.deepEqual(seen, expected);
  assert.equal(pages, Math.ceil(expected.length / 3));
  const tag = estate.vaults[0]!.doc.tags.environment as string;
  const tagged = await call('POST', GRAPH, { query: buildFamilyQuery('keyvault', { environment: tag.toUpperCase() }), options: { resultFormat: 'objectArray' } });
  assert.deepEqual(tagged.body.data.map((d: { name: string }) => d.name), estate.vaults.filter((v) => v.doc.tags.environment === tag).map((v) => v.doc.name));
  const first = await call('POST', GRAPH, { query: KQL_KEY_VAULTS, options: { resultFormat: 'objectArray', $top: 1 } });
  const foreign = await call('POST', GRAPH, { query: KQL_STORAGE_ACCOUNTS, options: { resultFormat: 'objectArray', $top: 1, $skipToken: first.body.$skipToken } });
  assert.equal(foreign.status, 400);
  const tooMany = await call('POST', GRAPH, { query: KQL_SUBSCRIPTIONS, subscriptions: Array.from({ length: 1001 }, (_, i) => subscriptionId(i)), options: { resultFormat: 'objectArray' } });
  assert.equal(tooMany.status, 400);
});

test('Resource Graph sends x-ms-user-quota-remaining / -resets-after and answers 429 once the quota is spent', async () => {
  const fresh = await startFakeAzure({ estate, graphQuota: { limit: 2, windowMs: 60_000 } });
  try {
    const q = () =>
      new Promise<Reply>((resolve, reject) => {
        const req = httpsRequest(`${fresh.url}${GRAPH}`, { method: 'POST', agent: new Agent({ ca: fresh.ca }), headers: { authorization: 'Bearer q', 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: undefined }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ query: KQL_SUBSCRIPTIONS, options: { resultFormat: 'objectArray' } }));
      });
    const a = await q();
    const b = await q();
    const c = await q();
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
    assert.deepEqual([a.headers['x-ms-user-quota-remaining'], b.headers['x-ms-user-quota-remaining'], c.headers['x-ms-user-quota-remaining']], ['1', '0', '0']);
    assert.match(String(c.headers['x-ms-user-quota-resets-after']), /^00:0[01]:\d\d$/);
    assert.ok(Number(c.headers['retry-after']) >= 1);
    assert.equal(fresh.stats.throttled, 1);
  } finally {
    await fresh.close();
  }
});

test('ARM reads answer the collector routes, 404 for what does not exist, 401 without a token, 400 without api-version', async () => {
  const a = estate.accounts.find((x) => !x.managementPolicy)!;
  const policy = await call('GET', `${a.doc.id}/managementPolicies/default?api-version=2025-08-01`);
  assert.equal(policy.status, 404);
  assert.equal(policy.body.error.code, 'ManagementPolicyNotFound');
  const s = estate.servers[0]!;
  const cfg = await call('GET', `${s.doc.id}/configurations/ssl_min_protocol_version?api-version=2025-08-01`);
  assert.equal(cfg.body.properties.value, s.configs.ssl_min_protocol_version);
  assert.equal(cfg.body.id, `${s.doc.id}/configurations/ssl_min_protocol_version`);
  assert.ok(Number(cfg.headers['x-ms-ratelimit-remaining-subscription-reads']) < 250);
  assert.equal((await call('GET', `${s.doc.id}/nothing?api-version=1`)).status, 404);
  assert.equal((await call('GET', `${s.doc.id}?api-version=1`, undefined, {})).status, 401);
  assert.equal((await call('GET', `${s.doc.id}`)).status, 400);
});

test('the Key Vault data plane answers GET key through the real KeyClient after the 401 challenge', async () => {
  const v = estate.vaults.find((x) => x.doc.name === 'kv-ai-00001')!;
  const client = new KeyClient(fa.vaultUrls['kv-ai-00001']!, createReplayCredential(), {
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ position: 'perCall', policy: { name: 'ca', sendRequest: (r, next) => ((r.agent = agent), next(r)) } }],
  });
  const before401 = fa.stats.byStatus['401'] ?? 0;
  const key = await client.getKey(v.keys[0]!.name);
  assert.equal(key.name, v.keys[0]!.name);
  assert.equal(key.keyType, 'RSA');
  assert.equal((fa.stats.byStatus['401'] ?? 0) - before401, 1, 'one challenge, then the token');
  await assert.rejects(client.getKey('no-such-key'), (err: { statusCode?: number }) => err.statusCode === 404);
});

test('the loss check names what is neither a document nor an error', () => {
  const v = estate.vaults[0]!;
  const docs: Array<{ id: string; properties?: Record<string, unknown> }> = [
    { id: v.doc.id as string },
    ...v.keys.map((k) => ({ id: `${v.doc.id}/keys/${k.name}`, properties: k.rotation ? { rotationPolicy: k.rotation } : {} })),
  ];
  const lists = [
    { parentId: v.doc.id, resourceType: 'microsoft.keyvault/vaults/keys' },
    { parentId: v.doc.id, resourceType: 'microsoft.insights/diagnosticsettings' },
  ];
  const one = { ...estate, servers: [], accounts: [], vaults: [v] };
  assert.deepEqual(lostEvidence(one, { documents: docs, errors: [], lists }), []);
  // Drop the diagnostic-settings list record: lost, unless an error names it.
  assert.deepEqual(lostEvidence(one, { documents: docs, errors: [], lists: lists.slice(0, 1) }), [`${v.doc.id} diagnostic settings`]);
  const err = { collector: 'monitor.diagnosticSettings', scope: 's', resourceId: v.doc.id, resourceType: 'microsoft.insights/diagnosticsettings', code: 'HTTP_503', message: 'x' };
  assert.deepEqual(lostEvidence(one, { documents: docs, errors: [err], lists: lists.slice(0, 1) }), []);
  // The vault itself missing, with no Resource Graph error: lost.
  assert.deepEqual(lostEvidence(one, { documents: [], errors: [], lists: [] }), [`${v.doc.id} resource`]);
});
