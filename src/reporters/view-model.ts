/**
 * The packet view model: everything the HTML templates show, computed from a ResultsFile in one place so the templates
 * hold no logic beyond `#if` and `#each`. Pure and deterministic (explicit code-point sort orders, no clock).
 */
import { redactValue } from '../evidence/redact.js';
import type { CollectionError, Result, ResultsFile, Severity, Status, StatusCounts } from '../model.js';
import { SEVERITIES, STATUSES, emptyCounts } from '../model.js';

/** One file listed in the packet's evidence index. */
export interface EvidenceIndexEntry {
  path: string;
  sha256: string;
}

/** Options shared by the HTML packet and its view model. */
export interface PacketOptions {
  /** Every evidence file of the bundle with its SHA-256; shown as an evidence index when given. */
  evidenceIndex?: EvidenceIndexEntry[];
  /** Document title (HTML `<title>`, PDF title and header). Defaults to "engram-audit compliance evidence packet". */
  title?: string;
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
  rsa: 'RSA (SHA-256)',
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

function resultView(r: Result, index: number) {
  return {
    anchor: `finding-${index + 1}`,
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
    remediationCli: r.remediation?.cli,
    remediationBicep: r.remediation?.bicep,
    hasRemediation: Boolean(r.remediation?.cli || r.remediation?.bicep),
    reperform: r.reperform,
    policyDefinitionId: r.policyDefinitionId,
    /** Set for a failure an in-force waiver covers: the row is marked Waived and shows the waiver. */
    waived: Boolean(r.waived && r.waiver),
    waiver: r.waived && r.waiver ? { ...r.waiver, where: r.waiver.file ? `${r.waiver.file}${r.waiver.line ? `:${r.waiver.line}` : ''}` : undefined } : undefined,
    /** Evidence ids, the resource's own document shown as such (it repeats the id printed beside it). */
    evidence: r.evidence.map((id) => (id === r.resourceId ? { id: 'the resource document', own: true } : { id, own: false })),
  };
}

export type ResultView = ReturnType<typeof resultView>;

function byControlCheckResource(a: Result, b: Result): number {
  return cmp(a.control, b.control) || cmp(a.check, b.check) || cmp(a.resourceId, b.resourceId) || cmp(a.status, b.status);
}

/** Findings (fail and error) grouped by check, most severe check first. */
function findingGroups(findings: Result[]) {
  const groups = new Map<string, Result[]>();
  for (const r of findings) {
    const key = `${r.control}\u0000${r.check}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const worst = (rs: Result[]) => Math.min(...rs.map((r) => severityRank(r.severity)));
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
      results: sorted.map((r) => resultView(r, n++)),
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

const WAIVER_STATES: Record<string, string> = {
  applied: 'Applied',
  expired: 'EXPIRED: no longer applies',
  unmatched: 'Matched nothing',
};

/** The waivers section: every waiver given and what became of it (absent when no waiver file was given). */
function waiversView(results: ResultsFile) {
  if (!results.waivers) return undefined;
  const list = results.waivers.map((w) => ({
    ...w,
    stateLabel: WAIVER_STATES[w.state] ?? w.state,
    where: w.file ? `${w.file}${w.line ? `:${w.line}` : ''}` : '—',
    resources: w.resources,
  }));
  return {
    list,
    applied: list.filter((w) => w.state === 'applied').length,
    expired: list.filter((w) => w.state === 'expired').length,
    unmatched: list.filter((w) => w.state === 'unmatched').length,
    waivedResults: results.results.filter((r) => r.waived).length,
  };
}

/** The attestations section (absent when none were given). */
function attestationsView(results: ResultsFile) {
  if (!results.attestations) return undefined;
  return { list: results.attestations.map((a) => ({ ...a })) };
}

/** Builds the view model for the packet templates. Strings are redacted again (defence in depth). */
export function packetViewModel(input: ResultsFile, options: PacketOptions = {}) {
  const results = redactValue(input).value;
  const title = options.title ?? DEFAULT_TITLE;
  const all = [...results.results].sort(byControlCheckResource);
  const findings = all.filter((r) => r.status === 'fail' || r.status === 'error');
  const passing = all.filter((r) => r.status === 'pass').map(resultView);
  const other = all.filter((r) => r.status === 'not_applicable' || r.status === 'manual').map(resultView);
  const totals = emptyCounts();
  for (const r of all) totals[r.status] = (totals[r.status] ?? 0) + 1;
  const tags = Object.keys(results.scope.tags ?? {})
    .sort(cmp)
    .map((key) => ({ key, value: results.scope.tags[key] }));
  const signing = results.signing
    ? {
        algorithm: ALGORITHM_LABELS[results.signing.algorithm] ?? results.signing.algorithm,
        fingerprint: results.signing.fingerprint,
        ephemeral: results.signing.ephemeral,
        keySource: results.signing.keySource,
      }
    : undefined;
  const evidenceIndex = options.evidenceIndex
    ? [...options.evidenceIndex].sort((a, b) => cmp(a.path, b.path)).map((e) => redactValue(e).value)
    : undefined;
  return {
    title,
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
    totals: countsView(totals),
    controls: results.controls.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      statusLabel: STATUS_LABELS[c.status] ?? c.status,
      counts: countsView(c.counts),
      waived: c.waived ?? 0,
      nistAiRmf: c.nistAiRmf,
      sp80053: c.sp80053,
    })),
    checks: checkRows(all),
    findingGroups: findingGroups(findings),
    findingCount: findings.length,
    passing,
    other,
    coverage: coverageView(results),
    evidenceIndex,
    waivers: waiversView(results),
    attestations: attestationsView(results),
  };
}

export type PacketViewModel = ReturnType<typeof packetViewModel>;
