import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, createReplayCredential, DEADLINE_EXCEEDED, type CallEvent, type CollectOptions, type ProgressEvent } from '../../src/collect/index.js';
import type { Scope } from '../../src/model.js';
import { estateCounts, generateEstate, lostEvidence, type EstateOptions } from '../support/fake-azure/estate.js';
import { startFakeAzure, type FakeAzure, type FakeAzureOptions } from '../support/fake-azure/server.js';

const scope: Scope = { subscriptions: [], managementGroups: [], tags: {}, source: 'azure', demo: false };
const SIZE: EstateOptions = { subscriptions: 3, storage: 16, postgres: 6, vaults: 4, keysPerVault: 3, seed: 5 };
/** Back-off and Retry-After waits cut to 2 ms so fault tests stay fast; the waits asked for are still honoured in order. */
const quickSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 2)));

/** Starts a fake Azure for `estate`, runs `fn`, always closes it. */
async function withFake<T>(options: FakeAzureOptions, fn: (fa: FakeAzure) => Promise<T>): Promise<T> {
  const fa = await startFakeAzure(options);
  try {
    return await fn(fa);
  } finally {
    await fa.close();
  }
}

const run = (fa: FakeAzure, over: Partial<CollectOptions> = {}) =>
  collect({ scope, credential: createReplayCredential(), endpoints: { arm: fa.url }, trustedCa: fa.ca, now: () => new Date('2026-11-01T00:00:00Z'), ...over });

test('collect() over real HTTPS with the real SDK clients returns the whole synthetic estate, paged', async () => {
  const estate = generateEstate(SIZE);
  await withFake({ estate, latencyMs: 2, containerPageSize: 2 }, async (fa) => {
    const calls: CallEvent[] = [];
    const r = await run(fa, { graphPageSize: 4, onCall: (e) => void calls.push(e) });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(lostEvidence(estate, r), []);
    assert.equal(r.documents.length, estateCounts(estate).expectedDocuments);
    assert.deepEqual(r.subscriptionsReturned, estate.subscriptions.map((s) => s.subscriptionId));
    // Resource Graph: 16 accounts in pages of 4, plus subscriptions, postgres, vault and metric alert queries.
    assert.equal(fa.stats.byRoute.graph, 1 + 4 + 2 + 1 + 1);
    // Containers beyond 2 came through a nextLink page on the loopback host.
    const threePlus = estate.accounts.filter((a) => a.containers.length > 2).length;
    assert.ok(threePlus > 0);
    assert.equal(fa.stats.byRoute['storage.containers'], estate.accounts.length + threePlus);
    // Every request went to the loopback endpoint, over HTTPS, and provenance names it with its api-version.
    assert.ok(calls.length === fa.stats.requests && calls.every((c) => c.url.startsWith(`${fa.url}/`)));
    const p = r.provenance.find((x) => x.documentId.endsWith('/configurations/ssl_min_protocol_version'))!;
    assert.match(p.url!, /^https:\/\/127\.0\.0\.1:\d+\/subscriptions\/.+api-version=2025-08-01/);
    assert.equal(p.source, 'azure');
    // Wire bodies, not SDK models: the storage account keeps networkAcls and the key its rotationPolicy.
    const acct = r.documents.find((d) => d.id === estate.accounts[0]!.doc.id)!;
    assert.ok('networkAcls' in (acct.properties as object));
  });
});

test('Resource Graph quota headers and ARM per-subscription buckets are honoured: the server never has to throttle', async () => {
  const estate = generateEstate({ ...SIZE, subscriptions: 1 });
  const arm = { capacity: 10, refillPerSecond: 200 };
  await withFake({ estate, latencyMs: 1, graphQuota: { limit: 3, windowMs: 1000 }, armThrottle: arm }, async (fa) => {
    const calls: CallEvent[] = [];
    const r = await run(fa, {
      graphPageSize: 4,
      throttle: { armReadsPerSubscription: arm, resourceGraphPerUser: { capacity: 15, refillPerSecond: 3 }, keyVaultPerVault: false },
      onCall: (e) => void calls.push(e),
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(lostEvidence(estate, r), []);
    // 1 + 4 + 2 + 1 + 1 = 9 graph pages against a quota of 3 per window: the client waited for the reset instead of a 429.
    assert.equal(fa.stats.byRoute.graph, 9);
    assert.equal(fa.stats.throttled, 0);
    assert.ok(calls.filter((c) => c.url.includes('Microsoft.ResourceGraph')).some((c) => c.throttledMs > 0));
    assert.ok(calls.filter((c) => c.url.includes('/subscriptions/')).some((c) => c.throttledMs > 0), 'the ARM bucket paced some reads');
  });
});

for (const [name, faults] of [
  ['a 429 storm with Retry-After', { storm429: { every: 20, length: 12, retryAfterMs: 5 } }],
  ['5 % 5xx', { rate5xx: 0.05 }],
  ['dropped connections (socket destroyed mid-body)', { rateDrop: 0.05 }],
] as const) {
  test(`${name} loses no resource: each piece of evidence ends as a document or a CollectionError`, async () => {
    const estate = generateEstate(SIZE);
    await withFake({ estate, latencyMs: 1, containerPageSize: 2, faults }, async (fa) => {
      const r = await run(fa, { sleep: quickSleep, graphPageSize: 5 });
      assert.deepEqual(lostEvidence(estate, r), []);
      const injected = fa.stats.injected429 + fa.stats.injected5xx + fa.stats.drops;
      assert.ok(injected > 0, 'faults were injected');
      // Retries absorbed them: whatever is not a document is a named error, never silence.
      for (const e of r.errors) assert.ok(e.resourceId || e.collector === 'resource-graph');
      assert.ok(r.documents.length + r.errors.length >= estateCounts(estate).resources);
    });
  });
}

test('when retries run out, every resource still ends as a document or an error (fail closed)', async () => {
  const estate = generateEstate(SIZE);
  await withFake({ estate, faults: { rate5xx: 0.35, rateDrop: 0.1, seed: 3 } }, async (fa) => {
    const r = await run(fa, { sleep: quickSleep, maxRetries: 0, graphPageSize: 1000 });
    assert.ok(r.errors.length > 0);
    assert.ok(r.errors.some((e) => e.code === 'HTTP_503' || e.code === 'ServiceUnavailable'));
    assert.deepEqual(lostEvidence(estate, r), []);
  });
});

test('the deadline turns unfinished work into DEADLINE_EXCEEDED errors, and every task still reports', async () => {
  const estate = generateEstate(SIZE);
  await withFake({ estate }, async (fa) => {
    const events: ProgressEvent[] = [];
    // A clock that jumps past the deadline once the server has answered 25 requests.
    const r = await run(fa, {
      deadlineMs: 60_000,
      clock: () => (fa.stats.requests >= 25 ? 1e12 : 0),
      onProgress: (e) => void events.push(e),
    });
    assert.ok(r.documents.length > 0, 'work done before the deadline is kept');
    assert.ok(r.errors.length > 0);
    assert.ok(r.errors.every((e) => e.code === DEADLINE_EXCEEDED), JSON.stringify(r.errors.find((e) => e.code !== DEADLINE_EXCEEDED)));
    assert.match(r.errors[0]!.message, /deadline of 60000 ms/);
    assert.deepEqual(lostEvidence(estate, r), []);
    // Per account: its children and its blob service's diagnostic settings; per server: its children and its diagnostic
    // settings; per vault: its keys and its diagnostic settings.
    const tasks = 2 * estate.accounts.length + 2 * estate.servers.length + 2 * estate.vaults.length;
    assert.equal(events.filter((e) => e.kind === 'resource').length, tasks);
    assert.ok(fa.stats.requests < 40, 'nothing is sent after the deadline');
  });
});

test('a deadline shorter than one response aborts the requests in flight and still loses nothing', async () => {
  const estate = generateEstate({ ...SIZE, storage: 4, postgres: 2, vaults: 1 });
  await withFake({ estate, latencyMs: 400 }, async (fa) => {
    const r = await run(fa, { deadlineMs: 40 });
    assert.equal(r.documents.length, 0);
    assert.ok(r.errors.length >= 1 && r.errors.every((e) => e.code === DEADLINE_EXCEEDED));
    // The inventory itself failed: the families are named by resource-graph errors, so nothing vanished silently.
    assert.ok(r.errors.some((e) => e.collector === 'resource-graph'));
    assert.deepEqual(lostEvidence(estate, r), []);
  });
});
