/**
 * Attestations (AI-GOV-01): manual statements as YAML files (schemas/attestation.schema.json, docs/attestations.md)
 * with owner, date, expiry, the check they satisfy and attached evidence files. Each becomes an evidence document
 * `attestation://<file stem>` of type `engram.attestation` carrying the attached files' SHA-256 digests; the YAML and
 * the attached files are copied into the bundle under attestations/ so SHA256SUMS covers them. Whether an attestation
 * satisfies its check is the control's decision; this module only supplies the documents.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { AttestationSummary, AzureDocument, Provenance } from '../model.js';
import { type EngramError, InputError } from '../errors.js';
import { isExpired } from './waivers.js';
import { displayPath, lineAt, readYaml, schemaProblems, throwIfProblems } from './yaml-file.js';

/** Type of the evidence documents attestations become. */
export const ATTESTATION_TYPE = 'engram.attestation';
/** Bundle directory the attestation files are copied into. */
export const ATTESTATION_DIR = 'attestations';

/** One attached evidence file: as written, where it was read, its digest and its path in the bundle. */
export interface AttachedFile {
  /** Path in the bundle (`attestations/<stem>/<file name>`); also the `path` in the evidence document. */
  path: string;
  sha256: string;
  bytes: Buffer;
}

/** One loaded attestation. */
export interface Attestation {
  /** The file stem: the document is `attestation://<stem>`. */
  stem: string;
  /** The YAML as shown in messages. */
  file: string;
  yaml: Buffer;
  yamlSha256: string;
  check: string;
  statement: string;
  owner: string;
  date: string;
  expires: string;
  evidence: AttachedFile[];
}

const HINT = 'See docs/attestations.md for the attestation format (check, statement, owner, date, expires, evidence).';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The YAML files named by --attestations: a file as given, or every *.yaml / *.yml directly in a directory (sorted). */
export function attestationFiles(paths: string[], cwd: string = process.cwd()): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      throw new InputError('E_ATTESTATION_NOT_FOUND', `attestation file or directory not found: ${displayPath(abs)}`, {
        file: displayPath(abs),
        field: '--attestations',
        hint: 'Pass a directory of attestation YAML files or the files themselves.',
      });
    }
    if (isDir) {
      const names = readdirSync(abs).filter((n) => /\.ya?ml$/i.test(n)).sort();
      out.push(...names.map((n) => join(abs, n)));
    } else out.push(abs);
  }
  return [...new Set(out)];
}

/**
 * Loads every attestation in `paths` (files or directories). Schema problems, a missing attached file, two files
 * with the same stem, or two attached files with the same name in one attestation are errors with file, line and
 * field (exit 2); all problems are reported together.
 */
export function loadAttestations(paths: string[], cwd: string = process.cwd()): Attestation[] {
  const files = attestationFiles(paths, cwd);
  const problems: EngramError[] = [];
  const out: Attestation[] = [];
  const stems = new Map<string, string>();
  for (const file of files) {
    const y = readYaml(file, 'the attestation file', 'E_ATTESTATION');
    const found = schemaProblems(y, 'attestation.schema.json', 'E_ATTESTATION_INVALID', HINT);
    const stem = basename(file, extname(file));
    if (!SAFE_NAME.test(stem)) {
      found.push(new InputError('E_ATTESTATION_INVALID', `the file name "${stem}" cannot be an attestation id`, { file: y.display, hint: 'Name attestation files with letters, digits, ".", "_" and "-" only, e.g. key-management.yaml.' }));
    } else if (stems.has(stem.toLowerCase())) {
      found.push(new InputError('E_ATTESTATION_INVALID', `two attestations are named "${stem}" (also ${stems.get(stem.toLowerCase())})`, { file: y.display, hint: 'The file stem is the attestation id (attestation://<stem>): rename one.' }));
    }
    stems.set(stem.toLowerCase(), y.display);
    if (found.length > 0) {
      problems.push(...found);
      continue;
    }
    const v = y.value as { check: string; statement: string; owner: string; date: string; expires: string; evidence?: string[] };
    const evidence: AttachedFile[] = [];
    const names = new Set<string>();
    (v.evidence ?? []).forEach((rel, i) => {
      const where = { file: y.display, line: lineAt(y, `/evidence/${i}`), field: `/evidence/${i}` };
      const abs = resolve(dirname(file), rel);
      let bytes: Buffer;
      try {
        bytes = readFileSync(abs);
      } catch (err) {
        problems.push(new InputError('E_ATTESTATION_EVIDENCE_MISSING', `attached evidence file not found: ${rel} (${displayPath(abs)}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, { ...where, hint: 'Paths are relative to the attestation YAML file; fix the path or add the file.' }));
        return;
      }
      const name = basename(abs).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '') || `file-${i + 1}`;
      if (names.has(name.toLowerCase())) {
        problems.push(new InputError('E_ATTESTATION_INVALID', `two attached files are both named ${name}`, { ...where, hint: 'Rename one: attached files are copied side by side into the bundle.' }));
        return;
      }
      names.add(name.toLowerCase());
      evidence.push({ path: `${ATTESTATION_DIR}/${stem}/${name}`, sha256: sha256(bytes), bytes });
    });
    const yaml = readFileSync(file);
    out.push({ stem, file: y.display, yaml, yamlSha256: sha256(yaml), check: v.check, statement: v.statement, owner: v.owner, date: v.date, expires: v.expires, evidence });
  }
  throwIfProblems('the attestations', problems);
  return out.sort((a, b) => (a.stem < b.stem ? -1 : a.stem > b.stem ? 1 : 0));
}

/** The evidence document of an attestation (the contract AI-GOV-01's checks read; docs/attestations.md). */
export function attestationDocument(a: Attestation): AzureDocument {
  return {
    id: `attestation://${a.stem}`,
    type: ATTESTATION_TYPE,
    name: a.stem,
    properties: {
      check: a.check,
      statement: a.statement,
      owner: a.owner,
      date: a.date,
      expires: a.expires,
      evidence: a.evidence.map((e) => ({ path: e.path, sha256: e.sha256 })),
    },
  };
}

/** Provenance of an attestation document: the YAML file as given (in the bundle at attestations/<stem>.<ext>) and its digest. */
export function attestationProvenance(a: Attestation, now: Date): Provenance {
  return { documentId: `attestation://${a.stem}`, source: 'snapshot', url: bundleYamlPath(a), time: now.toISOString(), bodySha256: a.yamlSha256, redacted: false };
}

function bundleYamlPath(a: Attestation): string {
  return `${ATTESTATION_DIR}/${a.stem}.yaml`;
}

/** The files to copy into the bundle: each YAML as `attestations/<stem>.yaml`, its attachments under `attestations/<stem>/`. */
export function attestationBundleFiles(attestations: Attestation[]): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const a of attestations) {
    files[bundleYamlPath(a)] = a.yaml;
    for (const e of a.evidence) files[e.path] = e.bytes;
  }
  return files;
}

/** results.json's `attestations` block: each attestation with `expired` judged at `now`. */
export function attestationSummaries(attestations: Attestation[], now: Date): AttestationSummary[] {
  return attestations.map((a) => ({
    id: `attestation://${a.stem}`,
    check: a.check,
    statement: a.statement,
    owner: a.owner,
    date: a.date,
    expires: a.expires,
    expired: isExpired(a.expires, now),
    evidence: a.evidence.map((e) => ({ path: e.path, sha256: e.sha256 })),
  }));
}
