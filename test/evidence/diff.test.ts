/** diffRuns on hand-made results: keys, worst status per key, scope results, removal vs fix, probe timing. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { diffRuns, diffViewModel, documentDigest, formatDiffText, newFailuresAtOrAbove, type DiffSide } from '../../src/bundle-ops/diff.js';
import type { AzureDocument, Result, ResultsFile, Status } from '../../src/model.js';
import { emptyCounts } from '../../src/model.js';
import { renderHtml } from '../../src/reporters/html.js';

const R = (resource: string, check: string, status: Status, extra: Partial<Result> = {}): Result => ({
  control: 'AI-SEC-01',
  check,
  checkTitle: check,
  resourceId: `/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/${resource}`,
  resourceType: 'microsoft.storage/storageaccounts',
  resourceName: resource,
  status,
  severity: 'high',
  message: `${resource} ${check} ${status}`,
  expected: '',
  actual: '',
  evidence: [],
  ...extra,
});

function side(results: Result[], documents?: AzureDocument[]): DiffSide {
  const file: ResultsFile = {
    tool: 'engram-audit',
    version: '0.1.0',
    runId: `run-${results.length}`,
    startedAt: '2026-11-28T09:00:00.000Z',
    finishedAt: '2026-11-28T09:00:01.000Z',
    scope: { subscriptions: [], managementGroups: [], tags: {}, source: 'snapshot', demo: false },
    coverage: { subscriptionsRequested: [], subscriptionsScanned: [], resourcesByType: {}, documents: 0, errors: [] },
    controls: [{ id: 'AI-SEC-01', title: 't', status: 'fail', counts: emptyCounts(), nistAiRmf: [], sp80053: [] }],
    results,
  };
  return { path: 'x', results: file, verification: 'verified', ...(documents ? { evidence: { documents, provenance: [], errors: [] } } : {}) };
}

describe('diffRuns', () => {
  it('matches results by control, check and case-insensitive resource id', () => {
    const a = side([R('acct', 'tls', 'fail')]);
    const b = side([R('acct', 'tls', 'pass', { resourceId: R('acct', 'tls', 'pass').resourceId.toUpperCase() })]);
    const d = diffRuns(a, b);
    assert.equal(d.fixed.length, 1);
    assert.deepEqual([d.newResources, d.removedResources], [[], []]);
  });

  it('a failing resource that disappears is removed, not fixed', () => {
    const d = diffRuns(side([R('gone', 'tls', 'fail'), R('kept', 'tls', 'pass')]), side([R('kept', 'tls', 'pass')]));
    assert.deepEqual(d.fixed, []);
    assert.deepEqual(d.removedResources.map((r) => [r.resourceName, r.status]), [['gone', 'fail']]);
  });

  it('uses the worst status when several results share a key, and never counts scope results as resources', () => {
    const scope = (status: Status, message: string) => R('x', 'collection_incomplete', status, { resourceId: '/subscriptions/s', resourceName: '/subscriptions/s', resourceType: '(scope)', message });
    const d = diffRuns(side([R('a', 'tls', 'pass')]), side([R('a', 'tls', 'pass'), R('a', 'tls', 'fail'), scope('error', 'one'), scope('error', 'two')]));
    assert.deepEqual(d.newFailures.map((r) => [r.resourceName, r.oldStatus]), [['a', 'pass']]);
    assert.deepEqual(d.newResources, []);
  });

  it('orders new failures by severity and filters them by --fail-on', () => {
    const d = diffRuns(side([]), side([R('b', 'x', 'fail', { severity: 'low' }), R('a', 'y', 'fail', { severity: 'critical' })]));
    assert.deepEqual(d.newFailures.map((r) => r.severity), ['critical', 'low']);
    assert.equal(newFailuresAtOrAbove(d, 'high').length, 1);
    assert.equal(newFailuresAtOrAbove(d, 'info').length, 2);
  });

  it('ignores a probe observation\'s timing, not its findings', () => {
    const probe = (startedAt: string, status: string): AzureDocument => ({ id: '/subscriptions/s/x/probes/tls', type: 'engram.probe/tls', properties: { status, startedAt, durationMs: 12, observed: { v: 'TLSv1.2' } } });
    assert.equal(documentDigest(probe('2026-11-27T00:00:00Z', 'ok')), documentDigest(probe('2026-11-28T00:00:00Z', 'ok')));
    assert.notEqual(documentDigest(probe('2026-11-27T00:00:00Z', 'ok')), documentDigest(probe('2026-11-27T00:00:00Z', 'failed')));
    const d = diffRuns(side([], [probe('2026-11-27T00:00:00Z', 'ok')]), side([], [probe('2026-11-28T00:00:00Z', 'ok')]));
    assert.deepEqual(d.evidence.changed, []);
  });

  it('keeps hostile resource names out of the terminal and escaped in the packet', () => {
    const evil = 'x\u001b[31m<script>alert(1)</script>';
    const d = diffRuns(side([]), side([R(evil, 'tls', 'fail', { resourceName: evil })]));
    const text = formatDiffText(d);
    assert.ok(!text.includes('\u001b'));
    const html = renderHtml(side([R(evil, 'tls', 'fail', { resourceName: evil })]).results, { diff: diffViewModel(d) });
    assert.ok(!html.includes('<script>alert(1)</script>'));
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  it('leaves the packet unchanged when no diff is given', () => {
    const s = side([R('a', 'tls', 'fail')]).results;
    assert.ok(!renderHtml(s).includes('id="changes"'));
  });
});
