/**
 * The evidence store (src/evidence/store.ts): documents spooled to disk, read back one partition at a time, streamed
 * into the bundle part by part. Every path must give exactly what the in-memory path gives, and hold only one
 * partition (plus the lookup types) of the estate at once, however large the estate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EvidenceStore } from '../../src/evidence/store.js';
import { serializeEvidence, serializeStore } from '../../src/evidence/serialize.js';
import { writeBundle } from '../../src/evidence/bundle.js';
import { verifyBundle } from '../../src/evidence/verify.js';
import { loadSigner } from '../../src/evidence/signing.js';
import { loadSnapshot } from '../../src/evidence/snapshot.js';
import { evaluate, evaluatePartitioned, partitionEvidence, partitionKey, residentTypes } from '../../src/engine/index.js';
import { loadCatalog } from '../../src/controls/index.js';
import { collect, collectToStore, coverageOf, coverageOfStore, createReplayClient, createReplayCredential } from '../../src/collect/index.js';
import type { EvidenceSet, Provenance, Scope } from '../../src/model.js';
import { fixture, repoRoot } from '../support/paths.js';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../support/cli.js';
import { ACCOUNT_KEY, KV, PG, ST } from './support.js';

const NOW = new Date('2026-11-28T00:00:00Z');

function openStore(): { store: EvidenceStore; root: string } {
  const root = tempDir('engram-store-');
  return { store: new EvidenceStore(join(root, '.out.spool')), root };
}

/** Removes a test's store and its temporary root. */
function cleanup(store: EvidenceStore, root: string): void {
  store.dispose();
  rmSync(root, { recursive: true, force: true });
}

function storeOf(evidence: EvidenceSet): { store: EvidenceStore; root: string } {
  const opened = openStore();
  opened.store.putAll(evidence);
  return opened;
}

/** The demo estate copied `times` times under other subscription ids: the same shapes, a larger estate. */
function demoTimes(demo: EvidenceSet, times: number): EvidenceSet {
  const out: EvidenceSet = { documents: [], provenance: [], errors: [], lists: [] };
  for (let i = 0; i < times; i++) {
    const re = (s: string) => s.replace(/\/subscriptions\/([0-9a-f-]{36})/gi, (_m, sub: string) => `/subscriptions/${sub.slice(0, 30)}${String(i).padStart(6, '0')}`);
    const move = <T>(v: T): T => JSON.parse(re(JSON.stringify(v))) as T;
    out.documents.push(...demo.documents.map(move));
    out.provenance.push(...demo.provenance.map(move));
    out.errors.push(...demo.errors.map(move));
    out.lists!.push(...(demo.lists ?? []).map(move));
  }
  return out;
}

test('a partition is one top-level resource with its children, extension resources and probe observations', () => {
  assert.equal(partitionKey(`${ST}/blobServices/default/containers/c1`), partitionKey(ST));
  assert.equal(partitionKey(`${ST}/blobServices/default/providers/Microsoft.Insights/diagnosticSettings/d`), partitionKey(ST));
  assert.equal(partitionKey(`${PG}/probes/tls`), partitionKey(PG));
  assert.equal(partitionKey(`${PG}/configurations/ssl_min_protocol_version`), PG.toLowerCase());
  assert.notEqual(partitionKey(KV), partitionKey(ST));
  assert.equal(partitionKey('attestation://key-management'), 'attestation://key-management');
  assert.equal(partitionKey('/subscriptions/0/'), '/subscriptions/0');
});

test('the store spools documents to disk, replaces a later body of the same id, and reads partitions back in order', () => {
  const { store, root } = openStore();
  try {
    const prov = (id: string): Provenance => ({ documentId: id, source: 'replay', url: `https://management.azure.com${id}` });
    store.put({ id: ST, type: 'Microsoft.Storage/storageAccounts', properties: { v: 1 } }, prov(ST));
    store.put({ id: `${KV}/keys/k1`, type: 'Microsoft.KeyVault/vaults/keys' }, prov(`${KV}/keys/k1`));
    store.put({ id: KV, type: 'Microsoft.KeyVault/vaults' }, prov(KV));
    store.put({ id: ST.toUpperCase(), type: 'Microsoft.Storage/storageAccounts', properties: { v: 2 } }, prov(ST.toUpperCase()));
    assert.equal(store.size, 3, 'one document per id, case-insensitively');
    assert.deepEqual(Object.fromEntries(store.typeCounts()), { 'microsoft.storage/storageaccounts': 1, 'microsoft.keyvault/vaults/keys': 1, 'microsoft.keyvault/vaults': 1 });
    const parts = [...store.partitions()];
    assert.deepEqual(
      parts.map((p) => p.documents.map((d) => d.id)),
      [[KV, `${KV}/keys/k1`], [ST.toUpperCase()]],
      'partitions sorted by top-level id, documents by id, the vault with its key',
    );
    assert.deepEqual(parts[1]!.documents[0]!.properties, { v: 2 }, 'the later body replaced the earlier');
    assert.equal(parts[1]!.provenance[0]!.documentId, ST.toUpperCase());
    assert.equal(store.stats().largestPartition, 2);
    assert.ok(existsSync(join(store.dir, 'spool.jsonl')));
  } finally {
    cleanup(store, root);
  }
  assert.equal(existsSync(store.dir), false, 'dispose removes the spool directory');
  assert.throws(() => store.put({ id: ST }, { documentId: ST, source: 'replay' }), /disposed/);
});

test('no secret reaches the spool: the store redacts what it is given', () => {
  const { store, root } = openStore();
  try {
    store.put({ id: ST, type: 'Microsoft.Storage/storageAccounts', tags: { note: `AccountKey=${ACCOUNT_KEY}` } }, { documentId: ST, source: 'azure' });
    const [part] = [...store.partitions()]; // flushes the spool
    const spool = readFileSync(join(store.dir, 'spool.jsonl'), 'utf8');
    assert.ok(spool.includes('[REDACTED]'));
    assert.equal(spool.includes(ACCOUNT_KEY), false);
    assert.equal(part!.provenance[0]!.redacted, true, 'provenance says the stored document was redacted');
  } finally {
    cleanup(store, root);
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a run ended by ${signal} removes its spool and still ends by that signal`, async () => {
    const root = tempDir('engram-store-');
    const dir = join(root, '.out.spool-test');
    const storeModule = pathToFileURL(join(repoRoot, 'dist', 'src', 'evidence', 'store.js')).href;
    const script = `
      const { EvidenceStore } = await import(${JSON.stringify(storeModule)});
      const store = new EvidenceStore(${JSON.stringify(dir)});
      store.put({ id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a' }, { documentId: 'x', source: 'azure' });
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`;
    try {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolveReady, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolveReady());
        child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
      });
      assert.ok(existsSync(join(dir, 'spool.jsonl')));
      const ended = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
      child.kill(signal);
      assert.equal(await ended, signal, err);
      assert.equal(existsSync(dir), false, 'the spool was removed before the process ended');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('a store refuses a directory that exists, so it never writes into files it does not own', () => {
  const root = tempDir('engram-store-');
  try {
    assert.throws(() => new EvidenceStore(root), /EEXIST/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('streamed evidence files are byte for byte the in-memory ones, and a bundle written from them verifies', async () => {
  const demo = await loadSnapshot(fixture('demo', 'snapshot.json'));
  const { store, root } = storeOf(demo);
  try {
    for (const partSize of [7, 1000]) {
      const dir = join(root, `stream-${partSize}`);
      mkdirSync(dir);
      const streamed = serializeStore(store, dir, { partSize });
      const memory = serializeEvidence(store.toEvidenceSet(), { partSize });
      assert.deepEqual(streamed.index, memory.index);
      assert.deepEqual(streamed.documentIds, memory.documentIds);
      assert.ok(streamed.index.length > (partSize === 7 ? 8 : 3), `${streamed.index.length} files`);
      for (const entry of streamed.index) assert.deepEqual(readFileSync(join(dir, entry.path)), memory.files[entry.path], entry.path);
      assert.deepEqual(readdirSync(join(dir, 'evidence')).sort(), streamed.index.map((e) => e.path.slice('evidence/'.length)).sort());
    }
    // The bundle writer moves the streamed directory in and lists it in SHA256SUMS.
    const signer = await loadSigner();
    const out = join(root, 'bundle');
    const serialized = serializeStore(store, store.dir);
    await writeBundle({ outDir: out, files: { 'results.json': '{}' }, evidence: serialized, signer });
    assert.equal(existsSync(join(store.dir, 'evidence')), false, 'moved, not copied');
    const report = await verifyBundle(out);
    assert.equal(report.ok, true, JSON.stringify(report));
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    for (const e of serialized.index) assert.ok(sums.includes(`${e.sha256}  ${e.path}`), e.path);
  } finally {
    cleanup(store, root);
  }
});

test('partitioned evaluation from the store gives the same results as the whole evidence at once', async () => {
  const catalog = await loadCatalog();
  const demo = await loadSnapshot(fixture('demo', 'snapshot.json'));
  // Collection errors of every kind: a whole type, a parent's children, one resource.
  demo.errors.push(
    { collector: 'keyvault', scope: KV, resourceId: KV, resourceType: 'microsoft.keyvault/vaults/keys', code: 'Forbidden', message: 'no list permission' },
    { collector: 'resource-graph', scope: '/subscriptions/x', resourceType: 'microsoft.insights/metricalerts', code: 'HTTP_429', message: 'throttled' },
    { collector: 'postgres', scope: demo.documents.find((d) => /flexibleservers$/i.test(String(d.type)))!.id, resourceId: demo.documents.find((d) => /flexibleservers$/i.test(String(d.type)))!.id, resourceType: 'microsoft.dbforpostgresql/flexibleservers/configurations', code: 'HTTP_500', message: 'boom' },
  );
  const { store, root } = storeOf(demo);
  try {
    const whole = evaluate(store.toEvidenceSet(), catalog.controls, { now: NOW });
    const streamed = evaluatePartitioned(store, catalog.controls, { now: NOW });
    assert.ok(whole.results.length > 100);
    assert.deepEqual(streamed, whole);
    assert.ok(whole.results.some((r) => r.resourceId === KV && r.status === 'error'), 'the parent error surfaces');
    // The vault a storage account's key lives in is in another partition: the lookup still finds it.
    assert.ok(whole.results.some((r) => r.check === 'storage_key_in_customer_vault' && r.status === 'pass'));
    // And the in-memory partitioner agrees with the store's.
    assert.deepEqual(evaluatePartitioned(partitionEvidence(store.toEvidenceSet()), catalog.controls, { now: NOW }), whole);
  } finally {
    cleanup(store, root);
  }
});

test('memory for evidence stays bounded: four times the estate reads no larger partition and four times the results', async () => {
  const catalog = await loadCatalog();
  const demo = await loadSnapshot(fixture('demo', 'snapshot.json'));
  const resident = residentTypes(catalog.controls);
  assert.deepEqual([...resident].sort(), ['microsoft.insights/metricalerts', 'microsoft.keyvault/vaults']);
  const run = (times: number) => {
    const { store, root } = storeOf(demoTimes(demo, times));
    try {
      const evaluation = evaluatePartitioned(store, catalog.controls, { now: NOW });
      const perResource = evaluation.results.filter((r) => r.resourceId.startsWith('/subscriptions/'));
      return { stats: store.stats(), results: perResource.length, fails: perResource.filter((r) => r.status === 'fail').length };
    } finally {
      cleanup(store, root);
    }
  };
  const one = run(1);
  const four = run(4);
  assert.equal(four.stats.documents, one.stats.documents * 4);
  assert.equal(four.stats.largestPartition, one.stats.largestPartition, 'the largest partition does not grow with the estate');
  assert.ok(one.stats.largestPartition < one.stats.documents / 5, `a partition (${one.stats.largestPartition}) is a small part of the estate (${one.stats.documents})`);
  assert.equal(four.stats.resident, one.stats.resident * 4, 'only the lookup types (vaults, metric alerts) are resident');
  assert.ok(four.stats.resident < four.stats.documents / 5);
  assert.ok(one.results > 100);
  assert.equal(four.results, one.results * 4, 'every copy is evaluated');
  assert.equal(four.fails, one.fails * 4, 'every copy fails the same checks');
});

test('collectToStore spools exactly what collect() returns, and coverage agrees', async () => {
  const scope: Scope = { subscriptions: [], managementGroups: [], tags: {}, source: 'replay', demo: true };
  const replay = fixture('demo', 'replay');
  const now = () => NOW;
  const memory = await collect({ scope, credential: createReplayCredential(), httpClient: createReplayClient(replay), now });
  const { store, root } = openStore();
  try {
    const collected = await collectToStore({ scope, credential: createReplayCredential(), httpClient: createReplayClient(replay), store, now });
    const streamed = store.toEvidenceSet();
    assert.ok(memory.documents.length > 40);
    assert.deepEqual(streamed.documents, memory.documents);
    assert.deepEqual(streamed.provenance, memory.provenance);
    assert.deepEqual(streamed.errors, memory.errors);
    assert.deepEqual(streamed.lists, memory.lists);
    assert.deepEqual(coverageOfStore(collected, store), coverageOf(memory));
  } finally {
    cleanup(store, root);
  }
});
