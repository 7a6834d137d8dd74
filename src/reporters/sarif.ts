/**
 * SARIF 2.1.0 reporter for GitHub code scanning and Azure DevOps: one rule per check, one result per failing resource,
 * resource ids as logical locations, `error` results and collection errors as tool execution notifications.
 * See docs/outputs.md for the mapping tables.
 */
import { canonicalJson } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';
import { redactString } from '../evidence/redact.js';
import type { ControlSummary, Result, ResultsFile, Severity, Status } from '../model.js';
import { SEVERITIES } from '../model.js';

/** The SARIF level and GitHub `security-severity` for each severity: the one table every SARIF output uses. */
export const SARIF_SEVERITY: Readonly<Record<Severity, { level: 'error' | 'warning' | 'note'; securitySeverity?: string }>> = {
  critical: { level: 'error', securitySeverity: '9.5' },
  high: { level: 'error', securitySeverity: '8.0' },
  medium: { level: 'warning', securitySeverity: '5.5' },
  low: { level: 'note', securitySeverity: '2.0' },
  // GitHub treats 0.1-3.9 as low; info has no security severity, so GitHub files it by level (note) alone.
  info: { level: 'note' },
};

/** What each result status becomes in SARIF. */
export const SARIF_STATUS: Readonly<Record<Status, 'result' | 'notification' | 'omitted'>> = {
  fail: 'result',
  error: 'notification',
  pass: 'omitted',
  not_applicable: 'omitted',
  manual: 'omitted',
};

/** The physical location every result points at: GitHub rejects a result without one, and Azure has no source file. */
export const SARIF_DEFAULT_ARTIFACT = 'results.json';

export interface SarifOptions {
  /**
   * Whether the run itself succeeded, as the caller knows it (e.g. false when a collector crashed). The invocation is
   * marked unsuccessful when this is false OR any result is `error` OR the coverage lists collection errors.
   */
  executionSuccessful?: boolean;
  /** Overrides `results.version` as the driver version. */
  toolVersion?: string;
  /** The repository-relative path results point at; default `results.json`. */
  artifactUri?: string;
}

const SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

function byResult(a: Result, b: Result): number {
  const ka = [a.control, a.check, a.resourceId.toLowerCase(), a.status];
  const kb = [b.control, b.check, b.resourceId.toLowerCase(), b.status];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

function text(s: string): string {
  return redactString(s);
}

function sentence(s: string): string {
  const t = s.trim();
  return t === '' || /[.!?]$/.test(t) ? t : `${t}.`;
}

/** `storage_min_tls` -> `StorageMinTls` (SARIF's `name` is an identifier-like label, the id stays snake_case). */
function pascal(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

function worst(severities: Severity[]): Severity {
  return [...SEVERITIES].find((s) => severities.includes(s)) ?? 'info';
}

/** The stable identity of one finding: control, check and resource (case-insensitive, as Azure compares ids). */
export function sarifFingerprint(r: Pick<Result, 'control' | 'check' | 'resourceId'>): string {
  return sha256Hex(`${r.control}\u0000${r.check}\u0000${r.resourceId.toLowerCase()}`);
}

interface RuleInfo {
  id: string;
  control: ControlSummary | undefined;
  results: Result[];
}

function ruleHelp(info: RuleInfo): string {
  const first = info.results[0]!;
  const lines = [sentence(first.checkTitle)];
  const expected = info.results.find((r) => r.expected)?.expected;
  if (expected) lines.push(`Expected: ${expected}`);
  const withFix = info.results.find((r) => r.remediation?.cli || r.remediation?.bicep);
  if (withFix?.remediation) {
    lines.push(`Remediation (as generated for ${withFix.resourceName}):`);
    if (withFix.remediation.cli) lines.push(`  az CLI: ${withFix.remediation.cli}`);
    if (withFix.remediation.bicep) lines.push(`  Bicep: ${withFix.remediation.bicep}`);
  } else {
    lines.push('Remediation: see the control documentation and the auditor packet for this check.');
  }
  const reperform = info.results.find((r) => r.reperform)?.reperform;
  if (reperform) lines.push(`Re-perform: ${reperform}`);
  const policy = info.results.find((r) => r.policyDefinitionId)?.policyDefinitionId;
  if (policy) lines.push(`Azure Policy: ${policy}`);
  if (info.control) {
    lines.push(`Control: ${info.control.id} ${info.control.title}`);
    if (info.control.nistAiRmf.length) lines.push(`NIST AI RMF: ${info.control.nistAiRmf.join(', ')}`);
    if (info.control.sp80053.length) lines.push(`NIST SP 800-53: ${info.control.sp80053.join(', ')}`);
  }
  return text(lines.join('\n'));
}

function location(r: Result, artifactUri: string) {
  return {
    physicalLocation: { artifactLocation: { uri: artifactUri }, region: { startLine: 1 } },
    logicalLocations: [{ fullyQualifiedName: r.resourceId, name: r.resourceName, kind: 'resource' }],
  };
}

/**
 * Renders results as a SARIF 2.1.0 log (canonical JSON, same input, same bytes). Failing results become SARIF results
 * with a level from SARIF_SEVERITY; `error` results and collection errors become toolExecutionNotifications and mark the
 * invocation unsuccessful; pass, not_applicable and manual produce no result, so GitHub closes alerts that are fixed.
 */
export function renderSarif(results: ResultsFile, options: SarifOptions = {}): string {
  const artifactUri = options.artifactUri ?? SARIF_DEFAULT_ARTIFACT;
  const sorted = [...results.results].sort(byResult);
  const controls = new Map(results.controls.map((c) => [c.id, c]));

  // One rule per check, in check-id order; a check that appears under two controls keeps the first control's mapping.
  const infos = new Map<string, RuleInfo>();
  for (const r of sorted) {
    const info = infos.get(r.check) ?? { id: r.check, control: controls.get(r.control), results: [] };
    info.results.push(r);
    infos.set(r.check, info);
  }
  const ruleIds = [...infos.keys()].sort();
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const rules = ruleIds.map((id) => {
    const info = infos.get(id)!;
    const first = info.results[0]!;
    const severity = worst(info.results.map((r) => r.severity));
    const map = SARIF_SEVERITY[severity];
    const tags = ['security', 'compliance', 'azure'];
    if (info.control) {
      tags.push(info.control.id);
      for (const s of info.control.nistAiRmf) tags.push(`NIST-AI-RMF/${s}`);
      for (const s of info.control.sp80053) tags.push(`NIST-SP-800-53/${s}`);
    }
    const properties: Record<string, unknown> = {
      tags,
      precision: 'very-high',
      severity,
      control: first.control,
      resourceTypes: [...new Set(info.results.map((r) => r.resourceType))].sort(),
    };
    if (map.securitySeverity) properties['security-severity'] = map.securitySeverity;
    const policy = info.results.find((r) => r.policyDefinitionId)?.policyDefinitionId;
    if (policy) properties.azurePolicyDefinitionId = policy;
    return {
      id,
      name: pascal(id),
      shortDescription: { text: text(first.checkTitle) },
      fullDescription: {
        text: text(
          `${sentence(first.checkTitle)} Part of ${first.control}${info.control ? ` (${info.control.title})` : ''}.`,
        ),
      },
      help: { text: ruleHelp(info) },
      defaultConfiguration: { level: map.level },
      properties,
    };
  });

  const sarifResults = sorted
    .filter((r) => SARIF_STATUS[r.status] === 'result')
    .map((r) => {
      const parts = [sentence(r.message)];
      if (r.expected) parts.push(`Expected: ${r.expected}.`);
      if (r.actual) parts.push(`Actual: ${r.actual}.`);
      const fp = sarifFingerprint(r);
      const properties: Record<string, unknown> = {
        control: r.control,
        severity: r.severity,
        resourceType: r.resourceType,
      };
      if (r.environment) properties.environment = r.environment;
      if (r.evidence.length) properties.evidence = r.evidence;
      return {
        ruleId: r.check,
        ruleIndex: ruleIndex.get(r.check),
        kind: 'fail',
        level: SARIF_SEVERITY[r.severity].level,
        message: { text: text(parts.join(' ')) },
        locations: [location(r, artifactUri)],
        // GitHub deduplicates alerts on primaryLocationLineHash; every result points at the same line, so the hash is
        // ours (control + check + resource id) rather than one computed from file content.
        partialFingerprints: { primaryLocationLineHash: `${fp.slice(0, 16)}:1`, 'engramFinding/v1': fp },
        // A waived failure stays a result (the resource is not compliant) with an accepted external suppression, so
        // GitHub code scanning and other consumers show it as dismissed with the waiver's justification.
        ...(r.waived && r.waiver
          ? {
              suppressions: [
                {
                  kind: 'external',
                  status: 'accepted',
                  justification: text(`${r.waiver.justification} Approved by ${r.waiver.approver}; compensating control: ${r.waiver.compensatingControl}; expires ${r.waiver.expires}.`),
                  properties: { waiver: r.waiver.id, approver: r.waiver.approver, expires: r.waiver.expires, compensatingControl: r.waiver.compensatingControl },
                },
              ],
            }
          : {}),
        properties,
      };
    });

  const notifications: Record<string, unknown>[] = [];
  for (const r of sorted.filter((x) => SARIF_STATUS[x.status] === 'notification')) {
    notifications.push({
      level: 'error',
      message: { text: text(`${sentence(r.message)} The check could not be evaluated; the run is incomplete.`) },
      locations: [location(r, artifactUri)],
      associatedRule: { id: r.check, index: ruleIndex.get(r.check) },
      descriptor: { id: 'evaluation-error' },
      properties: { control: r.control, resourceId: r.resourceId, status: r.status },
    });
  }
  const collectionErrors = [...results.coverage.errors].sort((a, b) =>
    `${a.collector}\u0000${a.scope}\u0000${a.resourceId ?? ''}` < `${b.collector}\u0000${b.scope}\u0000${b.resourceId ?? ''}` ? -1 : 1,
  );
  for (const e of collectionErrors) {
    const n: Record<string, unknown> = {
      level: 'error',
      message: { text: text(`${e.collector} could not collect from ${e.scope}: ${e.code}: ${e.message}`) },
      descriptor: { id: 'collection-error' },
      properties: { collector: e.collector, scope: e.scope, code: e.code },
    };
    if (e.resourceId) {
      n.locations = [{ logicalLocations: [{ fullyQualifiedName: e.resourceId, kind: 'resource' }] }];
    }
    notifications.push(n);
  }

  const anyError = results.results.some((r) => r.status === 'error') || results.coverage.errors.length > 0;
  const executionSuccessful = options.executionSuccessful !== false && !anyError;
  const counts: Record<Status, number> = { pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0 };
  for (const r of results.results) counts[r.status]++;
  const version = options.toolVersion ?? results.version;

  const log = {
    $schema: SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'engram-audit',
            fullName: 'engram-audit: NIST AI RMF compliance evidence for the Azure data tier',
            version,
            semanticVersion: version,
            rules,
          },
        },
        automationDetails: { id: `engram-audit/${results.controls.map((c) => c.id).sort().join('+') || 'none'}/` },
        invocations: [
          {
            executionSuccessful,
            startTimeUtc: results.startedAt,
            endTimeUtc: results.finishedAt,
            toolExecutionNotifications: notifications,
            properties: { runId: results.runId, scopeSource: results.scope.source, demo: results.scope.demo },
          },
        ],
        results: sarifResults,
        columnKind: 'unicodeCodePoints',
        properties: { counts, demo: results.scope.demo },
      },
    ],
  };
  return canonicalJson(log);
}
