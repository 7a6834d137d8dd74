import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../support/paths.js';
import { lowerBoundMs } from '../../bench/bench.js';

const run = promisify(execFile);

test('the lower bound is the larger of requests x latency / concurrency and the slowest throttled scope', () => {
  const none = lowerBoundMs(800, 20, 8, new Map([['arm:/subscriptions/a', 200]]));
  assert.equal(none.latencyBoundMs, 2000);
  assert.equal(none.rateBoundMs, 0, 'within a full bucket of 250');
  assert.equal(none.lowerBoundMs, 2000);
  // 300 reads on one subscription: 50 beyond the bucket, at 25/s = 2 s; 20 graph pages: 5 beyond 15, at 3/s.
  const rate = lowerBoundMs(320, 1, 8, new Map([['arm:/subscriptions/a', 300], ['resource-graph', 20]]));
  assert.equal(rate.rateBoundMs, 2000);
  assert.equal(rate.rateScope, 'arm:/subscriptions/a');
  assert.equal(rate.lowerBoundMs, 2000);
});

test('npm run bench prints the numbers and ends with one JSON line: a small estate, nothing lost', async () => {
  const { stdout } = await run(
    process.execPath,
    [join(repoRoot, 'dist', 'bench', 'bench.js'), '--subscriptions', '2', '--storage', '8', '--postgres', '3', '--vaults', '2', '--keys', '2', '--latency-ms', '1', '--no-pdf'],
    { cwd: repoRoot },
  );
  const lines = stdout.trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  for (const k of ['resources', 'calls', 'wallMs', 'lowerBoundMs', 'ratio', 'peakRssMb', 'lostResources', 'pdfMs']) assert.ok(k in last, k);
  assert.equal(last.resources, 13);
  assert.equal(last.lostResources, 0);
  assert.equal(last.documents, last.expectedDocuments);
  assert.equal(last.pdfMs, null);
  assert.match(String(last.note), /--no-pdf/);
  // 8 storage x 3-4, 3 postgres x 3, 2 vaults x (1 + 2 + 1), 4 Resource Graph queries.
  assert.ok((last.calls as number) >= 8 * 3 + 9 + 8 + 4);
  assert.ok((last.checks as number) > 0);
  assert.ok(lines.some((l) => l.startsWith('wall ') && l.includes('lower bound')));
});

test('bench refuses an unknown fault with exit code 2', async () => {
  await assert.rejects(
    run(process.execPath, [join(repoRoot, 'dist', 'bench', 'bench.js'), '--faults', 'fire'], { cwd: repoRoot }),
    (err: { code?: number; stderr?: string }) => err.code === 2 && /--faults takes 429, 5xx and drop/.test(String(err.stderr)),
  );
});

test('npm run bench:scan runs the scan pipeline end to end on a small estate and ends with one JSON line', async () => {
  const { stdout } = await run(process.execPath, [join(repoRoot, 'dist', 'bench', 'scan.js'), '--scale', '0.02', '--formats', 'json,html', '--controls', 'AI-SEC-01,AI-MON-01'], {
    cwd: repoRoot,
  });
  const lines = stdout.trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  assert.equal(last.resources, 40 + 10 + 4);
  assert.ok((last.documents as number) > 54);
  assert.ok((last.results as number) > 54);
  assert.ok((last.resultsJsonMb as number) > 0);
  assert.ok((last.htmlMb as number) > 0);
  assert.equal(last.pdfMb, null, 'no PDF asked for');
  assert.ok([0, 1, 3].includes(last.exitCode as number));
  assert.match(lines[0]!, /controls (AI-SEC-01,AI-MON-01|AI-MON-01,AI-SEC-01);/);
});
