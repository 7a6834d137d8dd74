/** mergeParts: the union rules (dedupe by id, conflicts, errors, lists, coverage, scope) on hand-made parts. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InputError, UsageError } from '../../src/errors.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeParts, type LoadedPart, type MergedEvidence } from '../../src/bundle-ops/merge.js';
import { EvidenceStore } from '../../src/evidence/store.js';
import type { VerifyReport } from '../../src/evidence/index.js';
import type { AzureDocument, EvidenceSet, ResultsFile } from '../../src/model.js';
import { emptyCounts } from '../../src/model.js';

const FP = 'a'.repeat(64);
const sa = (sub: string, name: string, extra: Record<string, unknown> = {}): AzureDocument => ({
  id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${name}`,
  type: 'microsoft.storage/storageaccounts',
  name,
  properties: { minimumTlsVersion: 'TLS1_2', ...extra },
});

function part(dir: string, docs: AzureDocument[], opts: { shard?: [number, number]; sub?: string; runId?: string; controls?: string[]; started?: string } = {}): LoadedPart {
  const results: ResultsFile = {
    tool: 'engram-audit',
    version: '0.1.0',
    runId: opts.runId ?? `run-${dir}`,
    startedAt: opts.started ?? '2026-11-28T09:00:00.000Z',
    finishedAt: '2026-11-28T09:01:00.000Z',
    scope: { subscriptions: [], managementGroups: [], tags: {}, source: 'replay', demo: false, ...(opts.shard ? { shard: { index: opts.shard[0], count: opts.shard[1] } } : {}) },
    coverage: { subscriptionsRequested: [], subscriptionsScanned: opts.sub ? [opts.sub] : [], resourcesByType: {}, documents: docs.length, errors: [] },
    controls: (opts.controls ?? ['AI-SEC-01']).map((id) => ({ id, title: id, status: 'pass', counts: emptyCounts(), nistAiRmf: [], sp80053: [] })),
    results: [],
  };
  const verification = { ok: true, trust: 'integrity-only', signature: { fingerprint: FP } } as unknown as VerifyReport;
  return {
    dir: `/parts/${dir}`,
    results,
    evidence: {
      documents: docs,
      provenance: docs.map((d) => ({ documentId: d.id, source: 'replay' as const, url: `https://management.azure.com${d.id}` })),
      errors: [],
      lists: docs.map((d) => ({ collector: 'storage', parentId: d.id, resourceType: 'microsoft.storage/storageaccounts/blobservices', count: 0 })),
    },
    verification,
  };
}

/** mergeParts without a store: the union in memory. */
async function inMemory(parts: LoadedPart[]): Promise<MergedEvidence & { evidence: EvidenceSet }> {
  const m = await mergeParts(parts);
  assert.ok(!(m.evidence instanceof EvidenceStore));
  return m as MergedEvidence & { evidence: EvidenceSet };
}

describe('mergeParts', () => {
  it('unions documents, provenance and list records, sorted, with coverage counted over the union', async () => {
    const m = await inMemory([part('b', [sa('s2', 'beta')], { shard: [2, 2], sub: 's2' }), part('a', [sa('s1', 'alpha')], { shard: [1, 2], sub: 's1', started: '2026-11-28T08:59:00.000Z' })]);
    assert.deepEqual(m.evidence.documents.map((d) => d.name), ['alpha', 'beta']);
    assert.equal(m.evidence.provenance.length, 2);
    assert.equal(m.evidence.lists?.length, 2);
    assert.deepEqual(m.coverage?.subscriptionsScanned, ['s1', 's2']);
    assert.deepEqual(m.coverage?.resourcesByType, { 'microsoft.storage/storageaccounts': 2 });
    assert.equal(m.coverage?.documents, 2);
    assert.deepEqual(m.scope.parts?.map((p) => p.shard?.index), [1, 2]);
    assert.equal(m.startedAt.toISOString(), '2026-11-28T08:59:00.000Z', 'the earliest part start: merging is repeatable');
    assert.deepEqual(m.controlIds, ['AI-SEC-01']);
    assert.deepEqual(m.notes, []);
  });

  it('keeps one copy of a document two parts hold identically (ids compare case-insensitively)', async () => {
    const doc = sa('s1', 'shared');
    const upper = { ...doc, id: doc.id.toUpperCase() };
    const m = await inMemory([part('a', [doc]), part('b', [doc])]);
    assert.equal(m.evidence.documents.length, 1);
    await assert.rejects(() => mergeParts([part('a', [doc]), part('b', [upper])]), (e: unknown) => e instanceof InputError && e.code === 'E_MERGE_CONFLICT');
  });

  it('refuses two different documents with one id, naming the id and both parts', async () => {
    await assert.rejects(
      () => mergeParts([part('a', [sa('s1', 'x')]), part('b', [sa('s1', 'x', { minimumTlsVersion: 'TLS1_0' })])]),
      (e: unknown) => e instanceof InputError && e.code === 'E_MERGE_CONFLICT' && /storageAccounts\/x/.test(e.message) && e.details.file === '/parts/b' && String(e.details.hint).includes('/parts/a'),
    );
  });

  it('records missing shards as scope-level collection errors and notes', async () => {
    const m = await inMemory([part('a', [sa('s1', 'a')], { shard: [1, 3] }), part('c', [sa('s3', 'c')], { shard: [3, 3] })]);
    assert.deepEqual(
      m.evidence.errors.map((e) => [e.collector, e.scope, e.code, e.resourceId, e.resourceType]),
      [['merge', 'shard 2/3', 'SHARD_MISSING', undefined, undefined]],
    );
    assert.deepEqual(m.coverage?.errors, m.evidence.errors);
    assert.match(m.notes[0]!, /shard 2\/3 is missing/);
  });

  it('refuses parts from different runs of the same shape', async () => {
    const usage = (fn: () => Promise<unknown>, re: RegExp) => assert.rejects(fn, (e: unknown) => e instanceof UsageError && re.test(e.message));
    await usage(() => mergeParts([]), /at least one part/);
    await usage(() => mergeParts([part('a', [], { shard: [1, 2] }), part('b', [], { shard: [1, 3] })]), /different shardings/);
    await usage(() => mergeParts([part('a', [], { controls: ['AI-SEC-01'] }), part('b', [], { controls: ['AI-MON-01'] })]), /different controls/);
    await usage(() => mergeParts([part('a', [], { runId: 'same' }), part('b', [], { runId: 'same' })]), /same run/);
    const snap = part('b', []);
    snap.results.scope.source = 'snapshot';
    await usage(() => mergeParts([part('a', []), snap]), /different sources/);
    const tagged = part('b', []);
    tagged.results.scope.tags = { environment: 'prod' };
    await usage(() => mergeParts([part('a', []), tagged]), /different --tag filters/);
  });

  it('keeps the DEMO DATA label when any part carries it', async () => {
    const demo = part('b', []);
    demo.results.scope.demo = true;
    assert.equal((await mergeParts([part('a', []), demo])).scope.demo, true);
  });

  it('into a store gives the union the in-memory merge gives, with the same coverage', async () => {
    const parts = () => [
      part('b', [sa('s2', 'beta'), sa('s2', 'gamma')], { shard: [2, 3], sub: 's2' }),
      part('a', [sa('s1', 'alpha'), sa('s2', 'gamma')], { shard: [1, 3], sub: 's1' }),
    ];
    const memory = await inMemory(parts());
    const root = mkdtempSync(join(tmpdir(), 'engram-merge-'));
    const store = new EvidenceStore(join(root, 'spool'));
    try {
      const streamed = await mergeParts(parts(), store);
      assert.equal(streamed.evidence, store);
      const union = store.toEvidenceSet();
      assert.deepEqual(union.documents, memory.evidence.documents);
      assert.deepEqual(union.errors, memory.evidence.errors);
      assert.deepEqual(union.lists, memory.evidence.lists);
      assert.deepEqual(union.provenance.map((p) => p.documentId), memory.evidence.documents.map((d) => d.id), 'one provenance record per document');
      assert.deepEqual(streamed.coverage, memory.coverage);
      assert.deepEqual(streamed.partDocuments, [2, 2]);
      assert.equal(streamed.documents, 3);
      await assert.rejects(() => mergeParts([part('a', [sa('s1', 'x')]), part('b', [sa('s1', 'x', { minimumTlsVersion: 'TLS1_0' })])], new EvidenceStore(join(root, 'spool2'))), /different documents/);
    } finally {
      store.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
