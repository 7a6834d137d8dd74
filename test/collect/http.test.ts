import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpHeaders, createPipelineRequest, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { createSharedHttpClient, retryAfterMs, withCapture } from '../../src/collect/http.js';
import { sha256Hex } from '../../src/util/hash.js';

const req = (url = 'https://management.azure.com/subscriptions/x?api-version=1'): PipelineRequest => createPipelineRequest({ url, method: 'GET' });
const res = (request: PipelineRequest, status: number, headers: Record<string, string> = {}, body = '{}'): PipelineResponse => ({
  request,
  status,
  headers: createHttpHeaders(headers),
  bodyAsText: body,
});

/** An inner client answering from a script of statuses, counting calls. */
function scripted(script: Array<[number, Record<string, string>?]>): HttpClient & { calls: number } {
  const c = {
    calls: 0,
    async sendRequest(r: PipelineRequest) {
      const [status, headers] = script[Math.min(c.calls, script.length - 1)]!;
      c.calls++;
      return res(r, status, headers ?? {}, JSON.stringify({ status }));
    },
  };
  return c;
}

test('retryAfterMs reads seconds, an HTTP date and x-ms-retry-after-ms', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs(createHttpHeaders({ 'retry-after': '7' }), now), 7000);
  assert.equal(retryAfterMs(createHttpHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now), 30000);
  assert.equal(retryAfterMs(createHttpHeaders({ 'x-ms-retry-after-ms': '1500', 'retry-after': '9' }), now), 1500);
  assert.equal(retryAfterMs(createHttpHeaders({}), now), undefined);
  assert.equal(retryAfterMs(createHttpHeaders({ 'retry-after': 'soon' }), now), undefined);
});

test('a 429 with Retry-After waits what the service asked, then succeeds', async () => {
  const sleeps: number[] = [];
  const inner = scripted([[429, { 'retry-after': '2' }], [429, { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }], [200]]);
  const client = createSharedHttpClient(inner, {
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  const r = await client.sendRequest(req());
  assert.equal(r.status, 200);
  assert.equal(inner.calls, 3);
  assert.deepEqual(sleeps, [2000, 5000]);
});

test('a 503 without Retry-After backs off exponentially with jitter, then succeeds', async () => {
  const sleeps: number[] = [];
  const inner = scripted([[503], [503], [200]]);
  const client = createSharedHttpClient(inner, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5, baseDelayMs: 100 });
  assert.equal((await client.sendRequest(req())).status, 200);
  // attempt 0: 100/2 + 0.5*50 = 75; attempt 1: 200/2 + 0.5*100 = 150
  assert.deepEqual(sleeps, [75, 150]);
});

test('gives up after maxRetries and hands the last response to the SDK', async () => {
  const sleeps: number[] = [];
  const inner = scripted([[503]]);
  const client = createSharedHttpClient(inner, { maxRetries: 3, sleep: async (ms) => void sleeps.push(ms), random: () => 0 });
  const r = await client.sendRequest(req());
  assert.equal(r.status, 503);
  assert.equal(inner.calls, 4);
  assert.equal(sleeps.length, 3);
});

test('a 4xx other than 429 is not retried', async () => {
  const inner = scripted([[403], [200]]);
  const client = createSharedHttpClient(inner, { sleep: async () => {} });
  assert.equal((await client.sendRequest(req())).status, 403);
  assert.equal(inner.calls, 1);
});

test('the concurrency cap holds across many concurrent requests', async () => {
  let inFlight = 0;
  let peak = 0;
  const waiters: Array<() => void> = [];
  const inner: HttpClient = {
    async sendRequest(r) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => waiters.push(resolve));
      inFlight--;
      return res(r, 200);
    },
  };
  const client = createSharedHttpClient(inner, { concurrency: 3 });
  const all = Promise.all(Array.from({ length: 20 }, (_, i) => client.sendRequest(req(`https://management.azure.com/r${i}`))));
  // Release requests one at a time until every one has finished.
  let released = 0;
  while (released < 20) {
    await new Promise((r) => setImmediate(r));
    const w = waiters.shift();
    if (w) {
      assert.ok(inFlight <= 3, `in flight ${inFlight}`);
      w();
      released++;
    }
  }
  const results = await all;
  assert.equal(results.length, 20);
  assert.equal(peak, 3);
});

test('capture records method, URL, status, request id, time and the exact body', async () => {
  const body = '{"id":"/subscriptions/x","name":"x"}';
  const inner: HttpClient = { sendRequest: async (r) => res(r, 200, { 'x-ms-request-id': 'abc-123' }, body) };
  const client = createSharedHttpClient(inner, { now: () => new Date('2026-02-03T04:05:06Z') });
  const { responses } = await withCapture(() => client.sendRequest(req()));
  assert.equal(responses.length, 1);
  const c = responses[0]!;
  assert.equal(c.method, 'GET');
  assert.equal(c.url, 'https://management.azure.com/subscriptions/x?api-version=1');
  assert.equal(c.status, 200);
  assert.equal(c.requestId, 'abc-123');
  assert.equal(c.time, '2026-02-03T04:05:06.000Z');
  assert.equal(sha256Hex(c.bodyText), sha256Hex(body));
  // Outside a capture nothing is recorded and nothing breaks.
  assert.equal((await client.sendRequest(req())).status, 200);
});
