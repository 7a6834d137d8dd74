/**
 * The run: evidence in, bundle out. Shared by `scan` (evidence from Azure or a replay) and `evaluate` (evidence from a
 * snapshot file). Stages stay apart: the engine judges, reporters render, the bundle writer hashes, signs and renames.
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Control } from '../controls/index.js';
import { evaluate, evaluatePartitioned } from '../engine/index.js';
import { EvidenceStore } from '../evidence/store.js';
import { serializeStore } from '../evidence/serialize.js';
import { serializeEvidence, writeBundle, type Signer } from '../evidence/index.js';
import type { Coverage, EvidenceSet, ResultsFile, Scope, Severity, Status } from '../model.js';
import { SEVERITIES } from '../model.js';
import { renderHtml } from '../reporters/html.js';
import { htmlDetail, printDetail, printFindingDetail } from '../reporters/view-model.js';
import { jsonChunks, renderJson } from '../reporters/json.js';
import { writeChunks, type PrewrittenFile } from '../evidence/stream-file.js';
import { FORMAT_FILES, type Format } from '../reporters/formats.js';
import { renderOscal } from '../reporters/oscal.js';
import { renderSarif } from '../reporters/sarif.js';
import { renderJunit } from '../reporters/junit.js';
import { toolVersion } from '../util/paths.js';
import { diffRuns, diffViewModel, documentDigests, formatDiffText, type DiffSide, type DocumentDigests } from '../bundle-ops/diff.js';
import { sha256Hex } from '../util/hash.js';
import { DSSE_FILE, buildStatement, signDsse } from '../evidence/dsse.js';
import { PUBLIC_KEY_FILE } from '../evidence/manifest.js';
import { identityKeyFingerprint, signPdf } from '../evidence/pdf-sign.js';
import { ephemeralPdfIdentity } from '../evidence/signing.js';
import { EXIT, type CliIo } from './io.js';
import { applyWaivers, waiverWarnings, type Waiver } from '../policy/waivers.js';
import {
  attestationBundleFiles,
  attestationDocument,
  attestationProvenance,
  attestationSummaries,
  type Attestation,
} from '../policy/attestations.js';

export interface RunOptions {
  controls: Control[];
  /**
   * The evidence: in memory (a snapshot, a merge), or a disk-backed store (a scan), which is evaluated one partition
   * at a time and streamed into the bundle part by part, so the run never holds the whole evidence.
   */
  evidence: EvidenceSet | EvidenceStore;
  scope: Scope;
  /** Coverage from the collector; derived from the documents when absent (snapshots). */
  coverage?: Coverage;
  outDir: string;
  formats: Format[];
  signer: Signer;
  /** The organisation assessed (`--org`): packet cover, PDF author and signer name. */
  organisation?: string;
  failOn: Severity;
  startedAt: Date;
  io: CliIo;
  /** Waivers from --waivers (absent: none given, and results.json carries no `waivers` block). */
  waivers?: Waiver[];
  /** Attestations from --attestations: they join the evidence as documents and are copied into the bundle. */
  attestations?: Attestation[];
  /** A previous run (`--diff-against`): the packet gets a "Changes since the previous run" section. */
  diffAgainst?: DiffSide;
}

export interface RunOutcome {
  exitCode: number;
  results: ResultsFile;
  outDir: string;
}

/**
 * Coverage derived from the documents' ids and types (a snapshot or merge without the collector's coverage): from an
 * in-memory set, or from a store's index, so no document body is read back for it.
 */
function coverageOf(documents: Iterable<{ id: string; type?: unknown }>, errors: Coverage['errors'], scope: Scope): Coverage {
  const resourcesByType: Record<string, number> = {};
  const subs = new Set<string>();
  let count = 0;
  for (const doc of documents) {
    count++;
    const id = doc.id.toLowerCase();
    const sub = /^\/subscriptions\/([^/]+)/.exec(id)?.[1];
    if (sub) subs.add(sub);
    // Count top-level resources only: a child's id has more than one provider segment pair.
    const m = /\/providers\/([^/]+\/[^/]+)\/[^/]+$/.exec(id);
    if (m && typeof doc.type === 'string' && doc.type.toLowerCase() === m[1].toLowerCase()) {
      const t = doc.type.toLowerCase();
      resourcesByType[t] = (resourcesByType[t] ?? 0) + 1;
    }
  }
  return {
    subscriptionsRequested: [...scope.subscriptions].sort(),
    subscriptionsScanned: [...subs].sort(),
    resourcesByType,
    documents: count,
    errors,
  };
}

/** Exit code per DESIGN.md contract 4, counting only failures at or above `failOn`. */
export function exitCodeFor(results: ResultsFile, failOn: Severity): number {
  const threshold = SEVERITIES.indexOf(failOn);
  // A failure under an in-force waiver is an accepted risk, not a finding.
  const failing = results.results.some((r) => r.status === 'fail' && !r.waived && SEVERITIES.indexOf(r.severity) <= threshold);
  if (failing) return EXIT.FINDINGS;
  // A manual check still awaiting its attestation has not been shown to hold: the run is incomplete, never clean.
  const incomplete =
    results.results.some((r) => r.status === 'error' || r.status === 'manual') ||
    results.controls.some((c) => c.status === 'error' || c.status === 'manual');
  return incomplete ? EXIT.INCOMPLETE : EXIT.OK;
}

/** Evaluates, renders every requested format, writes the signed bundle and prints the summary. */
export async function runPipeline(options: RunOptions): Promise<RunOutcome> {
  const { io, scope } = options;
  const attestations = options.attestations ?? [];
  const store = options.evidence instanceof EvidenceStore ? options.evidence : undefined;
  let evidence: EvidenceSet | undefined;
  if (store) {
    for (const a of attestations) store.put(attestationDocument(a), attestationProvenance(a, options.startedAt));
  } else {
    const given = options.evidence as EvidenceSet;
    evidence = attestations.length
      ? {
          ...given,
          documents: [...given.documents, ...attestations.map(attestationDocument)],
          provenance: [...given.provenance, ...attestations.map((a) => attestationProvenance(a, options.startedAt))],
        }
      : given;
  }
  let evaluation = store ? evaluatePartitioned(store, options.controls, { now: options.startedAt }) : evaluate(evidence!, options.controls, { now: options.startedAt });
  let waiverOutcomes;
  if (options.waivers) {
    const w = applyWaivers(evaluation.results, evaluation.controls, options.waivers, options.startedAt);
    evaluation = { results: w.results, controls: w.controls };
    waiverOutcomes = w.outcomes;
    for (const line of waiverWarnings(w.outcomes)) io.stderr(`engram-audit: warning: ${line}\n`);
  }
  const results: ResultsFile = {
    tool: 'engram-audit',
    version: toolVersion(),
    runId: randomUUID(),
    startedAt: options.startedAt.toISOString(),
    finishedAt: io.now().toISOString(),
    scope,
    coverage: options.coverage ?? (store ? coverageOf(store.index(), store.errors, scope) : coverageOf(evidence!.documents, evidence!.errors, scope)),
    signing: options.signer.info,
    controls: evaluation.controls,
    results: evaluation.results,
    ...(waiverOutcomes ? { waivers: waiverOutcomes } : {}),
    ...(options.attestations ? { attestations: attestationSummaries(attestations, options.startedAt) } : {}),
  };

  // A store streams its evidence files next to the output, part by part; the bundle writer moves them in.
  const serialized = store ? serializeStore(store, store.dir) : serializeEvidence(evidence!);
  // Attestation YAMLs and their attached files go into the bundle, so SHA256SUMS and the signature cover them.
  const files: Record<string, string | Buffer> = { ...attestationBundleFiles(attestations) };
  // results.json of a large estate is written through to a file beside the bundle, never held as one string.
  const prewritten: Record<string, PrewrittenFile> = {};
  if (store) prewritten[FORMAT_FILES.json] = writeChunks(join(store.dir, FORMAT_FILES.json), jsonChunks(results));
  else files[FORMAT_FILES.json] = renderJson(results);
  const formats = new Set(options.formats);
  const wantPdf = formats.has('pdf');
  // The PDF identity is chosen before rendering so the signature page can describe it: the bundle key itself when it
  // is RSA (a local key or PKCS#12), otherwise a throw-away RSA identity that the packet labels as such (decision 0003).
  const pdfIdentity = wantPdf
    ? (options.signer.pdfIdentity?.({ now: options.startedAt, commonName: options.organisation ? `${options.organisation} evidence signer` : undefined }) ??
      ephemeralPdfIdentity(options.startedAt))
    : undefined;
  const pdfSignature = pdfIdentity
    ? {
        commonName: pdfIdentity.commonName,
        certificateSha256: pdfIdentity.certificateSha256,
        selfSigned: pdfIdentity.selfSigned,
        ephemeral: !options.signer.pdfIdentity,
        publicKeyFingerprint: identityKeyFingerprint(pdfIdentity),
      }
    : undefined;
  const diff = options.diffAgainst
    ? diffRuns(options.diffAgainst, {
        path: options.outDir,
        results,
        ...(store ? { digests: storeDigests(store) } : { evidence: evidence! }),
        verification: 'unbundled',
      })
    : undefined;
  let html: string | undefined;
  let printHtml: string | undefined;
  if (formats.has('html') || wantPdf) {
    const packet = {
      evidenceIndex: serialized.index,
      organisation: options.organisation,
      controls: options.controls,
      // The packet lists probe observations; from a store, only those are read back.
      documents: store ? store.ofTypes((t) => t.startsWith('engram.probe/')).documents : evidence!.documents,
      pdfSignature,
      ...(diff ? { diff: diffViewModel(diff) } : {}),
    };
    // A large estate's PDF counts passing results per check, so thousands of passing rows do not become thousands of
    // pages; a very large estate's report.html does too (results.json always keeps every row). Failing and
    // unevaluated results are always listed in full.
    const htmlForm = htmlDetail(results);
    html = renderHtml(results, { ...packet, passingDetail: htmlForm, htmlListsEvery: htmlForm === 'full' });
    if (formats.has('html')) files[FORMAT_FILES.html] = html;
    // Many findings print one compact row each (report.html keeps every finding in full).
    const findingForm = printFindingDetail(results);
    const printForm = printDetail(results);
    printHtml =
      printForm === htmlForm && findingForm === 'full'
        ? html
        : renderHtml(results, { ...packet, passingDetail: printForm, htmlListsEvery: htmlForm === 'full', findingDetail: findingForm });
  }
  if (formats.has('oscal')) {
    const evidenceIndex = serialized.index.map((e) => ({ path: e.path, sha256: e.sha256, documents: serialized.documentIds[e.path] }));
    files[FORMAT_FILES.oscal] = renderOscal(results, { evidenceIndex });
  }
  if (formats.has('sarif')) files[FORMAT_FILES.sarif] = renderSarif(results, {});
  if (formats.has('junit')) files[FORMAT_FILES.junit] = renderJunit(results);
  if (wantPdf && printHtml !== undefined && pdfIdentity) {
    if (io.isTTY) io.stderr('rendering the PDF packet with Chromium...\n');
    // Loaded only when asked for: puppeteer-core is heavy and the other formats must work without a browser.
    const { renderPdf } = await import('../reporters/pdf.js');
    const ids = results.controls.map((c) => c.id);
    const title = `engram-audit ${ids.join(', ')}`;
    // The document information is set by signPdf, in the one pass that adds the signature placeholder.
    const pdf = await renderPdf(printHtml, { title, timeoutMs: pdfTimeoutMs(printHtml) });
    // Signed before SHA256SUMS is computed, so the manifest's digest covers the PDF signature too.
    files[FORMAT_FILES.pdf] = await signPdf(
      pdf,
      pdfIdentity,
      {
        reason: `engram-audit evidence packet, run ${results.runId}`,
        location: 'engram-audit',
        contactInfo: options.organisation ?? '',
        name: pdfIdentity.commonName,
        signingTime: new Date(results.finishedAt),
      },
      {
        title,
        metadata: {
          author: options.organisation ?? 'engram-audit',
          subject: `Compliance evidence packet: ${results.controls.map((c) => `${c.id} ${c.title}`).join('; ')}${results.scope.demo ? ' (DEMO DATA)' : ''}`,
          keywords: ['engram-audit', 'NIST AI RMF', 'NIST SP 800-53', 'compliance evidence', ...ids],
          creator: `${results.tool} ${results.version}`,
          date: new Date(results.finishedAt),
        },
      },
    );
  }
  // The DSSE envelope's subjects are every other file of the bundle (SHA256SUMS lists the envelope too).
  const subjects = [
    ...Object.entries(files).map(([path, v]) => ({ path, sha256: sha256Hex(v) })),
    ...Object.entries(prewritten).map(([path, f]) => ({ path, sha256: f.sha256 })),
    ...serialized.index.map((e) => ({ path: e.path, sha256: e.sha256 })),
    { path: PUBLIC_KEY_FILE, sha256: sha256Hex(options.signer.publicKeyPem) },
  ];
  const statement = buildStatement(subjects, {
    tool: results.tool,
    version: results.version,
    runId: results.runId,
    startedAt: results.startedAt,
    finishedAt: results.finishedAt,
    controls: results.controls.map((c) => ({ id: c.id, status: c.status })),
  });
  files[DSSE_FILE] = await signDsse(statement, (data) => options.signer.sign(data), options.signer.info.fingerprint);

  const outDir = resolve(io.cwd, options.outDir);
  await writeBundle({ outDir, files, prewritten, evidence: serialized, signer: options.signer });
  printSummary(io, results, outDir);
  if (diff && options.diffAgainst) {
    io.stdout(`Changes since ${options.diffAgainst.path}:\n${formatDiffText(diff, 10)}\n`);
  }
  return { exitCode: exitCodeFor(results, options.failOn), results, outDir };
}

/** Digests of every document of a store, read one partition at a time. */
function storeDigests(store: EvidenceStore): DocumentDigests {
  const out: DocumentDigests = new Map();
  for (const part of store.partitions()) documentDigests(part.documents, out);
  return out;
}

/**
 * How long Chromium may take to print the packet: 60 s, plus 10 s per MB of HTML. Chromium prints about 3 MB of packet
 * HTML in 10 s on the benchmark machine (docs/performance.md), so a large estate's packet needs minutes, and a fixed
 * limit would throw away a whole scan at the last step.
 */
export function pdfTimeoutMs(html: string): number {
  return 60_000 + Math.ceil(html.length / 2 ** 20) * 10_000;
}

const STATUS_ORDER: Status[] = ['fail', 'error', 'pass', 'not_applicable', 'manual'];

/** One terminal line per finding: long explanations are cut here; results.json and the packet keep them whole. */
function clip(message: string, max = 220): string {
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`;
}

function printSummary(io: CliIo, results: ResultsFile, outDir: string): void {
  const lines: string[] = [];
  const demo = results.scope.demo ? ' (DEMO DATA)' : '';
  lines.push(`engram-audit ${results.version}: ${results.scope.source} evidence${demo}, ${results.coverage.documents} documents`);
  for (const c of results.controls) {
    const counts = STATUS_ORDER.filter((s) => c.counts[s] > 0)
      .map((s) => (s === 'fail' && c.waived ? `${c.counts[s]} fail (${c.waived} waived)` : `${c.counts[s]} ${s}`))
      .join(', ');
    lines.push(`  ${c.id} ${c.title}: ${c.status.toUpperCase()} (${counts || 'no results'})`);
  }
  const failing = results.results.filter((r) => r.status === 'fail' && !r.waived);
  const shown = failing.slice(0, 15);
  if (shown.length > 0) {
    lines.push('', 'Failing:');
    for (const r of shown) lines.push(`  [${r.severity}] ${r.check} ${r.resourceName}: ${clip(r.message)}`);
    if (failing.length > shown.length) lines.push(`  ... and ${failing.length - shown.length} more in results.json`);
  }
  const waived = results.results.filter((r) => r.waived);
  if (waived.length > 0) {
    lines.push('', `Waived (${waived.length}, not counted as findings):`);
    for (const r of waived.slice(0, 10)) lines.push(`  [${r.severity}] ${r.check} ${r.resourceName}: waiver ${r.waiver?.id} approved by ${r.waiver?.approver}, until ${r.waiver?.expires}`);
    if (waived.length > 10) lines.push(`  ... and ${waived.length - 10} more in results.json`);
  }
  const errors = results.results.filter((r) => r.status === 'error');
  if (errors.length > 0) {
    lines.push('', `Could not evaluate (${errors.length}):`);
    for (const r of errors.slice(0, 10)) lines.push(`  ${r.check} ${r.resourceName || r.resourceId}: ${clip(r.message)}`);
  }
  const key = results.signing
    ? `${results.signing.algorithm} ${results.signing.fingerprint}${results.signing.ephemeral ? ' (EPHEMERAL key: proves integrity only; pass --sign-key for origin)' : ''}`
    : 'unsigned';
  lines.push('', `Bundle: ${outDir}`, `Signed: ${key}`, `Verify: engram-audit verify ${outDir}`, '');
  io.stdout(lines.join('\n'));
}
