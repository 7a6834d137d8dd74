/**
 * The end-to-end scan benchmark: what `engram-audit scan` does on a large estate, step for step, against the loopback
 * fake Azure. It collects into an evidence spool beside the output (collectToStore), then runs the scan's own pipeline
 * (runPipeline: evaluation, results.json, report.html, the signed PDF, the signed bundle). It prints the bundle's
 * sizes, times and peak RSS; the last stdout line is one JSON object (docs/performance.md).
 *
 *   npm run bench:scan -- --scale 1 --controls all --formats json,html,pdf
 *
 * `bench.ts` measures collection against its lower bound and one control's packet; this one measures a whole scan.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { collectToStore, coverageOfStore, createReplayCredential } from '../src/collect/index.js';
import { loadCatalog, selectControls } from '../src/controls/index.js';
import { loadSigner } from '../src/evidence/index.js';
import { openStoreBeside } from '../src/evidence/store.js';
import { runPipeline } from '../src/cli/pipeline.js';
import { parseFormats } from '../src/reporters/formats.js';
import type { Scope } from '../src/model.js';
import { startFakeAzureChild } from '../test/support/fake-azure/child.js';

const USAGE = `usage: npm run bench:scan -- [--scale N] [--controls all|ID,...] [--formats LIST] [--latency-ms N] [--keep DIR]
--scale N multiplies the default estate (50 subscriptions, 2,000 storage accounts, 500 PostgreSQL servers, 200 vaults
x 10 keys); default 1, controls all, formats json,html,pdf, latency 1 ms. --keep DIR keeps the bundle there.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      scale: { type: 'string', default: '1' },
      controls: { type: 'string', default: 'all' },
      formats: { type: 'string', default: 'json,html,pdf' },
      'latency-ms': { type: 'string', default: '1' },
      keep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const scale = Number(values.scale);
  const latencyMs = Number(values['latency-ms']);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`--scale must be a positive number, got "${values.scale}"\n${USAGE}`);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error(`--latency-ms must be an integer >= 0, got "${values['latency-ms']}"\n${USAGE}`);
  const formats = parseFormats(values.formats!);
  const catalog = await loadCatalog();
  const controls = values.controls === 'all' ? catalog.controls : selectControls(catalog, values.controls!.split(','));
  const estate = {
    subscriptions: Math.round(50 * scale),
    storage: Math.round(2000 * scale),
    postgres: Math.round(500 * scale),
    vaults: Math.round(200 * scale),
    keysPerVault: 10,
    seed: 1,
  };
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`estate: ${JSON.stringify(estate)}; controls ${controls.map((c) => c.id).join(',')}; formats ${formats.join(',')}; latency ${latencyMs} ms`);

  const server = await startFakeAzureChild({ estate, latencyMs, faults: {}, containerPageSize: 2 });
  const root = values.keep ? undefined : mkdtempSync(join(tmpdir(), 'engram-bench-scan-'));
  const outDir = values.keep ?? join(root!, 'bundle');
  const store = openStoreBeside(outDir);
  const scope: Scope = { subscriptions: [], managementGroups: [], tags: {}, source: 'azure', demo: false };
  try {
    const t0 = performance.now();
    const collected = await collectToStore({ scope, credential: createReplayCredential(), endpoints: { arm: server.url }, trustedCa: server.ca, concurrency: 8, graphPageSize: 1000, store });
    await server.close();
    const collectMs = Math.round(performance.now() - t0);
    const peakAfterCollectMb = Math.round(process.resourceUsage().maxRSS / 1024);
    log(`collected ${store.size} documents in ${collectMs} ms; peak RSS ${peakAfterCollectMb} MB`);
    const t1 = performance.now();
    const startedAt = new Date('2026-11-28T00:00:00.000Z');
    const quiet = { stdout: () => undefined, stderr: (s: string) => void process.stderr.write(s), env: {}, isTTY: false, now: () => new Date(), cwd: process.cwd() };
    const outcome = await runPipeline({
      controls,
      evidence: store,
      scope,
      coverage: coverageOfStore(collected, store),
      outDir,
      formats,
      signer: await loadSigner(),
      failOn: 'low',
      startedAt,
      io: quiet,
    });
    const pipelineMs = Math.round(performance.now() - t1);
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    const mb = (file: string): number | null => {
      try {
        return Number((statSync(join(outcome.outDir, file)).size / 2 ** 20).toFixed(1));
      } catch {
        return null;
      }
    };
    const numbers = {
      resources: estate.storage + estate.postgres + estate.vaults,
      documents: store.size,
      results: outcome.results.results.length,
      collectMs,
      pipelineMs,
      peakRssAfterCollectMb: peakAfterCollectMb,
      peakRssMb,
      resultsJsonMb: mb('results.json'),
      htmlMb: mb('report.html'),
      pdfMb: mb('report.pdf'),
      exitCode: outcome.exitCode,
    };
    log(`pipeline (evaluate, results.json, reports, signed bundle): ${pipelineMs} ms; ${numbers.results} results; results.json ${numbers.resultsJsonMb} MB, report.html ${numbers.htmlMb} MB, report.pdf ${numbers.pdfMb} MB`);
    log(`peak RSS: ${peakRssMb} MB (this process; the fake server and Chromium are separate processes)`);
    log(JSON.stringify(numbers));
  } finally {
    store.dispose();
    await server.close().catch(() => undefined);
    if (root) rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  });
}
