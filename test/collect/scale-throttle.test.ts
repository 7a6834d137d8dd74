import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpHeaders, createPipelineRequest, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { AZURE_LIMITS, parseQuotaResetsAfter, Throttle, throttleScopeOf, TokenBucket } from '../../src/collect/throttle.js';
import { createSharedHttpClient, DEADLINE_EXCEEDED, withHeadroom, type CallEvent } from '../../src/collect/http.js';

/** A hand-driven millisecond clock. */
function manualClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const SUB_A = '/subscriptions/00000000-0000-0000-0000-00000000000a';
const SUB_B = '/subscriptions/00000000-0000-0000-0000-00000000000b';
const arm = (sub: string, tail = '/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s') =>
  `https://management.azure.com${sub}${tail}?api-version=2025-08-01`;
const GRAPH = 'https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01';

test('a full bucket serves its capacity at once, then paces at the refill rate', () => {
  const c = manualClock();
  const b = new TokenBucket({ capacity: 3, refillPerSecond: 10 }, c.now);
  assert.deepEqual([b.reserve(), b.reserve(), b.reserve()], [0, 0, 0]);
  // The fourth and fifth wait for 1 and 2 refills of 100 ms each: callers queue in order.
  assert.equal(b.reserve(), 100);
  assert.equal(b.reserve(), 200);
  c.advance(1000);
  // 1 s later: 10 tokens refilled minus the 2 owed, capped at capacity 3.
  assert.equal(b.available(), 3);
  assert.deepEqual([b.reserve(), b.reserve(), b.reserve(), b.reserve()], [0, 0, 0, 100]);
});

test('a bucket never refills beyond its capacity however long it idles', () => {
  const c = manualClock();
  const b = new TokenBucket({ capacity: 2, refillPerSecond: 1 }, c.now);
  c.advance(3_600_000);
  assert.equal(b.available(), 2);
  assert.throws(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 }, c.now), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: 0 }, c.now), RangeError);
});

test('a Retry-After pause blocks the scope for others, but not the retry that already waited it out', () => {
  const c = manualClock();
  const b = new TokenBucket({ capacity: 10, refillPerSecond: 10 }, c.now);
  b.pause(2000);
  assert.equal(b.reserve(), 2000);
  assert.equal(b.reserve(true), 0);
  c.advance(2000);
  assert.equal(b.reserve(), 0);
});

test('observed quota headers lower the bucket, and an exhausted quota blocks until it resets', () => {
  const c = manualClock();
  const b = new TokenBucket({ capacity: 15, refillPerSecond: 3 }, c.now);
  b.observe(14);
  assert.ok(b.available() <= 14);
  b.observe(0, 4000);
  // Empty and blocked: the wait is the reset, not the (shorter) refill of one token.
  assert.equal(b.reserve(), 4000);
  // A remaining count above what the bucket believes never raises it.
  const d = new TokenBucket({ capacity: 15, refillPerSecond: 3 }, c.now);
  d.reserve();
  d.observe(100);
  assert.equal(d.available(), 14);
});

test('x-ms-user-quota-resets-after parses as hh:mm:ss', () => {
  assert.equal(parseQuotaResetsAfter('00:00:05'), 5000);
  assert.equal(parseQuotaResetsAfter('01:02:03'), 3_723_000);
  assert.equal(parseQuotaResetsAfter('00:00:00.5'), 500);
  assert.equal(parseQuotaResetsAfter('5 seconds'), undefined);
  assert.equal(parseQuotaResetsAfter(undefined), undefined);
});

test('scopes: Resource Graph per user, ARM per subscription, Key Vault per vault, other calls unpaced', () => {
  assert.deepEqual(throttleScopeOf(GRAPH), { family: 'resourceGraphPerUser', key: 'resource-graph' });
  assert.deepEqual(throttleScopeOf(arm(SUB_A.toUpperCase())), { family: 'armReadsPerSubscription', key: `arm:${SUB_A}` });
  assert.deepEqual(throttleScopeOf('https://kv-ai.vault.azure.net/keys/k?api-version=7.6'), { family: 'keyVaultPerVault', key: 'keyvault:kv-ai.vault.azure.net' });
  assert.deepEqual(throttleScopeOf('https://127.0.0.1:4443/keys/k/v?api-version=7.6'), { family: 'keyVaultPerVault', key: 'keyvault:127.0.0.1:4443' });
  assert.equal(throttleScopeOf('https://management.azure.com/tenants?api-version=2022-01-01'), undefined);
  assert.equal(throttleScopeOf('not a url'), undefined);
});

test('Azure limits: ARM 250 reads refilled at 25/s per subscription, Resource Graph 15 per 5 s, Key Vault 4000 per 10 s', () => {
  assert.deepEqual(AZURE_LIMITS.armReadsPerSubscription, { capacity: 250, refillPerSecond: 25 });
  assert.deepEqual(AZURE_LIMITS.resourceGraphPerUser, { capacity: 15, refillPerSecond: 3 });
  assert.deepEqual(AZURE_LIMITS.keyVaultPerVault, { capacity: 4000, refillPerSecond: 400 });
});

test('one subscription out of tokens waits, another subscription does not', () => {
  const c = manualClock();
  const t = new Throttle({ armReadsPerSubscription: { capacity: 2, refillPerSecond: 4 }, resourceGraphPerUser: false, keyVaultPerVault: false }, c.now);
  assert.deepEqual([t.reserve(arm(SUB_A)), t.reserve(arm(SUB_A)), t.reserve(arm(SUB_A))], [0, 0, 250]);
  assert.equal(t.reserve(arm(SUB_B)), 0);
  // Resource Graph is off in these limits: never paced.
  assert.equal(t.reserve(GRAPH), 0);
  assert.deepEqual(t.scopes(), [`arm:${SUB_A}`, `arm:${SUB_B}`]);
});

test('the shared client sleeps what the bucket says before sending, and reports it per call', async () => {
  const c = manualClock();
  const sleeps: number[] = [];
  const calls: CallEvent[] = [];
  const inner: HttpClient = {
    async sendRequest(r: PipelineRequest) {
      return { request: r, status: 200, headers: createHttpHeaders({}), bodyAsText: '{}' };
    },
  };
  const client = createSharedHttpClient(inner, {
    clock: c.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      c.advance(ms);
    },
    throttle: new Throttle({ armReadsPerSubscription: { capacity: 2, refillPerSecond: 10 }, resourceGraphPerUser: false, keyVaultPerVault: false }, c.now),
    onCall: (e) => void calls.push(e),
  });
  for (let i = 0; i < 4; i++) await client.sendRequest(createPipelineRequest({ url: arm(SUB_A), method: 'GET' }));
  assert.deepEqual(sleeps, [100, 100]);
  assert.deepEqual(calls.map((e) => [e.status, e.attempts, e.throttledMs]), [[200, 1, 0], [200, 1, 0], [200, 1, 100], [200, 1, 100]]);
});

test('Resource Graph quota headers pace the next query until the window resets', async () => {
  const c = manualClock();
  const sleeps: number[] = [];
  let n = 0;
  const inner: HttpClient = {
    async sendRequest(r: PipelineRequest) {
      // The service's count after each query: one left, then none until 3 s from now, then a fresh window.
      const remaining = ['1', '0', '14'][n++]!;
      return { request: r, status: 200, headers: createHttpHeaders({ 'x-ms-user-quota-remaining': remaining, 'x-ms-user-quota-resets-after': '00:00:03' }), bodyAsText: '{}' };
    },
  };
  const client = createSharedHttpClient(inner, {
    clock: c.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      c.advance(ms);
    },
  });
  const post = () => client.sendRequest(createPipelineRequest({ url: GRAPH, method: 'POST' }));
  await post(); // remaining 1
  await post(); // remaining 0, resets in 3 s
  assert.deepEqual(sleeps, []);
  await post();
  assert.deepEqual(sleeps, [3000]);
});

test('after the deadline no request is sent: it fails with DEADLINE_EXCEEDED, and a wait that would cross it fails now', async () => {
  const c = manualClock();
  let sent = 0;
  const inner: HttpClient = {
    async sendRequest(r: PipelineRequest) {
      sent++;
      c.advance(400);
      return { request: r, status: 503, headers: createHttpHeaders({ 'retry-after': '1' }), bodyAsText: '{}' };
    },
  };
  const calls: CallEvent[] = [];
  const client = createSharedHttpClient(inner, {
    clock: c.now,
    deadlineMs: 1000,
    sleep: async (ms) => c.advance(ms),
    random: () => 0,
    onCall: (e) => void calls.push(e),
  });
  // First attempt at t=0 answers 503 at t=400; the 1 s Retry-After would end at 1400 > 1000: fail now, no second send.
  await assert.rejects(client.sendRequest(createPipelineRequest({ url: arm(SUB_A), method: 'GET' })), (err: { code?: string }) => err.code === DEADLINE_EXCEEDED);
  assert.equal(sent, 1);
  c.advance(1000);
  await assert.rejects(client.sendRequest(createPipelineRequest({ url: arm(SUB_A), method: 'GET' })), (err: { code?: string }) => err.code === DEADLINE_EXCEEDED);
  assert.equal(sent, 1);
  assert.deepEqual(calls.map((e) => e.status), [0, 0]);
  client.dispose();
});

test('limits given as numbers keep one token per request in flight in reserve', () => {
  const h = withHeadroom(AZURE_LIMITS, 8);
  assert.deepEqual(h.armReadsPerSubscription, { capacity: 242, refillPerSecond: 25 });
  assert.deepEqual(h.resourceGraphPerUser, { capacity: 7, refillPerSecond: 3 });
  assert.deepEqual(withHeadroom({ ...AZURE_LIMITS, keyVaultPerVault: false }, 500).armReadsPerSubscription, { capacity: 1, refillPerSecond: 25 });
  assert.equal(withHeadroom({ ...AZURE_LIMITS, keyVaultPerVault: false }, 8).keyVaultPerVault, false);
});
