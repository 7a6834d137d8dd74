/**
 * OSCAL 1.1.3 assessment-results reporter: one result per run, an observation per check and resource linking to the
 * bundle's evidence files and their SHA-256, findings per control and SP 800-53 objective. See docs/outputs.md.
 */
import { InputError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import type { ControlSummary, Result, ResultsFile, Status } from '../model.js';
import { canonicalJson } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';

/** Namespace of engram-audit's own props (control-id, check-id, status, sha256, ...). */
export const OSCAL_NS = 'urn:engram-audit:oscal';
/** Namespace of the NIST AI RMF props: name `subcategory`, value as NIST writes it (`MEASURE 2.7`). */
export const OSCAL_AI_RMF_NS = 'urn:engram-audit:oscal:nist-ai-rmf';
/** The OSCAL version this reporter writes and is tested against. */
export const OSCAL_VERSION = '1.1.3';
/** What `import-ap` points at by default: engram-audit has no OSCAL assessment plan; results.json records the plan. */
export const OSCAL_DEFAULT_IMPORT_AP = 'results.json';

/** One evidence file of the bundle: its bundle-relative path, SHA-256 (hex) and the document ids it holds. */
export interface EvidenceIndexEntry {
  path: string;
  sha256: string;
  documents?: string[];
}

export interface OscalOptions {
  /** The bundle's evidence files; observations link to the files holding their result's evidence documents. */
  evidenceIndex: EvidenceIndexEntry[];
  /** UUIDv4 generator; default a generator seeded by the run id, so the same run renders the same bytes. */
  uuid?: () => string;
  /** Override of `import-ap.href` (default `results.json`). */
  assessmentPlanHref?: string;
}

/** The objective state and reason each control status becomes (OSCAL allows only satisfied / not-satisfied). */
export const OSCAL_STATE: Readonly<Record<Status, { state: 'satisfied' | 'not-satisfied'; reason: 'pass' | 'fail' | 'other' }>> = {
  pass: { state: 'satisfied', reason: 'pass' },
  fail: { state: 'not-satisfied', reason: 'fail' },
  // Fail closed: what could not be evaluated, had nothing in scope or awaits attestation is never "satisfied".
  error: { state: 'not-satisfied', reason: 'other' },
  not_applicable: { state: 'not-satisfied', reason: 'other' },
  manual: { state: 'not-satisfied', reason: 'other' },
};

const STATE_REMARKS: Readonly<Record<Status, string>> = {
  pass: 'Every applicable check passed on every resource in scope.',
  fail: 'At least one check failed on at least one resource.',
  error: 'At least one check could not be evaluated (missing evidence or a collection error); the objective is not shown as satisfied until it can be.',
  not_applicable: 'No resource in scope was applicable to this control; nothing was assessed, so the objective is not shown as satisfied.',
  manual: 'The control awaits a manual, signed attestation.',
};

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID version 4 (the only version this reporter writes). */
export function isUuidV4(value: string): boolean {
  return UUID_V4.test(value);
}

/**
 * A deterministic UUIDv4 generator: SHA-256 of `seed:n` with the version and variant bits set. The run id is the seed,
 * so one run always renders the same OSCAL while two runs never share ids.
 */
export function seededUuidV4(seed: string): () => string {
  let n = 0;
  return () => {
    const b = Buffer.from(sha256Hex(`${seed}:${n++}`).slice(0, 32), 'hex');
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}

/** `SC-28` -> `sc-28`, `SC-8(1)` -> `sc-8.1`: the OSCAL control-id of an SP 800-53 id as control files write it. */
export function oscalControlId(sp80053: string): string {
  const m = /^\s*([A-Za-z]{2})-(\d+)(?:\s*\((\d+)\))?\s*$/.exec(sp80053);
  if (!m) {
    throw new InputError('E_OSCAL_CONTROL_ID', `cannot map ${JSON.stringify(sp80053)} to an OSCAL SP 800-53 control id`, {
      field: 'controls[].sp80053',
      hint: 'write SP 800-53 ids as the catalog does: SC-28, SC-8(1), CP-2(2)',
    });
  }
  return `${m[1]!.toLowerCase()}-${Number(m[2])}${m[3] ? `.${Number(m[3])}` : ''}`;
}

/** OSCAL's StringDatatype forbids line breaks and edge whitespace; props carry hostile text, so flatten it. */
function str(value: string): string | undefined {
  const v = redactString(value).replace(/[\r\n\u2028\u2029\t]+/g, ' ').trim();
  return v === '' ? undefined : v;
}

/**
 * OSCAL titles, descriptions and remarks are Markdown (markup-line / markup-multiline), which viewers turn into HTML:
 * backslash-escape the characters that would let a hostile resource name inject HTML or entities.
 */
function md(value: string): string {
  return redactString(value).replace(/[\\<>&]/g, (c) => `\\${c}`);
}

type Prop = { name: string; value: string; ns?: string; class?: string };
function prop(name: string, value: string | undefined, ns = OSCAL_NS): Prop[] {
  const v = value === undefined ? undefined : str(value);
  return v === undefined ? [] : [{ name, value: v, ns }];
}

/** A bundle-relative path as a URI reference: each segment percent-encoded, so hostile names stay one valid href. */
function hrefFor(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

function mediaType(path: string): string {
  if (/\.json$/i.test(path)) return 'application/json';
  if (/\.jsonl$/i.test(path)) return 'application/jsonl';
  if (/\.(txt|sums)$/i.test(path) || /SHA256SUMS$/.test(path)) return 'text/plain';
  return 'application/octet-stream';
}

function byResult(a: Result, b: Result): number {
  const ka = [a.control, a.check, a.resourceId.toLowerCase(), a.status];
  const kb = [b.control, b.check, b.resourceId.toLowerCase(), b.status];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

function derivedStatus(list: Result[]): Status {
  for (const s of ['fail', 'error', 'manual', 'pass'] as Status[]) if (list.some((r) => r.status === s)) return s;
  return 'not_applicable';
}

function validateIndex(index: EvidenceIndexEntry[]): EvidenceIndexEntry[] {
  const problems: string[] = [];
  index.forEach((e, i) => {
    if (typeof e.path !== 'string' || e.path.trim() === '') problems.push(`evidenceIndex[${i}].path is empty`);
    if (!/^[0-9a-f]{64}$/i.test(e.sha256 ?? '')) problems.push(`evidenceIndex[${i}].sha256 is not a hex SHA-256`);
  });
  if (problems.length) {
    throw new InputError('E_OSCAL_EVIDENCE_INDEX', `invalid evidence index: ${problems.join('; ')}`, {
      field: 'evidenceIndex',
      hint: 'pass the bundle manifest entries: { path, sha256 (64 hex), documents? }',
    });
  }
  return [...index].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Renders results as OSCAL 1.1.3 assessment-results (canonical JSON). Throws InputError when the evidence index has a
 * malformed digest, a control names an SP 800-53 id that does not parse, or the injected generator returns a
 * non-v4 UUID.
 */
export function renderOscal(results: ResultsFile, options: OscalOptions): string {
  const gen = options.uuid ?? seededUuidV4(results.runId);
  const uuid = (): string => {
    const u = gen();
    if (!isUuidV4(u)) {
      throw new InputError('E_OSCAL_UUID', `the UUID generator returned ${JSON.stringify(u)}, which is not a UUIDv4`, {
        field: 'options.uuid',
        hint: 'pass a generator of version-4 UUIDs such as crypto.randomUUID, or leave it out for the seeded default',
      });
    }
    return u.toLowerCase();
  };

  const index = validateIndex(options.evidenceIndex);
  const sorted = [...results.results].sort(byResult);

  // Controls: the summaries the engine wrote, plus any control that only appears in results.
  const summaries = new Map<string, ControlSummary>(results.controls.map((c) => [c.id, c]));
  for (const r of sorted) {
    if (!summaries.has(r.control)) {
      const list = sorted.filter((x) => x.control === r.control);
      summaries.set(r.control, {
        id: r.control,
        title: r.control,
        status: derivedStatus(list),
        counts: { pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0 },
        nistAiRmf: [],
        sp80053: [],
      });
    }
  }
  const controls = [...summaries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const documentUuid = uuid();
  const resultUuid = uuid();
  const toolUuid = uuid();

  // Evidence files as back-matter resources: the OSCAL home for a file and its hash.
  const backMatter = index.map((e) => ({ entry: e, uuid: uuid() }));
  const filesByDocument = new Map<string, typeof backMatter>();
  const catchAll = backMatter.filter((b) => !b.entry.documents);
  for (const b of backMatter) {
    for (const d of b.entry.documents ?? []) {
      const key = d.toLowerCase();
      const list = filesByDocument.get(key) ?? [];
      list.push(b);
      filesByDocument.set(key, list);
    }
  }

  // One inventory item per resource, so every observation's subject resolves inside the document.
  const resources = new Map<string, { uuid: string; r: Result }>();
  for (const r of sorted) {
    const key = r.resourceId.toLowerCase();
    if (!resources.has(key)) resources.set(key, { uuid: uuid(), r });
  }

  const origins = [{ actors: [{ type: 'tool', 'actor-uuid': toolUuid }] }];

  const observationsByControl = new Map<string, string[]>();
  const observations = sorted.map((r) => {
    const obsUuid = uuid();
    const list = observationsByControl.get(r.control) ?? [];
    list.push(obsUuid);
    observationsByControl.set(r.control, list);
    // Evidence ids -> files: the files that list the document; a file without a document list holds unspecified
    // documents, so it is linked only when no file names the document.
    const files = new Map<string, (typeof backMatter)[number]>();
    const unmatched: string[] = [];
    for (const id of r.evidence) {
      const hits = filesByDocument.get(id.toLowerCase()) ?? catchAll;
      if (hits.length === 0) unmatched.push(id);
      for (const h of hits) files.set(h.entry.path, h);
    }
    const relevant = [...files.values()].map((f) => ({
      href: hrefFor(f.entry.path),
      description: md(
        `Evidence file ${f.entry.path} (SHA-256 ${f.entry.sha256.toLowerCase()})${
          f.entry.documents ? ` holding ${r.evidence.filter((d) => f.entry.documents!.some((x) => x.toLowerCase() === d.toLowerCase())).join(', ')}` : ''
        }.`,
      ),
      props: [...prop('sha256', f.entry.sha256.toLowerCase()), ...prop('bundle-path', f.entry.path)],
      links: [{ href: `#${f.uuid}`, rel: 'reference', 'media-type': mediaType(f.entry.path) }],
    }));
    const probe = r.evidence.some((id) => /\/probes\/[^/]+$/i.test(id));
    const remarks = [
      `Expected: ${r.expected || '(not recorded)'}`,
      `Actual: ${r.actual || '(not recorded)'}`,
      ...(r.reperform ? [`Re-perform: ${r.reperform}`] : []),
      ...(r.evidence.length === 0 ? ['No evidence document was available for this result.'] : []),
      ...(unmatched.length ? [`Evidence documents not found in the bundle's evidence index: ${unmatched.join(', ')}`] : []),
      ...(r.waived && r.waiver
        ? [`Waived by ${r.waiver.id} (approved by ${r.waiver.approver}, in force until ${r.waiver.expires}): ${r.waiver.justification} Compensating control: ${r.waiver.compensatingControl}`]
        : []),
    ];
    const obs: Record<string, unknown> = {
      uuid: obsUuid,
      title: md(`${r.check}: ${r.resourceName}`),
      description: md(r.message || `${r.check} on ${r.resourceId}: ${r.status}.`),
      props: [
        ...prop('control-id', r.control),
        ...prop('check-id', r.check),
        ...prop('result-status', r.status),
        ...prop('severity', r.severity),
        ...prop('environment', r.environment),
        ...prop('automated', 'true'),
        ...prop('policy-definition-id', r.policyDefinitionId),
        ...(r.waived && r.waiver
          ? [...prop('waived', 'true'), ...prop('waiver-id', r.waiver.id), ...prop('waiver-approver', r.waiver.approver), ...prop('waiver-expires', r.waiver.expires)]
          : []),
      ],
      // TEST for live probe observations, EXAMINE for configuration read from the Azure APIs; both are OSCAL's
      // allowed values. "Automated" is not one of them, so it is recorded as a prop and as a tool origin instead.
      methods: [probe ? 'TEST' : 'EXAMINE'],
      types: [r.status === 'fail' ? 'finding' : 'control-objective'],
      origins,
      subjects: [
        {
          'subject-uuid': resources.get(r.resourceId.toLowerCase())!.uuid,
          type: 'inventory-item',
          title: md(r.resourceId),
        },
      ],
      collected: results.finishedAt,
      remarks: md(remarks.join('\n\n')),
    };
    if (relevant.length) obs['relevant-evidence'] = relevant;
    return obs;
  });

  const findings = controls.flatMap((c) => {
    const airmf = c.nistAiRmf.flatMap((s) => prop('subcategory', s, OSCAL_AI_RMF_NS));
    const mapped = OSCAL_STATE[c.status];
    const related = (observationsByControl.get(c.id) ?? []).map((u) => ({ 'observation-uuid': u }));
    const targets = c.sp80053.length
      ? [...new Set(c.sp80053.map(oscalControlId))].sort()
      : [c.id.toLowerCase().replace(/[^a-z0-9._-]/g, '-')];
    return targets.map((t) => {
      const f: Record<string, unknown> = {
        uuid: uuid(),
        title: md(`${c.id} ${c.title}: ${t}`),
        description: md(
          `${c.id} (${c.title}) is ${c.status.replace('_', ' ')} (pass ${c.counts.pass}, fail ${c.counts.fail}${c.waived ? ` of which ${c.waived} waived` : ''}, error ${c.counts.error}, not applicable ${c.counts.not_applicable}, manual ${c.counts.manual}). ` +
            `${c.id} maps to ${c.sp80053.length ? c.sp80053.join(', ') : 'no SP 800-53 control'} as a whole, so every mapped objective carries the control's status.`,
        ),
        props: [...prop('control-id', c.id), ...prop('control-status', c.status), ...(c.waived ? prop('waived-failures', String(c.waived)) : []), ...airmf],
        origins,
        target: {
          type: 'objective-id',
          'target-id': `${t}_obj`,
          title: `${t} (${c.id})`,
          status: { state: mapped.state, reason: mapped.reason, remarks: STATE_REMARKS[c.status] },
        },
      };
      if (related.length) f['related-observations'] = related;
      return f;
    });
  });

  const selections = controls.map((c) => {
    const ids = [...new Set(c.sp80053.map(oscalControlId))].sort();
    const sel: Record<string, unknown> = {
      description: md(`SP 800-53 Rev 5 controls mapped by ${c.id} ${c.title}.`),
      props: [...prop('control-id', c.id), ...c.nistAiRmf.flatMap((s) => prop('subcategory', s, OSCAL_AI_RMF_NS))],
    };
    if (ids.length) sel['include-controls'] = ids.map((id) => ({ 'control-id': id }));
    return sel;
  });

  const scope = results.scope;
  const demo = scope.demo ? ' DEMO DATA: recorded sample data, not a real estate.' : '';
  const inventory = [...resources.values()].map(({ uuid: u, r }) => ({
    uuid: u,
    description: md(`${r.resourceType} ${r.resourceName}`),
    props: [
      ...prop('asset-id', r.resourceId, 'http://csrc.nist.gov/ns/oscal'),
      ...prop('resource-id', r.resourceId),
      ...prop('resource-type', r.resourceType),
      ...prop('resource-name', r.resourceName),
      ...prop('environment', r.environment),
    ],
  }));

  const resultObj: Record<string, unknown> = {
    uuid: resultUuid,
    title: md(`engram-audit ${controls.map((c) => c.id).join(', ') || 'run'} ${results.runId}`),
    description: md(
      `Automated assessment by engram-audit ${results.version} (source: ${scope.source}) of ${inventory.length} resource(s) in ` +
        `${scope.subscriptions.length} subscription(s)${scope.tenantId ? ` of tenant ${scope.tenantId}` : ''}.${demo}`,
    ),
    start: results.startedAt,
    end: results.finishedAt,
    props: [
      ...prop('run-id', results.runId),
      ...prop('scope-source', scope.source),
      ...prop('demo-data', String(scope.demo)),
      ...scope.subscriptions.flatMap((s) => prop('subscription', s)),
      ...Object.keys(scope.tags)
        .sort()
        .flatMap((k) => prop('scope-tag', `${k}=${scope.tags[k]}`)),
      ...prop('collection-errors', String(results.coverage.errors.length)),
    ],
    'local-definitions': {
      components: [
        {
          uuid: toolUuid,
          type: 'software',
          title: 'engram-audit',
          description: 'The engram-audit command-line tool that collected the evidence and evaluated the checks.',
          props: [...prop('version', results.version)],
          status: { state: 'operational' },
        },
      ],
      ...(inventory.length ? { 'inventory-items': inventory } : {}),
    },
    'reviewed-controls': {
      description: 'The engram-audit controls of this run and the SP 800-53 Rev 5 controls each maps to.',
      'control-selections': selections.length ? selections : [{ description: 'No control was evaluated.' }],
    },
  };
  if (observations.length) resultObj.observations = observations;
  if (findings.length) resultObj.findings = findings;
  const resultRemarks: string[] = [];
  if (results.coverage.errors.length) {
    resultRemarks.push(
      ['Collection errors (each one makes the affected checks `error`, never a pass):', ...results.coverage.errors.map((e) => `- ${e.collector} (${e.scope}${e.resourceId ? `, ${e.resourceId}` : ''}): ${e.code}: ${e.message}`)].join('\n'),
    );
  }
  if (results.waivers?.length) {
    resultRemarks.push(
      [
        'Waivers (an applied waiver marks matching failures as accepted risks; expired and unmatched waivers apply to nothing):',
        ...results.waivers.map((w) => `- ${w.id} (${w.control}/${w.check} on ${w.resource}): ${w.state}, ${w.matched} failure(s); approved by ${w.approver}, expires ${w.expires}`),
      ].join('\n'),
    );
  }
  if (results.attestations?.length) {
    resultRemarks.push(
      [
        'Attestations (manual statements in the evidence as attestation:// documents; their files are in the bundle under attestations/):',
        ...results.attestations.map((a) => `- ${a.id} for ${a.check}: ${a.owner}, ${a.date}, expires ${a.expires}${a.expired ? ' (EXPIRED)' : ''}; ${a.evidence.length} attached file(s)`),
      ].join('\n'),
    );
  }
  if (resultRemarks.length) resultObj.remarks = md(resultRemarks.join('\n\n'));

  const doc: Record<string, unknown> = {
    uuid: documentUuid,
    metadata: {
      title: md(`engram-audit assessment results: ${controls.map((c) => c.id).join(', ') || 'no controls'}${scope.demo ? ' (DEMO DATA)' : ''}`),
      'last-modified': results.finishedAt,
      version: results.runId,
      'oscal-version': OSCAL_VERSION,
      props: [...prop('tool-version', results.version), ...prop('demo-data', String(scope.demo))],
    },
    'import-ap': {
      href: options.assessmentPlanHref ?? OSCAL_DEFAULT_IMPORT_AP,
      remarks:
        'engram-audit publishes no OSCAL assessment plan. The plan of this assessment (scope, controls and checks requested) is recorded in results.json of the same bundle, which this href points to.',
    },
    results: [resultObj],
  };
  if (backMatter.length) {
    doc['back-matter'] = {
      resources: backMatter.map((b) => ({
        uuid: b.uuid,
        title: md(b.entry.path),
        description: b.entry.documents
          ? md(`Evidence file holding ${b.entry.documents.length} document(s).`)
          : 'Evidence file of the bundle.',
        props: [...prop('sha256', b.entry.sha256.toLowerCase())],
        rlinks: [
          {
            href: hrefFor(b.entry.path),
            'media-type': mediaType(b.entry.path),
            hashes: [{ algorithm: 'SHA-256', value: b.entry.sha256.toLowerCase() }],
          },
        ],
      })),
    };
  }
  return canonicalJson({ 'assessment-results': doc });
}
