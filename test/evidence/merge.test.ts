/** mergeParts: the union rules (dedupe by id, conflicts, errors, lists, coverage, scope) on hand-made parts. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InputError, UsageError } from '../../src/errors.js';
import { mergeParts, type LoadedPart } from '../../src/bundle-ops/merge.js';
import type { VerifyReport } from '../../src/evidence/index.js';
import type { AzureDocument, ResultsFile } from '../../src/model.js';
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

describe('mergeParts', () => {
  it('unions documents, provenance and list records, sorted, with coverage counted over the union', () => {
    const m = mergeParts([part('b', [sa('s2', 'beta')], { shard: [2, 2], sub: 's2' }), part('a', [sa('s1', 'alpha')], { shard: [1, 2], sub: 's1', started: '2026-11-28T08:59:00.000Z' })]);
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

  it('keeps one copy of a document two parts hold identically (ids compare case-insensitively)', () => {
    const doc = sa('s1', 'shared');
    const upper = { ...doc, id: doc.id.toUpperCase() };
    const m = mergeParts([part('a', [doc]), part('b', [doc])]);
    assert.equal(m.evidence.documents.length, 1);
    assert.throws(() => mergeParts([part('a', [doc]), part('b', [upper])]), (e: unknown) => e instanceof InputError && e.code === 'E_MERGE_CONFLICT');
  });

  it('refuses two different documents with one id, naming the id and both parts', () => {
    assert.throws(
      () => mergeParts([part('a', [sa('s1', 'x')]), part('b', [sa('s1', 'x', { minimumTlsVersion: 'TLS1_0' })])]),
      (e: unknown) => e instanceof InputError && e.code === 'E_MERGE_CONFLICT' && /storageAccounts\/x/.test(e.message) && e.details.file === '/parts/b' && String(e.details.hint).includes('/parts/a'),
    );
  });

  it('records missing shards as scope-level collection errors and notes', () => {
    const m = mergeParts([part('a', [sa('s1', 'a')], { shard: [1, 3] }), part('c', [sa('s3', 'c')], { shard: [3, 3] })]);
    assert.deepEqual(
      m.evidence.errors.map((e) => [e.collector, e.scope, e.code, e.resourceId, e.resourceType]),
      [['merge', 'shard 2/3', 'SHARD_MISSING', undefined, undefined]],
    );
    assert.deepEqual(m.coverage?.errors, m.evidence.errors);
    assert.match(m.notes[0]!, /shard 2\/3 is missing/);
  });

  it('refuses parts from different runs of the same shape', () => {
    const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message));
    usage(() => mergeParts([]), /at least one part/);
    usage(() => mergeParts([part('a', [], { shard: [1, 2] }), part('b', [], { shard: [1, 3] })]), /different shardings/);
    usage(() => mergeParts([part('a', [], { controls: ['AI-SEC-01'] }), part('b', [], { controls: ['AI-MON-01'] })]), /different controls/);
    usage(() => mergeParts([part('a', [], { runId: 'same' }), part('b', [], { runId: 'same' })]), /same run/);
    const snap = part('b', []);
    snap.results.scope.source = 'snapshot';
    usage(() => mergeParts([part('a', []), snap]), /different sources/);
    const tagged = part('b', []);
    tagged.results.scope.tags = { environment: 'prod' };
    usage(() => mergeParts([part('a', []), tagged]), /different --tag filters/);
  });

  it('keeps the DEMO DATA label when any part carries it', () => {
    const demo = part('b', []);
    demo.results.scope.demo = true;
    assert.equal(mergeParts([part('a', []), demo]).scope.demo, true);
  });
});
