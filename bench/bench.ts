/**
 * The scale benchmark: generates a synthetic estate, serves it from the loopback fake Azure (a child process, so its
 * CPU and memory stay out of the measurement), runs a full collect() through the real SDK clients over HTTPS, then
 * evaluate() and the HTML -> PDF packet, and prints the numbers against the lower bound.
 * The last stdout line is one JSON object (see docs/performance.md).
 *
 *   npm run bench -- --subscriptions 50 --storage 2000 --postgres 500 --vaults 200 --keys 10 --latency-ms 20
 */
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AZURE_LIMITS, collectToStore, createReplayCredential, coverageOfStore, throttleScopeOf, type CallEvent, type CollectedScope } from '../src/collect/index.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCatalog, selectControls } from '../src/controls/index.js';
import { evaluatePartitioned } from '../src/engine/index.js';
import { EvidenceStore, serializeStore, type StoreStats } from '../src/evidence/index.js';
import type { ResultsFile, Scope } from '../src/model.js';
import { renderHtml } from '../src/reporters/html.js';
import { printDetail, printFindingDetail } from '../src/reporters/view-model.js';
import { renderPdf } from '../src/reporters/pdf.js';
import { estateCounts, generateEstate, lostEvidence, type EstateOptions } from '../test/support/fake-azure/estate.js';
import { startFakeAzureChild } from '../test/support/fake-azure/child.js';
import type { FakeAzureFaults } from '../test/support/fake-azure/server.js';

const USAGE = `usage: npm run bench -- [--subscriptions N] [--storage N] [--postgres N] [--vaults N] [--keys N]
                      [--latency-ms N] [--concurrency N] [--faults 429,5xx,drop] [--seed N] [--no-pdf]
defaults: 50 subscriptions, 2000 storage accounts, 500 PostgreSQL servers, 200 vaults x 10 keys, 20 ms, concurrency 8`;

interface BenchArgs extends Required<EstateOptions> {
  latencyMs: number;
  concurrency: number;
  faults: string[];
  pdf: boolean;
}

function parse(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      subscriptions: { type: 'string', default: '50' },
      storage: { type: 'string', default: '2000' },
      postgres: { type: 'string', default: '500' },
      vaults: { type: 'string', default: '200' },
      keys: { type: 'string', default: '10' },
      'latency-ms': { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '8' },
      faults: { type: 'string', default: '' },
      seed: { type: 'string', default: '1' },
      'no-pdf': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exitCode = 0;
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"\n${USAGE}`);
    return n;
  };
  const faults = values.faults ? values.faults.split(',').map((f) => f.trim().toLowerCase()) : [];
  for (const f of faults) if (!['429', '5xx', 'drop'].includes(f)) throw new Error(`--faults takes 429, 5xx and drop, got "${f}"\n${USAGE}`);
  return {
    subscriptions: int('subscriptions', values.subscriptions!, 1),
    storage: int('storage', values.storage!, 0),
    postgres: int('postgres', values.postgres!, 0),
    vaults: int('vaults', values.vaults!, 0),
    keysPerVault: int('keys', values.keys!, 0),
    latencyMs: int('latency-ms', values['latency-ms']!, 0),
    concurrency: int('concurrency', values.concurrency!, 1),
    seed: int('seed', values.seed!, 0),
    faults,
    pdf: !values['no-pdf'],
  };
}

/** The family a request URL belongs to, for "calls per resource by type". */
function family(url: string): string {
  const p = decodeURIComponent(new URL(url).pathname).toLowerCase();
  if (p.endsWith('/providers/microsoft.resourcegraph/resources')) return 'resource-graph';
  if (p.includes('/microsoft.insights/diagnosticsettings')) return 'keyvault';
  if (p.includes('/microsoft.dbforpostgresql/')) return 'postgres';
  if (p.includes('/microsoft.storage/')) return 'storage';
  if (p.includes('/microsoft.keyvault/')) return 'keyvault';
  return 'other';
}

/** Lower bound of a scan: the larger of requests x latency / concurrency and the slowest throttled scope's drain time. */
export function lowerBoundMs(requests: number, latencyMs: number, concurrency: number, perScope: Map<string, number>): {
  latencyBoundMs: number;
  rateBoundMs: number;
  rateScope: string | undefined;
  lowerBoundMs: number;
} {
  const latencyBoundMs = (requests * latencyMs) / concurrency;
  let rateBoundMs = 0;
  let rateScope: string | undefined;
  for (const [key, n] of perScope) {
    const limit = key === 'resource-graph' ? AZURE_LIMITS.resourceGraphPerUser : key.startsWith('arm:') ? AZURE_LIMITS.armReadsPerSubscription : AZURE_LIMITS.keyVaultPerVault;
    if (!limit) continue;
    // A full bucket serves `capacity` at once; the rest drain at the refill rate.
    const ms = (Math.max(0, n - limit.capacity) / limit.refillPerSecond) * 1000;
    if (ms > rateBoundMs) {
      rateBoundMs = ms;
      rateScope = key;
    }
  }
  return { latencyBoundMs, rateBoundMs, rateScope, lowerBoundMs: Math.max(latencyBoundMs, rateBoundMs) };
}

/**
 * Live memory in MB: what the heap and Buffers hold after a full garbage collection (node --expose-gc; npm run bench
 * passes it), so garbage V8 has not yet collected does not count. null without --expose-gc. Peak RSS says what the
 * process needed at its worst; this says what a stage keeps.
 */
function liveMb(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  gc();
  const m = process.memoryUsage();
  return Math.round((m.heapUsed + m.external) / 2 ** 20);
}

/** What evaluation and the packet measured. */
interface PacketNumbers {
  checks: number;
  evalMs: number;
  checksPerSecond: number;
  htmlMs: number | null;
  htmlBytes: number | null;
  pdfMs: number | null;
  pdfPages: number | null;
  pdfBytes: number | null;
  peakRssBeforePdfMb: number | null;
  peakRssAfterPdfMb: number | null;
  /** Live memory with the results in hand, before the HTML. */
  liveAfterEvaluateMb: number | null;
  notes: string[];
}

/** Evaluates AI-SEC-01 and, unless `html` is false, renders the HTML packet (evidence index included). */
async function evaluateAndBuildHtml(
  store: EvidenceStore,
  collected: CollectedScope,
  scope: Scope,
  html: boolean,
): Promise<{ out: PacketNumbers; html?: string; t0: number }> {
  const notes: string[] = [];
  const controls = selectControls(await loadCatalog(), ['AI-SEC-01']);
  const now = new Date('2026-11-01T00:00:00.000Z');
  const t0 = performance.now();
  // As a scan does: the evidence is read back from the spool one top-level resource at a time.
  const evaluation = evaluatePartitioned(store, controls, { now });
  const evalMs = Math.max(1, Math.round(performance.now() - t0));
  const checks = evaluation.results.length;
  const out: PacketNumbers = { checks, evalMs, checksPerSecond: Math.round(checks / (evalMs / 1000)), htmlMs: null, htmlBytes: null, pdfMs: null, pdfPages: null, pdfBytes: null, peakRssBeforePdfMb: null, peakRssAfterPdfMb: null, liveAfterEvaluateMb: liveMb(), notes };
  if (!html) return { out, t0 };
  const resultsFile: ResultsFile = {
    tool: 'engram-audit',
    version: 'bench',
    runId: '00000000-0000-4000-8000-000000000000',
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    scope,
    coverage: coverageOfStore(collected, store),
    signing: { algorithm: 'ed25519', fingerprint: '0'.repeat(64), ephemeral: true, keySource: 'bench' },
    controls: evaluation.controls,
    results: evaluation.results,
  };
  // The PDF clock starts at the evidence: serialising it (the packet's evidence index) is part of producing the packet.
  const p0 = performance.now();
  // Streamed to the spool directory part by part, as a scan writes the bundle's evidence/.
  const index = serializeStore(store, store.dir).index;
  // The same choices the pipeline makes for report.pdf: a large estate's printed packet counts passing rows per check
  // and prints many findings one compact row each.
  const text = renderHtml(resultsFile, { evidenceIndex: index, passingDetail: printDetail(resultsFile), findingDetail: printFindingDetail(resultsFile) });
  out.htmlMs = Math.round(performance.now() - p0);
  out.htmlBytes = Buffer.byteLength(text);
  return { out, html: text, t0: p0 };
}

/**
 * Evaluates, renders the HTML packet and prints it to PDF with Chromium. The results are let go once the HTML exists,
 * so they can be collected before the PDF bytes arrive (peak RSS).
 */
async function evaluateAndRender(store: EvidenceStore, collected: CollectedScope, scope: Scope, pdf: boolean): Promise<PacketNumbers> {
  const built = await evaluateAndBuildHtml(store, collected, scope, pdf);
  const out = built.out;
  const notes = out.notes;
  const html = built.html;
  const p0 = built.t0;
  if (!pdf || html === undefined) {
    notes.push('PDF not rendered (--no-pdf)');
    return out;
  }
  out.peakRssBeforePdfMb = Math.round(process.resourceUsage().maxRSS / 1024);
  let bytes: Buffer;
  try {
    // The renderer's own 60 s default would abort a slow render; give it room so the time is measured, not capped.
    bytes = await renderPdf(html, { title: 'engram-audit benchmark AI-SEC-01', timeoutMs: 900_000 });
  } catch (err) {
    notes.push(`PDF render failed after ${Math.round(performance.now() - p0)} ms: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return out;
  }
  out.pdfMs = Math.round(performance.now() - p0);
  out.pdfBytes = bytes.length;
  out.peakRssAfterPdfMb = Math.round(process.resourceUsage().maxRSS / 1024);
  // Pages from poppler's pdfinfo (a separate process, so counting does not inflate this process's peak RSS).
  const dir = mkdtempSync(join(tmpdir(), 'engram-bench-'));
  try {
    writeFileSync(join(dir, 'packet.pdf'), bytes);
    const info = execFileSync('pdfinfo', [join(dir, 'packet.pdf')], { encoding: 'utf8' });
    const m = /^Pages:\s+(\d+)/m.exec(info);
    out.pdfPages = m ? Number(m[1]) : null;
  } catch (err) {
    notes.push(`PDF page count unavailable (pdfinfo: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  if (process.exitCode === 0) return;
  const faults: FakeAzureFaults = {};
  if (args.faults.includes('429')) faults.storm429 = { every: 400, length: 40, retryAfterMs: 1000 };
  if (args.faults.includes('5xx')) faults.rate5xx = 0.05;
  if (args.faults.includes('drop')) faults.rateDrop = 0.02;
  const estateOptions: Required<EstateOptions> = {
    subscriptions: args.subscriptions,
    storage: args.storage,
    postgres: args.postgres,
    vaults: args.vaults,
    keysPerVault: args.keysPerVault,
    seed: args.seed,
  };
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`machine: ${cpus().length} cpus (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(freemem() / 2 ** 30).toFixed(1)} GiB free, node ${process.version}`);
  log(`estate: ${JSON.stringify(estateOptions)}; latency ${args.latencyMs} ms; concurrency ${args.concurrency}; faults ${args.faults.join(',') || 'none'}`);

  const server = await startFakeAzureChild({
    estate: estateOptions,
    latencyMs: args.latencyMs,
    faults,
    // Azure pages containers far beyond 2; 2 here makes the nextLink path part of every scan with 3 containers.
    containerPageSize: 2,
  });
  const scope: Scope = { subscriptions: [], managementGroups: [], tags: {}, source: 'azure', demo: false };
  const calls = { requests: 0, finished: 0, failed: 0, throttledMs: 0, byFamily: new Map<string, number>(), perScope: new Map<string, number>() };
  const onCall = (e: CallEvent) => {
    calls.finished++;
    calls.requests += e.attempts;
    calls.throttledMs += e.throttledMs;
    if (e.status === 0 || e.status >= 400) calls.failed++;
    const f = family(e.url);
    calls.byFamily.set(f, (calls.byFamily.get(f) ?? 0) + e.attempts);
    const s = throttleScopeOf(e.url);
    if (s) calls.perScope.set(s.key, (calls.perScope.get(s.key) ?? 0) + e.attempts);
  };
  const tty = process.stderr.isTTY;
  let found = 0;
  let done = 0;
  let inventoryMs = 0;
  let lastPrint = 0;
  // The spool goes where a scan's would, on disk (a scan puts it beside its --out directory).
  const spoolRoot = mkdtempSync(join(tmpdir(), 'engram-bench-spool-'));
  const store = new EvidenceStore(join(spoolRoot, 'spool'));
  const t0 = performance.now();
  let collected: CollectedScope;
  try {
    collected = await collectToStore({
      store,
      scope,
      credential: createReplayCredential(),
      endpoints: { arm: server.url },
      trustedCa: server.ca,
      concurrency: args.concurrency,
      graphPageSize: 1000,
      onCall,
      onProgress: (e) => {
        if (e.kind === 'inventory') {
          found += e.resources;
          inventoryMs = Math.round(performance.now() - t0);
        }
        if (e.kind === 'resource') done++;
        const now = performance.now();
        if (tty && now - lastPrint > 250) {
          lastPrint = now;
          const el = (now - t0) / 1000;
          const eta = done > 0 ? ` ETA ${Math.ceil((el / done) * Math.max(0, found + estateOptions.vaults - done))}s` : '';
          process.stderr.write(`\rbench: ${found} resources, ${done} tasks done, ${calls.requests} requests, ${el.toFixed(1)}s${eta}\u001b[K`);
        }
      },
    });
  } finally {
    if (tty) process.stderr.write('\n');
  }
  const wallMs = Math.round(performance.now() - t0);
  const serverStats = await server.stats();
  await server.close();

  // Measured before the loss check below: regenerating the estate to check against is the benchmark's own cost.
  const peakAfterCollectMb = Math.round(process.resourceUsage().maxRSS / 1024);
  const liveAfterCollectMb = liveMb();
  const documents = store.size;
  const collectionErrors = store.errors.length;
  let ev: PacketNumbers;
  let storeStats: StoreStats;
  let peakRssMb: number;
  let counts: ReturnType<typeof estateCounts>;
  let lost: string[];
  try {
    ev = await evaluateAndRender(store, collected!, scope, args.pdf);
    storeStats = store.stats();
    peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    // The estate is regenerated here (same seed) only for the loss check, last, so it does not count in the peak RSS
    // above. The check needs every id and the keys' rotation policies: only the keys are read back from the spool.
    const estate = generateEstate(estateOptions);
    const ids = [...store.index(), ...store.ofTypes((t) => t === 'microsoft.keyvault/vaults/keys').documents];
    counts = estateCounts(estate);
    lost = lostEvidence(estate, { documents: ids, errors: store.errors, lists: store.lists });
  } finally {
    store.dispose();
    rmSync(spoolRoot, { recursive: true, force: true });
  }
  const bound = lowerBoundMs(calls.requests, args.latencyMs, args.concurrency, calls.perScope);
  const ratio = bound.lowerBoundMs > 0 ? wallMs / bound.lowerBoundMs : null;

  log(`resources: ${counts.resources} (${args.storage} storage, ${args.postgres} postgres, ${args.vaults} vaults) + ${counts.keys} keys; documents ${documents} of ${counts.expectedDocuments} expected; collection errors ${collectionErrors}`);
  const perResource: Record<string, number> = {};
  const resourcesOf: Record<string, number> = { storage: args.storage, postgres: args.postgres, keyvault: args.vaults };
  for (const [f, n] of [...calls.byFamily].sort()) {
    const per = resourcesOf[f] ? (n / resourcesOf[f]).toFixed(2) : '-';
    perResource[f] = resourcesOf[f] ? Number((n / resourcesOf[f]).toFixed(2)) : n;
    log(`  calls ${f}: ${n}${resourcesOf[f] ? ` (${per} per resource)` : ''}`);
  }
  log(`requests: ${calls.requests} sent for ${calls.finished} calls (${calls.failed} ended with a 4xx/5xx or no response; a 404 management policy means "none"); server saw ${serverStats.requests}, throttled ${serverStats.throttled}, injected 429 ${serverStats.injected429}, 5xx ${serverStats.injected5xx}, drops ${serverStats.drops}; client waited ${Math.round(calls.throttledMs)} ms in token buckets (summed over requests)`);
  log(`inventory (Resource Graph) done after ${inventoryMs} ms`);
  log(`wall ${wallMs} ms; lower bound ${Math.round(bound.lowerBoundMs)} ms (latency bound ${Math.round(bound.latencyBoundMs)} ms = ${calls.requests} x ${args.latencyMs} ms / ${args.concurrency}; rate bound ${Math.round(bound.rateBoundMs)} ms${bound.rateScope ? ` on ${bound.rateScope}` : ''}); ratio ${ratio === null ? 'n/a' : ratio.toFixed(3)}`);
  log(`lost resources: ${lost.length}${lost.length ? ` e.g. ${lost.slice(0, 3).join('; ')}` : ''}`);
  log(`peak RSS after collect: ${peakAfterCollectMb} MB; live after collect ${liveAfterCollectMb ?? '?'} MB (heap + buffers after a full GC)`);

  log(`evaluation: ${ev.checks} results in ${ev.evalMs} ms (${ev.checksPerSecond} checks/s); live after evaluation ${ev.liveAfterEvaluateMb ?? '?'} MB`);
  if (ev.htmlMs !== null) log(`HTML packet: ${ev.htmlBytes} bytes in ${ev.htmlMs} ms (evidence index included)`);
  if (ev.pdfMs !== null) log(`PDF: ${ev.pdfMs} ms from evidence to PDF bytes (HTML ${ev.htmlMs} ms), ${ev.pdfPages ?? '?'} pages, ${ev.pdfBytes} bytes`);
  for (const n of ev.notes) log(`note: ${n}`);
  log(`evidence spool: ${storeStats.documents} documents, ${(storeStats.spoolBytes / 2 ** 20).toFixed(1)} MB on disk; largest partition read at once ${storeStats.largestPartition} documents, ${storeStats.resident} resident (lookup types)`);
  log(`peak RSS: ${peakRssMb} MB (before the benchmark's own loss check)`);
  log(
    JSON.stringify({
      resources: counts.resources,
      keys: counts.keys,
      documents,
      expectedDocuments: counts.expectedDocuments,
      collectionErrors,
      calls: calls.requests,
      callsPerResource: perResource,
      wallMs,
      inventoryMs,
      lowerBoundMs: Math.round(bound.lowerBoundMs),
      latencyBoundMs: Math.round(bound.latencyBoundMs),
      rateBoundMs: Math.round(bound.rateBoundMs),
      ratio: ratio === null ? null : Number(ratio.toFixed(3)),
      concurrency: args.concurrency,
      latencyMs: args.latencyMs,
      faults: args.faults,
      peakRssMb,
      peakRssAfterCollectMb: peakAfterCollectMb,
      liveAfterCollectMb,
      liveAfterEvaluateMb: ev.liveAfterEvaluateMb,
      peakRssBeforePdfMb: ev.peakRssBeforePdfMb,
      spoolMb: Number((storeStats.spoolBytes / 2 ** 20).toFixed(1)),
      largestPartition: storeStats.largestPartition,
      residentDocuments: storeStats.resident,
      lostResources: lost.length,
      checks: ev.checks,
      checksPerSecond: ev.checksPerSecond,
      evalMs: ev.evalMs,
      htmlMs: ev.htmlMs,
      htmlBytes: ev.htmlBytes,
      pdfMs: ev.pdfMs,
      pdfPages: ev.pdfPages,
      pdfBytes: ev.pdfBytes,
      ...(ev.notes.length ? { note: ev.notes.join('; ') } : {}),
    }),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  });
}
