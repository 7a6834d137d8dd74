/**
 * The shared data model: evidence documents, provenance, scope, results. Every stage speaks these types; they are the
 * in-memory form of the contracts in docs/evidence-format.md and docs/results-format.md (DESIGN.md contracts 1-4).
 */

/** Outcome of one check on one resource. */
export type Status = 'pass' | 'fail' | 'error' | 'not_applicable' | 'manual';
export const STATUSES: readonly Status[] = ['pass', 'fail', 'error', 'not_applicable', 'manual'];

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/**
 * One Azure REST response body for one resource, exactly as the wire returns it (`id`, `type`, `name`, `properties`, ...).
 * Child and extension resources are separate documents tied to their parent by resource-id prefix. Probe observations use
 * the same shape with `type` `engram.probe/<name>` and an `id` of `<target resource id>/probes/<name>`.
 */
export interface AzureDocument {
  id: string;
  type?: string;
  name?: string;
  location?: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Where a document came from: enough for an auditor to re-issue the same request. */
export interface Provenance {
  /** The `id` of the document this record describes. */
  documentId: string;
  /** `azure` (live), `replay` (recorded responses), `snapshot` (a file given to `evaluate`), `probe` (observation). */
  source: 'azure' | 'replay' | 'snapshot' | 'probe';
  method?: string;
  /** Full URL including api-version; never carries a token or SAS (redacted). */
  url?: string;
  status?: number;
  requestId?: string;
  /** ISO-8601 time the response was received (or the observation made). */
  time?: string;
  /** SHA-256 (hex) of the response body as received, before redaction. */
  bodySha256?: string;
  /** True when redaction changed the stored document. */
  redacted?: boolean;
}

/** A failure to collect or observe something; it becomes `error` results, never a silent pass. */
export interface CollectionError {
  /** What failed, e.g. `postgres.configurations`, `resource-graph`, `probe.tls`. */
  collector: string;
  /** The subscription, management group or resource the failure concerns. */
  scope: string;
  /** Resource id when the failure is about one resource (its checks become `error`). */
  resourceId?: string;
  /** Resource type of the documents that could not be collected, lower-case. */
  resourceType?: string;
  code: string;
  message: string;
}

/**
 * A child list that was read successfully (count 0 = collected and empty). It lets the engine tell "there are no
 * diagnostic settings" (a failure) from "the diagnostic settings were never read" (missing evidence, an error).
 */
export interface ListRecord {
  collector: string;
  /** The parent resource id the list belongs to. */
  parentId: string;
  /** Lower-case type of the listed children, e.g. `microsoft.insights/diagnosticsettings`. */
  resourceType: string;
  /** Number of child documents stored from this list. */
  count: number;
}

/** The evidence a run evaluates: a snapshot (DESIGN.md contract 1) plus provenance and collection errors. */
export interface EvidenceSet {
  documents: AzureDocument[];
  provenance: Provenance[];
  errors: CollectionError[];
  /** Child lists known to have been read (absent in hand-made snapshots). */
  lists?: ListRecord[];
}

export interface Scope {
  tenantId?: string;
  subscriptions: string[];
  managementGroups: string[];
  /** Resource tag filters, all must match. */
  tags: Record<string, string>;
  /** `azure` for a live scan, `replay` for recorded responses, `snapshot` for `evaluate --evidence`. */
  source: 'azure' | 'replay' | 'snapshot';
  /** True for bundled demo data: every output is watermarked DEMO DATA. */
  demo: boolean;
  /** Set by `scan --shard i/n`: this run covered only the subscriptions of shard `index` of `count` (docs/pipelines.md). */
  shard?: ShardRef;
  /** Set by `engram-audit merge`: the signed part bundles this run's evidence is the union of. */
  parts?: MergedPart[];
}

/** One shard of a sharded scan: `index` is 1-based, `1 <= index <= count`. */
export interface ShardRef {
  index: number;
  count: number;
}

/** A part bundle a merged run was built from (scope.parts). */
export interface MergedPart {
  /** The part's runId. */
  runId: string;
  /** The part's shard, when it was a sharded scan. */
  shard?: ShardRef;
  /** Subscriptions the part scanned (its coverage.subscriptionsScanned). */
  subscriptions: string[];
  /** SHA-256 fingerprint of the key that signed the part (checked by merge). */
  fingerprint: string;
  /** How far the part's signature was trusted: `given-key`, `trusted-fingerprint` or `integrity-only`. */
  trust: string;
}

/** One leaf of a condition, explained: what was looked at, what was found, what was wanted. */
export interface Explanation {
  /** The document (resource id) the path was read from. */
  documentId?: string;
  path: string;
  operator: string;
  expected: unknown;
  actual: unknown;
  ok: boolean;
  /** True when the property was absent and `actual` is the Azure default the control declares for it. */
  defaulted?: boolean;
}

/** One check evaluated on one resource (DESIGN.md contract 2). */
export interface Result {
  control: string;
  check: string;
  checkTitle: string;
  resourceId: string;
  resourceType: string;
  resourceName: string;
  /** The environment tag value, lower-case, when the resource has one. */
  environment?: string;
  status: Status;
  severity: Severity;
  message: string;
  /** Human-readable expected state, e.g. `properties.minimumTlsVersion in [TLS1_2, TLS1_3]`. */
  expected: string;
  /** Human-readable actual state, e.g. `properties.minimumTlsVersion = "TLS1_0"`. */
  actual: string;
  /** Ids of the evidence documents the result was decided on. */
  evidence: string[];
  explanation?: Explanation[];
  remediation?: { cli?: string; bicep?: string };
  /** The exact request or Resource Graph query and JSON path an auditor can re-check. */
  reperform?: string;
  policyDefinitionId?: string;
  /**
   * True when an in-force waiver covers this failure. The status stays `fail` (the resource is not compliant); exit
   * codes and the "findings" counts leave it out, and every output shows it as waived with `waiver`.
   */
  waived?: boolean;
  /** The waiver that covers this failure (set with `waived`). */
  waiver?: AppliedWaiver;
}

/** The parts of a waiver a waived result carries (docs/waivers.md). */
export interface AppliedWaiver {
  id: string;
  justification: string;
  approver: string;
  /** Last day the waiver is in force (YYYY-MM-DD, inclusive, UTC). */
  expires: string;
  compensatingControl: string;
  /** Waiver file and 1-based line of the entry. */
  file?: string;
  line?: number;
}

/**
 * What became of one waiver in a run: `applied` (waived `matched` failures), `expired` (past its date; the `matched`
 * failures it names stay findings) or `unmatched` (no failing result matched it: fixed, mistyped, or out of scope).
 */
export interface WaiverOutcome extends AppliedWaiver {
  control: string;
  check: string;
  /** Resource id or glob pattern, as written. */
  resource: string;
  state: 'applied' | 'expired' | 'unmatched';
  /** Failing results it matched (for `expired`: would have matched). */
  matched: number;
  /** Resource ids of those results, sorted. */
  resources: string[];
}

/** An attestation in a run (docs/attestations.md): a manual statement with owner, dates and digested evidence files. */
export interface AttestationSummary {
  /** `attestation://<file stem>`, the evidence document id. */
  id: string;
  /** The id of the check the attestation satisfies, as written (e.g. `key_management_responsibilities_attested`). */
  check: string;
  statement: string;
  owner: string;
  /** Date attested (YYYY-MM-DD). */
  date: string;
  /** Last day in force (YYYY-MM-DD, inclusive, UTC). */
  expires: string;
  /** True when `expires` is before the run's date. */
  expired: boolean;
  /** Attached files, paths relative to the bundle's attestations/ directory, with SHA-256. */
  evidence: Array<{ path: string; sha256: string }>;
}

export type StatusCounts = Record<Status, number>;

export interface ControlSummary {
  id: string;
  title: string;
  status: Status;
  counts: StatusCounts;
  /** How many of `counts.fail` are covered by an in-force waiver (absent = none or no waivers given). */
  waived?: number;
  nistAiRmf: string[];
  sp80053: string[];
}

/** How the signing key is described in outputs. */
export interface SigningInfo {
  algorithm: 'ed25519' | 'ecdsa-p256' | 'rsa' | string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex, colon-free. */
  fingerprint: string;
  /** True when no key was given and a throw-away key was made for this run. */
  ephemeral: boolean;
  keySource: string;
}

export interface Coverage {
  subscriptionsRequested: string[];
  subscriptionsScanned: string[];
  resourcesByType: Record<string, number>;
  documents: number;
  errors: CollectionError[];
}

/** results.json (DESIGN.md contract 2). */
export interface ResultsFile {
  tool: 'engram-audit';
  version: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  scope: Scope;
  coverage: Coverage;
  signing?: SigningInfo;
  controls: ControlSummary[];
  results: Result[];
  /** Every waiver given with --waivers and what became of it (absent when no waiver file was given). */
  waivers?: WaiverOutcome[];
  /** Every attestation given with --attestations (absent when none were given). */
  attestations?: AttestationSummary[];
}

export function emptyCounts(): StatusCounts {
  return { pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0 };
}
