/**
 * The packet view model: everything the HTML templates show, computed from a ResultsFile in one place so the templates
 * hold no logic beyond `#if` and `#each`. Pure and deterministic (explicit code-point sort orders, no clock).
 */
import { redactValue } from '../evidence/redact.js';
import type { AzureDocument, CollectionError, Result, ResultsFile, Severity, Status, StatusCounts } from '../model.js';
import { SEVERITIES, STATUSES, emptyCounts } from '../model.js';
import { barChart, type ChartBar } from './charts.js';
import type { DiffViewModel } from '../bundle-ops/diff.js';
import { minOf } from '../util/arrays.js';

/** One file listed in the packet's evidence index. */
export interface EvidenceIndexEntry {
  path: string;
  sha256: string;
}

/**
 * What the packet shows of a control definition (structurally a subset of src/controls' `Control`, so the pipeline can
 * pass its catalog as is). Without it, a control section shows only what results.json carries.
 */
export interface PacketControlDefinition {
  id: string;
  title?: string;
  objective?: string;
  description?: string;
  nist_ai_rmf?: string[];
  sp800_53?: string[];
  checks?: {
    id: string;
    title: string;
    severity?: Severity;
    resource_type?: string;
    applicability?: { environments?: string[] };
    remediation?: { cli?: string; bicep?: string };
    reperform?: { request?: string; json_path?: string; resource_graph?: string };
    policy_definition_id?: string;
  }[];
}

/** A waiver (accepted risk) shown in the packet: a result the organisation decided not to fix, until `expires`. */
export interface PacketWaiver {
  control: string;
  check?: string;
  resourceId?: string;
  reason: string;
  approvedBy: string;
  expires?: string;
  reference?: string;
  /** What reduces the risk meanwhile. */
  compensatingControl?: string;
  /** From a run's waivers (results.json `waivers`): applied, expired (no longer applies) or unmatched. */
  state?: 'applied' | 'expired' | 'unmatched';
  /** Label of `state` for the packet. */
  stateLabel?: string;
  /** Failures it covered (applied) or would have covered (expired). */
  matched?: number;
}

/** A signed human attestation (AI-GOV-01 style): a statement, who made it, when, until when. */
export interface PacketAttestation {
  control: string;
  statement: string;
  owner: string;
  signedAt?: string;
  expires?: string;
  reference?: string;
  /** True when `expires` is before the run's date. */
  expired?: boolean;
  /** Attached files in the bundle with their SHA-256. */
  evidence?: Array<{ path: string; sha256: string }>;
}

/** How the PDF itself is signed (PKCS#7 detached), for the signature page. */
export interface PacketPdfSignature {
  /** Certificate subject common name. */
  commonName: string;
  /** SHA-256 of the signing certificate (DER), hex. */
  certificateSha256: string;
  selfSigned: boolean;
  /** True when the PDF identity is a throw-away RSA key made for this run (the bundle key cannot sign PDFs). */
  ephemeral: boolean;
  /** SHA-256 of the certificate's public key (DER SPKI), hex: equals the bundle fingerprint when one key signs both. */
  publicKeyFingerprint?: string;
}

/** NIST reference text the packet quotes (report-templates/data/nist.json). */
export interface NistReference {
  aiRmfSubcategories: Record<string, string>;
  sp80053Titles: Record<string, string>;
}

/** Options shared by the HTML packet and its view model. */
export interface PacketOptions {
  /** Every evidence file of the bundle with its SHA-256; shown as an evidence index when given. */
  evidenceIndex?: EvidenceIndexEntry[];
  /** Document title (HTML `<title>`, PDF title and header). Defaults to "engram-audit compliance evidence packet". */
  title?: string;
  /** The organisation assessed (`--org`), shown on the cover and as the PDF author. */
  organisation?: string;
  /** The control definitions evaluated: objective, checks, remediation and re-performance per check. */
  controls?: PacketControlDefinition[];
  /** Evidence documents; those of type `engram.probe/*` are listed as probe observations. */
  documents?: AzureDocument[];
  waivers?: PacketWaiver[];
  attestations?: PacketAttestation[];
  /** The PDF signature identity; the signature page describes it. */
  pdfSignature?: PacketPdfSignature;
  /** NIST texts (renderHtml loads report-templates/data/nist.json when not given). */
  reference?: NistReference;
  /** Changes since a previous run (`engram-audit diff`), shown as their own section when given. */
  diff?: DiffViewModel;
  /**
   * `full` lists every passing, not-applicable and manual result; `summary` gives counts per check instead (failing
   * and unevaluated results are always listed in full). Default `full`; the PDF of a large estate uses `summary`
   * (see {@link printDetail}) so that thousands of passing rows do not become thousands of pages.
   */
  passingDetail?: 'full' | 'summary';
  /**
   * False when report.html itself gives the summary form (see {@link htmlDetail}): then a summarised section says the
   * individual results are in results.json only. Default true.
   */
  htmlListsEvery?: boolean;
  /**
   * `full` prints each failing or unevaluated result with its message, fix, re-performance request and evidence list;
   * `compact` prints one row per result (resource, status, expected, actual) under its check, whose card above holds
   * the fix and the re-performance template. Default `full`; the PDF uses `compact` past
   * {@link PRINT_FULL_FINDINGS_LIMIT} findings (see {@link printFindingDetail}).
   */
  findingDetail?: 'full' | 'compact';
}

/** Passing results above which the printed packet summarises passing results per check. */
export const PRINT_FULL_DETAIL_LIMIT = 1500;

/**
 * Passing, not-applicable and manual results above which report.html also counts them per check. At about 1.1 KB of
 * HTML per listed result, 20,000 rows is a 22 MB page; past that a browser struggles and the string and its view model
 * grow with the estate, while results.json (written a result at a time) keeps every row.
 */
export const HTML_FULL_DETAIL_LIMIT = 20_000;

function listedCount(results: ResultsFile): number {
  let n = 0;
  for (const r of results.results) if (r.status === 'pass' || r.status === 'not_applicable' || r.status === 'manual') n++;
  return n;
}

/** The detail level for the printed packet of `results`: full unless the passing results are too many to print. */
export function printDetail(results: ResultsFile): 'full' | 'summary' {
  return listedCount(results) > PRINT_FULL_DETAIL_LIMIT ? 'summary' : 'full';
}

/** Failing and unevaluated results above which the printed packet prints each in a compact row. */
export const PRINT_FULL_FINDINGS_LIMIT = 1500;

/**
 * The finding detail for the printed packet: full unless there are more than {@link PRINT_FULL_FINDINGS_LIMIT}
 * findings. A full finding takes about half a page, so 19,000 findings (the whole catalog on the benchmark's default
 * estate) were 9,000 pages and 279 s of Chromium; compact rows print several per page.
 */
export function printFindingDetail(results: ResultsFile): 'full' | 'compact' {
  let n = 0;
  for (const r of results.results) if (r.status === 'fail' || r.status === 'error') n++;
  return n > PRINT_FULL_FINDINGS_LIMIT ? 'compact' : 'full';
}

/** The detail level for report.html: full unless the passing results are too many for one page (HTML_FULL_DETAIL_LIMIT). */
export function htmlDetail(results: ResultsFile): 'full' | 'summary' {
  return listedCount(results) > HTML_FULL_DETAIL_LIMIT ? 'summary' : 'full';
}

/** Counts per check, for the summarised form of a long list of results. */
function perCheckCounts(results: Result[]): { check: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.check, (counts.get(r.check) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([check, count]) => ({ check, count }));
}

const STATUS_LABELS: Record<Status, string> = {
  pass: 'Pass',
  fail: 'Fail',
  error: 'Error',
  not_applicable: 'Not applicable',
  manual: 'Manual',
};

const SEVERITY_LABELS: Record<Severity, string> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  info: 'Info',
};

const SOURCE_LABELS: Record<string, string> = {
  azure: 'Live scan of Azure (Resource Graph and service APIs)',
  replay: 'Recorded Azure responses (replay)',
  snapshot: 'Evidence snapshot file (engram-audit evaluate)',
};

const ALGORITHM_LABELS: Record<string, string> = {
  ed25519: 'Ed25519',
  'ecdsa-p256': 'ECDSA P-256 (SHA-256)',
  rsa: 'RSA PKCS#1 v1.5 (SHA-256)',
};

/** What a bundle signature of each algorithm is, and the openssl command that checks it (docs/verifying.md). */
const VERIFY_COMMANDS: Record<string, string> = {
  ed25519: 'openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig',
  'ecdsa-p256': 'openssl dgst -sha256 -verify signing-key.pub.pem -signature SHA256SUMS.sig SHA256SUMS',
  rsa: 'openssl dgst -sha256 -verify signing-key.pub.pem -signature SHA256SUMS.sig SHA256SUMS',
};

const STATUS_COLORS: Record<Status, string> = {
  pass: '#2f7d3e',
  fail: '#b42318',
  error: '#c27c0e',
  not_applicable: '#9aa4b1',
  manual: '#5b6b82',
};

const SEVERITY_COLORS: Record<Severity, string> = {
  critical: '#7a1010',
  high: '#b42318',
  medium: '#c27c0e',
  low: '#6b7a90',
  info: '#9aa4b1',
};

/** Service names for resource types (the first provider segment pair decides). */
const SERVICE_LABELS: Record<string, string> = {
  'microsoft.dbforpostgresql': 'PostgreSQL',
  'microsoft.storage': 'Blob Storage',
  'microsoft.keyvault': 'Key Vault',
  'microsoft.insights': 'Azure Monitor',
  'microsoft.network': 'Networking',
};

export const DEFAULT_TITLE = 'engram-audit compliance evidence packet';

/** Code-point comparison: locale-independent, so the same input sorts the same everywhere. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const severityRank = (s: Severity): number => {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
};

const statusRank = (s: Status): number => {
  const i = STATUSES.indexOf(s);
  return i < 0 ? STATUSES.length : i;
};

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '—' : v);

function countsView(counts: StatusCounts) {
  const total = STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return {
    pass: counts.pass ?? 0,
    fail: counts.fail ?? 0,
    error: counts.error ?? 0,
    notApplicable: counts.not_applicable ?? 0,
    manual: counts.manual ?? 0,
    total,
  };
}

type CheckDefinition = NonNullable<PacketControlDefinition['checks']>[number];

function resultView(r: Result, index: number, def?: CheckDefinition) {
  // Remediation identical to the check's is printed once, in the check's description, not on every failing resource.
  const sameFix = Boolean(def?.remediation && (def.remediation.cli ?? '') === (r.remediation?.cli ?? '') && (def.remediation.bicep ?? '') === (r.remediation?.bicep ?? ''));
  const samePolicy = Boolean(def && def.policy_definition_id === r.policyDefinitionId);
  return {
    anchor: `finding-${r.control}-${index + 1}`.replace(/[^A-Za-z0-9_-]/g, '-'),
    number: index + 1,
    control: r.control,
    check: r.check,
    checkTitle: r.checkTitle,
    resourceName: dash(r.resourceName),
    resourceId: r.resourceId,
    resourceType: r.resourceType,
    environment: dash(r.environment),
    status: r.status,
    statusLabel: STATUS_LABELS[r.status] ?? r.status,
    severity: r.severity,
    severityLabel: SEVERITY_LABELS[r.severity] ?? r.severity,
    message: r.message,
    expected: dash(r.expected),
    actual: dash(r.actual),
    remediationCli: sameFix ? undefined : r.remediation?.cli,
    remediationBicep: sameFix ? undefined : r.remediation?.bicep,
    hasRemediation: Boolean(r.remediation?.cli || r.remediation?.bicep),
    remediationInCheck: sameFix && Boolean(r.remediation?.cli || r.remediation?.bicep),
    checkAnchor: `ctl-${r.control}-${r.check}`.replace(/[^A-Za-z0-9_-]/g, '-'),
    reperform: r.reperform,
    policyDefinitionId: samePolicy ? undefined : r.policyDefinitionId,
    /** Set for a failure an in-force waiver covers: the row is marked Waived and shows the waiver. */
    waived: Boolean(r.waived && r.waiver),
    waiver: r.waived && r.waiver ? r.waiver : undefined,
    /** Evidence ids, the resource's own document shown as such (it repeats the id printed beside it). */
    evidence: r.evidence.map((id) => (id === r.resourceId ? { id: 'the resource document', own: true } : { id, own: false })),
  };
}

export type ResultView = ReturnType<typeof resultView>;

function byControlCheckResource(a: Result, b: Result): number {
  return cmp(a.control, b.control) || cmp(a.check, b.check) || cmp(a.resourceId, b.resourceId) || cmp(a.status, b.status);
}

const WAIVER_STATES: Record<string, string> = { applied: 'Applied', expired: 'EXPIRED: no longer applies', unmatched: 'Matched nothing' };

/** The packet's waivers from a run's results.json `waivers` (docs/waivers.md), each with its state. */
function waiversFromResults(results: ResultsFile): PacketWaiver[] {
  return (results.waivers ?? []).map((w) => ({
    control: w.control,
    check: w.check,
    resourceId: w.resource,
    reason: w.justification,
    approvedBy: w.approver,
    expires: w.expires,
    reference: `${w.id}${w.file ? ` (${w.file}${w.line ? `:${w.line}` : ''})` : ''}`,
    compensatingControl: w.compensatingControl,
    state: w.state,
    stateLabel: WAIVER_STATES[w.state] ?? w.state,
    matched: w.matched,
  }));
}

/** The packet's attestations from a run's results.json `attestations` (docs/attestations.md). */
function attestationsFromResults(results: ResultsFile): PacketAttestation[] {
  return (results.attestations ?? []).map((a) => ({
    // Attestations serve the governance control; its check ids are unique in the catalog.
    control: 'AI-GOV-01',
    statement: a.statement,
    owner: a.owner,
    signedAt: a.date,
    expires: a.expires,
    reference: `${a.id} (${a.check})`,
    expired: a.expired,
    evidence: a.evidence,
  }));
}

/** Findings (fail and error) grouped by check, most severe check first. */
function findingGroups(findings: Result[], defs?: Map<string, CheckDefinition>) {
  const groups = new Map<string, Result[]>();
  for (const r of findings) {
    const key = `${r.control}\u0000${r.check}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const worst = (rs: Result[]) => minOf(rs.map((r) => severityRank(r.severity)));
  const ordered = [...groups.values()].sort(
    (a, b) => worst(a) - worst(b) || cmp(a[0].control, b[0].control) || cmp(a[0].check, b[0].check),
  );
  let n = 0;
  return ordered.map((rs) => {
    const sorted = [...rs].sort(
      (a, b) =>
        statusRank(a.status) - statusRank(b.status) ||
        severityRank(a.severity) - severityRank(b.severity) ||
        cmp(a.resourceId, b.resourceId),
    );
    const first = sorted[0];
    const worstSeverity = SEVERITIES[worst(rs)] ?? first.severity;
    return {
      anchor: `check-${first.control}-${first.check}`.replace(/[^A-Za-z0-9_-]/g, '-'),
      control: first.control,
      check: first.check,
      checkTitle: first.checkTitle,
      severityLabel: SEVERITY_LABELS[worstSeverity] ?? worstSeverity,
      severity: worstSeverity,
      failCount: rs.filter((r) => r.status === 'fail' && !r.waived).length,
      waivedCount: rs.filter((r) => r.status === 'fail' && r.waived).length,
      errorCount: rs.filter((r) => r.status === 'error').length,
      // The expected state most checks share across resources: a compact print names it once, above the rows.
      sharedExpected: sorted.every((r) => r.expected === first.expected) ? dash(first.expected) : undefined,
      results: sorted.map((r) => resultView(r, n++, defs?.get(r.check))),
    };
  });
}

/** Per-check counts across all results, for the summary's check table. */
function checkRows(results: Result[]) {
  const rows = new Map<string, { control: string; check: string; checkTitle: string; severity: Severity; counts: StatusCounts }>();
  for (const r of results) {
    const key = `${r.control}\u0000${r.check}`;
    let row = rows.get(key);
    if (!row) {
      row = { control: r.control, check: r.check, checkTitle: r.checkTitle, severity: r.severity, counts: emptyCounts() };
      rows.set(key, row);
    }
    if (severityRank(r.severity) < severityRank(row.severity)) row.severity = r.severity;
    row.counts[r.status] = (row.counts[r.status] ?? 0) + 1;
  }
  return [...rows.values()]
    .sort((a, b) => cmp(a.control, b.control) || cmp(a.check, b.check))
    .map((row) => ({
      ...row,
      severityLabel: SEVERITY_LABELS[row.severity] ?? row.severity,
      counts: countsView(row.counts),
    }));
}

function coverageView(results: ResultsFile) {
  const { coverage } = results;
  const requested = new Set(coverage.subscriptionsRequested);
  const scanned = new Set(coverage.subscriptionsScanned);
  const all = [...new Set([...requested, ...scanned])].sort(cmp);
  const subscriptions = all.map((id) => ({
    id,
    requested: requested.has(id) ? 'yes' : 'no',
    scanned: scanned.has(id) ? 'yes' : 'NOT SCANNED',
    missing: requested.has(id) && !scanned.has(id),
  }));
  const resourcesByType = Object.keys(coverage.resourcesByType)
    .sort(cmp)
    .map((type) => ({ type, count: coverage.resourcesByType[type] }));
  const errors = [...coverage.errors]
    .sort((a: CollectionError, b: CollectionError) => cmp(a.collector, b.collector) || cmp(a.scope, b.scope) || cmp(a.resourceId ?? '', b.resourceId ?? ''))
    .map((e) => ({ ...e, resourceId: dash(e.resourceId) }));
  return {
    subscriptions,
    requestedCount: requested.size,
    scannedCount: [...scanned].length,
    missingCount: subscriptions.filter((s) => s.missing).length,
    resourcesByType,
    resourceTotal: resourcesByType.reduce((n, r) => n + r.count, 0),
    documents: coverage.documents,
    errors,
    hasErrors: errors.length > 0,
  };
}

function serviceOf(resourceType: string): string {
  const provider = resourceType.toLowerCase().split('/')[0] ?? '';
  return SERVICE_LABELS[provider] ?? (resourceType || 'Other');
}

/** Counts `fail` results by a key, largest first, then by key. */
function failuresBy(results: Result[], key: (r: Result) => string, order?: string[]): ChartBar[] {
  const counts = new Map<string, number>();
  for (const r of results) if (r.status === 'fail') counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const keys = order ? order.filter((k) => counts.has(k)) : [...counts.keys()].sort((a, b) => (counts.get(b)! - counts.get(a)!) || cmp(a, b));
  return keys.map((k) => ({ label: k, segments: [{ key: 'fail', value: counts.get(k)! }] }));
}

function chartsView(controls: ResultsFile['controls'], all: Result[]) {
  const statusSeries = STATUSES.map((s) => ({ key: s, label: STATUS_LABELS[s], color: STATUS_COLORS[s] }));
  const failSeries = [{ key: 'fail', label: 'Failures', color: STATUS_COLORS.fail }];
  const statusBars: ChartBar[] = controls.map((c) => ({ label: c.id, segments: STATUSES.map((s) => ({ key: s, value: c.counts[s] ?? 0 })) }));
  const bySeverity = SEVERITIES.map((sev) => ({
    label: SEVERITY_LABELS[sev],
    segments: [{ key: sev, value: all.filter((r) => r.status === 'fail' && r.severity === sev).length }],
  })).filter((b) => b.segments[0]!.value > 0);
  const severitySeries = SEVERITIES.map((sev) => ({ key: sev, label: SEVERITY_LABELS[sev], color: SEVERITY_COLORS[sev] }));
  const none = 'No failures.';
  const envOf = (r: Result) => r.environment || 'untagged';
  const known = ['prod', 'uat', 'test', 'dev'];
  const envOrder = [...known, ...[...new Set(all.map(envOf))].filter((e) => !known.includes(e)).sort(cmp)];
  return [
    { id: 'chart-status', title: 'Results per control, by status', svg: barChart(statusBars, { title: 'Results per control, by status', series: statusSeries, emptyText: 'No results.' }) },
    { id: 'chart-severity', title: 'Failures by severity', svg: barChart(bySeverity, { title: 'Failures by severity', series: severitySeries, legend: false, emptyText: none }) },
    { id: 'chart-service', title: 'Failures by service', svg: barChart(failuresBy(all, (r) => serviceOf(r.resourceType)), { title: 'Failures by service', series: failSeries, emptyText: none }) },
    { id: 'chart-environment', title: 'Failures by environment', svg: barChart(failuresBy(all, envOf, envOrder), { title: 'Failures by environment', series: failSeries, emptyText: none }) },
  ];
}

function probeView(documents: AzureDocument[] | undefined) {
  const probes = (documents ?? []).filter((d) => typeof d.type === 'string' && d.type.toLowerCase().startsWith('engram.probe/'));
  return probes
    .map((d) => {
      const p = (d.properties ?? {}) as Record<string, unknown>;
      const observed = p.observed && typeof p.observed === 'object' ? (p.observed as Record<string, unknown>) : {};
      const err = p.error && typeof p.error === 'object' ? (p.error as { code?: string; message?: string }) : undefined;
      const status = String(p.status ?? 'error');
      return {
        probe: String(d.type).slice('engram.probe/'.length),
        id: d.id,
        resourceId: d.id.replace(/\/probes\/[^/]+$/, ''),
        target: String(p.target ?? ''),
        status,
        statusLabel: status === 'compliant' ? 'Compliant' : status === 'non_compliant' ? 'Non-compliant' : 'Error',
        statusClass: status === 'compliant' ? 'pass' : status === 'non_compliant' ? 'fail' : 'error',
        summary: String(p.summary ?? ''),
        startedAt: dash(typeof p.startedAt === 'string' ? p.startedAt : undefined),
        durationMs: typeof p.durationMs === 'number' ? p.durationMs : undefined,
        facts: Object.keys(observed)
          .sort(cmp)
          .map((k) => ({ key: k, value: typeof observed[k] === 'string' ? (observed[k] as string) : JSON.stringify(observed[k]) })),
        error: err ? `${err.code ?? 'error'}: ${err.message ?? ''}` : undefined,
      };
    })
    .sort((a, b) => cmp(a.resourceId, b.resourceId) || cmp(a.probe, b.probe));
}

function refList(ids: string[], texts: Record<string, string>) {
  return ids.map((id) => ({ id, text: texts[id] ?? texts[id.toUpperCase()] }));
}

/** One section per control: definition (objective, mappings, checks) and its results. */
function controlSections(
  results: ResultsFile,
  all: Result[],
  definitions: PacketControlDefinition[] | undefined,
  reference: NistReference | undefined,
  waivers: PacketWaiver[],
  attestations: PacketAttestation[],
  detail: 'full' | 'summary' = 'full',
  listedInHtml = true,
) {
  const defs = new Map((definitions ?? []).map((d) => [d.id.toUpperCase(), d]));
  return results.controls.map((c, ci) => {
    const def = defs.get(c.id.toUpperCase());
    const mine = all.filter((r) => r.control === c.id);
    const findings = mine.filter((r) => r.status === 'fail' || r.status === 'error');
    const rows = checkRows(mine);
    const checkDefs = new Map((def?.checks ?? []).map((k) => [k.id, k]));
    // Checks with no result (nothing of its type in scope) still appear, so the reader sees what was tested.
    const ids = [...new Set([...rows.map((r) => r.check), ...checkDefs.keys()])].sort(cmp);
    const checks = ids.map((id) => {
      const row = rows.find((r) => r.check === id);
      const k = checkDefs.get(id);
      const severity = (k?.severity ?? row?.severity ?? 'info') as Severity;
      return {
        anchor: `ctl-${c.id}-${id}`.replace(/[^A-Za-z0-9_-]/g, '-'),
        id,
        title: k?.title ?? row?.checkTitle ?? id,
        severity,
        severityLabel: SEVERITY_LABELS[severity] ?? severity,
        resourceType: k?.resource_type,
        environments: k?.applicability?.environments?.join(', '),
        counts: row?.counts ?? countsView(emptyCounts()),
        noResults: !row,
        remediationCli: k?.remediation?.cli,
        remediationBicep: k?.remediation?.bicep,
        reperformRequest: k?.reperform?.request,
        reperformJsonPath: k?.reperform?.json_path,
        reperformQuery: k?.reperform?.resource_graph,
        policyDefinitionId: k?.policy_definition_id,
        hasDetail: Boolean(k?.remediation?.cli || k?.remediation?.bicep || k?.reperform?.request || k?.policy_definition_id),
      };
    });
    const aiRmf = def?.nist_ai_rmf ?? c.nistAiRmf;
    const sp = def?.sp800_53 ?? c.sp80053;
    return {
      number: ci + 1,
      anchor: `control-${c.id}`.replace(/[^A-Za-z0-9_-]/g, '-'),
      id: c.id,
      title: c.title,
      status: c.status,
      statusLabel: STATUS_LABELS[c.status] ?? c.status,
      counts: countsView(c.counts),
      objective: def?.objective,
      description: def?.description,
      nistAiRmf: refList(aiRmf, reference?.aiRmfSubcategories ?? {}),
      sp80053: refList(sp, reference?.sp80053Titles ?? {}),
      checks,
      findingGroups: findingGroups(findings, checkDefs),
      findingCount: findings.length,
      ...(() => {
        const passing = mine.filter((r) => r.status === 'pass');
        const other = mine.filter((r) => r.status === 'not_applicable' || r.status === 'manual');
        if (detail === 'summary') {
          return {
            passing: [],
            other: [],
            summarised: true,
            listedInHtml,
            passingTotal: passing.length,
            otherTotal: other.length,
            passingByCheck: perCheckCounts(passing),
            otherByCheck: perCheckCounts(other),
          };
        }
        return { passing: passing.map((r, i) => resultView(r, i)), other: other.map((r, i) => resultView(r, i)), summarised: false };
      })(),
      waivers: waivers.filter((w) => w.control.toUpperCase() === c.id.toUpperCase()),
      attestations: attestations.filter((a) => a.control.toUpperCase() === c.id.toUpperCase()),
    };
  });
}

/** Builds the view model for the packet templates. Strings are redacted again (defence in depth). */
export function packetViewModel(input: ResultsFile, options: PacketOptions = {}) {
  const results = redactValue(input).value;
  const title = options.title ?? DEFAULT_TITLE;
  const all = [...results.results].sort(byControlCheckResource);
  const findings = all.filter((r) => r.status === 'fail' || r.status === 'error');
  const totals = emptyCounts();
  for (const r of all) totals[r.status] = (totals[r.status] ?? 0) + 1;
  const tags = Object.keys(results.scope.tags ?? {})
    .sort(cmp)
    .map((key) => ({ key, value: results.scope.tags[key] }));
  const signing = results.signing
    ? {
        algorithm: ALGORITHM_LABELS[results.signing.algorithm] ?? results.signing.algorithm,
        algorithmId: results.signing.algorithm,
        fingerprint: results.signing.fingerprint,
        ephemeral: results.signing.ephemeral,
        keySource: results.signing.keySource,
        keyVault: /^azurekeyvault:/i.test(results.signing.keySource),
        verifyCommand: VERIFY_COMMANDS[results.signing.algorithm],
      }
    : undefined;
  const evidenceIndex = options.evidenceIndex
    ? [...options.evidenceIndex].sort((a, b) => cmp(a.path, b.path)).map((e) => redactValue(e).value)
    : undefined;
  const waivers = redactValue(options.waivers ?? waiversFromResults(results)).value;
  const attestations = redactValue(options.attestations ?? attestationsFromResults(results)).value;
  const pdfSignature = options.pdfSignature
    ? { ...options.pdfSignature, sameKey: Boolean(results.signing && options.pdfSignature.publicKeyFingerprint === results.signing.fingerprint) }
    : undefined;
  // Only the fields the packet shows: a catalog's examples and fixtures are large and never printed.
  const definitions: PacketControlDefinition[] = (options.controls ?? []).map((d) => ({
    id: d.id,
    title: d.title,
    objective: d.objective,
    description: d.description,
    nist_ai_rmf: d.nist_ai_rmf,
    sp800_53: d.sp800_53,
    checks: d.checks?.map((k) => ({
      id: k.id,
      title: k.title,
      severity: k.severity,
      resource_type: k.resource_type,
      applicability: k.applicability,
      remediation: k.remediation,
      reperform: k.reperform,
      policy_definition_id: k.policy_definition_id,
    })),
  }));
  const controls = controlSections(results, all, redactValue(definitions).value, options.reference, waivers, attestations, options.passingDetail ?? 'full', options.htmlListsEvery ?? true);
  const observations = redactValue(probeView(options.documents)).value;
  const organisation = options.organisation !== undefined ? redactValue(options.organisation).value : undefined;
  return {
    title,
    organisation,
    compactFindings: options.findingDetail === 'compact',
    tool: results.tool,
    version: results.version,
    runId: results.runId,
    startedAt: results.startedAt,
    finishedAt: results.finishedAt,
    demo: results.scope.demo === true,
    scope: {
      tenantId: dash(results.scope.tenantId),
      subscriptions: [...results.scope.subscriptions].sort(cmp),
      managementGroups: [...results.scope.managementGroups].sort(cmp),
      tags,
      source: results.scope.source,
      sourceLabel: SOURCE_LABELS[results.scope.source] ?? results.scope.source,
    },
    signing,
    pdfSignature,
    totals: countsView(totals),
    charts: chartsView(results.controls, all),
    controls,
    checks: checkRows(all),
    findingCount: findings.length,
    observations,
    hasObservations: observations.length > 0,
    waivers,
    attestations,
    hasWaiversOrAttestations: waivers.length > 0 || attestations.length > 0,
    coverage: coverageView(results),
    evidenceIndex,
    diff: options.diff ? redactValue(options.diff).value : undefined,
  };
}

export type PacketViewModel = ReturnType<typeof packetViewModel>;
