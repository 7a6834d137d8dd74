import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { collect } from '../../src/collect/index.js';
import { createReplayCredential } from '../../src/collect/replay.js';
import {
  KQL_KEY_VAULTS,
  KQL_POSTGRES_FLEXIBLE_SERVERS,
  KQL_STORAGE_ACCOUNTS,
  KQL_SUBSCRIPTIONS,
  batches,
  buildFamilyQuery,
  kqlString,
} from '../../src/collect/resource-graph.js';
import type { Scope } from '../../src/model.js';

const scope = (over: Partial<Scope> = {}): Scope => ({ subscriptions: [], managementGroups: [], tags: {}, source: 'azure', demo: false, ...over });
const guid = (n: number) => `00000000-0000-0000-0000-${n.toString(16).padStart(12, '0')}`;

test('the KQL constants are exactly what the fake server will accept', () => {
  assert.equal(KQL_STORAGE_ACCOUNTS, "Resources | where type =~ 'microsoft.storage/storageaccounts' | order by id asc");
  assert.equal(KQL_POSTGRES_FLEXIBLE_SERVERS, "Resources | where type =~ 'microsoft.dbforpostgresql/flexibleservers' | order by id asc");
  assert.equal(KQL_KEY_VAULTS, "Resources | where type =~ 'microsoft.keyvault/vaults' | order by id asc");
  assert.equal(buildFamilyQuery('storage'), KQL_STORAGE_ACCOUNTS);
  assert.match(KQL_SUBSCRIPTIONS, /^ResourceContainers /);
});

test('tag values are hostile text: quotes, backslashes and newlines cannot end the KQL literal', () => {
  assert.equal(kqlString("it's"), "'it\\'s'");
  assert.equal(kqlString('a\\b'), "'a\\\\b'");
  assert.equal(kqlString('x\ny'), "'x\\ny'");
  const evil = "prod' | project secret=properties | where '1'=='1";
  const q = buildFamilyQuery('keyvault', { environment: evil, 'cost center': 'a\\' });
  assert.equal(
    q,
    "Resources | where type =~ 'microsoft.keyvault/vaults' | where tags['cost center'] =~ 'a\\\\' | where tags['environment'] =~ 'prod\\' | project secret=properties | where \\'1\\'==\\'1' | order by id asc",
  );
  // Every quote inside a literal is escaped: strip escaped pairs, then the unescaped quotes must pair up into 5 literals.
  const bare = q.replace(/\\\\/g, '').replace(/\\'/g, '');
  assert.equal((bare.match(/'/g) ?? []).length, 10);
});

test('batches split at 1,000', () => {
  const subs = Array.from({ length: 2500 }, (_, i) => guid(i));
  assert.deepEqual(batches(subs).map((b) => b.length), [1000, 1000, 500]);
});

/** A fake Resource Graph that counts requests and answers every query with no rows. */
function countingGraph(): HttpClient & { bodies: Array<{ query: string; subscriptions?: string[] }> } {
  const c = {
    bodies: [] as Array<{ query: string; subscriptions?: string[] }>,
    async sendRequest(request: PipelineRequest) {
      const body = JSON.parse(String(request.body));
      c.bodies.push(body);
      const data = body.query.startsWith('ResourceContainers') ? body.subscriptions.map((s: string) => ({ subscriptionId: s })) : [];
      return {
        request,
        status: 200,
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        bodyAsText: JSON.stringify({ totalRecords: data.length, count: data.length, resultTruncated: 'false', facets: [], data }),
      };
    },
  };
  return c;
}

test('more than 1,000 subscriptions go out in several requests per query, none over 1,000', async () => {
  const subs = Array.from({ length: 2345 }, (_, i) => guid(i + 1));
  const graph = countingGraph();
  const result = await collect({ scope: scope({ subscriptions: subs }), credential: createReplayCredential(), httpClient: graph });
  // 5 queries (subscriptions + 3 families + metric alerts) x 3 batches
  assert.equal(graph.bodies.length, 15);
  assert.ok(graph.bodies.every((b) => (b.subscriptions?.length ?? 0) <= 1000));
  const storageBatches = graph.bodies.filter((b) => b.query === KQL_STORAGE_ACCOUNTS).map((b) => b.subscriptions!.length);
  assert.deepEqual(storageBatches, [1000, 1000, 345]);
  assert.equal(new Set(graph.bodies.filter((b) => b.query === KQL_KEY_VAULTS).flatMap((b) => b.subscriptions!)).size, 2345);
  assert.equal(result.subscriptionsRequested.length, 2345);
  assert.equal(result.subscriptionsReturned.length, 2345);
  assert.deepEqual(result.errors, []);
});

test('a truncated Resource Graph result is never silent', async () => {
  const client: HttpClient = {
    async sendRequest(request) {
      const body = JSON.parse(String(request.body));
      const truncated = body.query === KQL_STORAGE_ACCOUNTS;
      return {
        request,
        status: 200,
        headers: createHttpHeaders({}),
        bodyAsText: JSON.stringify({ totalRecords: 0, count: 0, resultTruncated: truncated ? 'true' : 'false', facets: [], data: [] }),
      };
    },
  };
  const result = await collect({ scope: scope(), credential: createReplayCredential(), httpClient: client });
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]!.code, 'GRAPH_RESULT_TRUNCATED');
  assert.equal(result.errors[0]!.collector, 'resource-graph');
  assert.equal(result.errors[0]!.resourceType, 'microsoft.storage/storageaccounts');
});

test('a management-group scope goes to Resource Graph as managementGroups, without subscriptions', async () => {
  const bodies: Array<Record<string, unknown>> = [];
  const client: HttpClient = {
    async sendRequest(request) {
      bodies.push(JSON.parse(String(request.body)));
      return { request, status: 200, headers: createHttpHeaders({}), bodyAsText: JSON.stringify({ totalRecords: 0, count: 0, resultTruncated: 'false', facets: [], data: [] }) };
    },
  };
  const events: string[] = [];
  const result = await collect({
    scope: scope({ managementGroups: ['mg-ai'] }),
    credential: createReplayCredential(),
    httpClient: client,
    onProgress: (e) => void events.push(e.kind === 'inventory' ? `${e.family}:${e.resources}` : e.kind),
  });
  assert.equal(bodies.length, 5);
  assert.ok(bodies.every((b) => JSON.stringify(b.managementGroups) === '["mg-ai"]' && !('subscriptions' in b)));
  assert.deepEqual(events, ['storage:0', 'postgres:0', 'keyvault:0', 'metricalerts:0', 'done']);
  assert.deepEqual(result.documents, []);
  assert.deepEqual(result.errors, []);
});
