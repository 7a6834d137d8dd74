/**
 * Loads controls/*.yaml into a Catalog: parses YAML keeping node ranges, validates against schemas/control.schema.json
 * with the shared ajv instance, then checks what a schema cannot (AI RMF ids exist, parameters referenced are declared,
 * ids unique, fixtures exist, placeholders known). Every problem names file:line, the field (JSON pointer) and what to do;
 * all problems are collected before one ValidationError is thrown.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { EngramError, InputError, ValidationError } from '../errors.js';
import { packagePath } from '../util/paths.js';
import { displayPath, lineAt } from '../util/yaml-lines.js';
import { ajv, CONTROL_SCHEMA_ID, validateControlSchema, type ErrorObject, type ValidateFunction } from './ajv.js';
import { NIST_AI_RMF_SUBCATEGORIES } from './nist-ai-rmf.js';
import type { Catalog, Check, Condition, Control, Example } from './types.js';

/** Placeholders message templates may use (kept in step with src/engine/evaluate.ts). */
const PLACEHOLDERS = new Set(['resource.name', 'resource.id', 'resource.type', 'environment', 'expected', 'actual']);

interface Parsed {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

function problem(p: Parsed, pointer: string, message: string, hint: string): EngramError {
  return new InputError('E_CONTROL_INVALID', message, { file: displayPath(p.file), line: lineAt(p, pointer), field: pointer || '/', hint });
}

/** Picks the errors a human needs from ajv's list: drops the if/then plumbing and duplicates. */
function humanErrors(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  // anyOf-only failures (e.g. a leaf with neither path nor derived) would otherwise vanish.
  return out.length > 0 ? out : errors.slice(0, 1);
}

function describeSchemaError(e: ErrorObject): { pointer: string; message: string; hint: string } {
  const pointer = e.instancePath;
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { pointer: `${pointer}/${missing}`, message: `missing required field "${missing}"`, hint: `Add "${missing}" here (see docs/writing-controls.md).` };
    }
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return { pointer: `${pointer}/${extra}`, message: `unknown field "${extra}"`, hint: 'Remove it or fix its spelling; the allowed fields are listed in docs/writing-controls.md.' };
    }
    case 'enum':
      return {
        pointer,
        message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
        hint: 'Use one of the listed values.',
      };
    case 'pattern':
      return { pointer, message: `does not have the required form (${(e.params as { pattern: string }).pattern})`, hint: hintForPattern(pointer) };
    case 'not':
      return { pointer, message: 'must not start with "Ensure"', hint: 'State the secure state instead, e.g. "Storage accounts require TLS 1.2 or newer".' };
    default:
      return { pointer, message: e.message ?? `fails ${e.keyword}`, hint: 'Fix the value to match schemas/control.schema.json.' };
  }
}

function hintForPattern(pointer: string): string {
  if (/\/checks\/\d+\/id$/.test(pointer)) return 'Check ids are snake_case, e.g. storage_min_tls_version.';
  if (/\/messages\//.test(pointer)) return 'A message names the resource with {resource.name} and ends with a period.';
  if (/nist_ai_rmf/.test(pointer)) return 'Write AI RMF subcategories as "MEASURE 2.7".';
  if (/sp800_53/.test(pointer)) return 'Write SP 800-53 controls as "SC-28" or "SC-28(1)".';
  if (/policy_definition_id$/.test(pointer)) return 'Use /providers/Microsoft.Authorization/policyDefinitions/<guid>.';
  if (/reperform\/request$/.test(pointer)) return 'Write the exact request, e.g. "GET https://management.azure.com{resource.id}?api-version=2025-08-01".';
  if (/^\/id$/.test(pointer)) return 'Control ids look like AI-SEC-01.';
  return 'Fix the value to match schemas/control.schema.json.';
}

function walkConditions(c: Condition | undefined, path: string, visit: (c: Condition, path: string) => void): void {
  if (!c || typeof c !== 'object') return;
  visit(c, path);
  if ('all' in c && Array.isArray(c.all)) c.all.forEach((x, i) => walkConditions(x, `${path}/all/${i}`, visit));
  else if ('any' in c && Array.isArray(c.any)) c.any.forEach((x, i) => walkConditions(x, `${path}/any/${i}`, visit));
  else if ('not' in c) walkConditions(c.not, `${path}/not`, visit);
  else
    for (const k of ['some', 'every', 'none', 'count', 'related', 'lookup'] as const) {
      if (k in c) walkConditions((c as Record<string, { where?: Condition }>)[k]?.where, `${path}/${k}/where`, visit);
    }
}

/** Where a check was written: its own file (a shared check) or an entry of the control file. */
interface Origin {
  p: Parsed;
  /** JSON pointer of the check inside `p` ('' for a shared check file). */
  base: string;
  /** `use` key of a shared check. */
  shared?: string;
}

/** What a schema cannot check. `seenChecks` spans the catalog, so check ids are unique across files. */
function semanticProblems(p: Parsed, control: Control, origins: Origin[], seenChecks: Map<string, { where: string; shared?: string }>): EngramError[] {
  const out: EngramError[] = [];
  const stem = basename(p.file).replace(/\.ya?ml$/i, '');
  if (stem !== control.id) {
    out.push(problem(p, '/id', `control id "${control.id}" does not match the file name "${basename(p.file)}"`, `Rename the file to ${control.id}.yaml or fix the id.`));
  }
  const checkRmf = (q: Parsed, list: string[] | undefined, pointer: string) =>
    (list ?? []).forEach((id, i) => {
      if (!(id in NIST_AI_RMF_SUBCATEGORIES)) {
        out.push(problem(q, `${pointer}/${i}`, `"${id}" is not a NIST AI RMF 1.0 subcategory`, 'Use an id from NIST AI 100-1 Tables 1-4, e.g. "MEASURE 2.7" (see src/controls/nist-ai-rmf.ts).'));
      }
    });
  checkRmf(p, control.nist_ai_rmf, '/nist_ai_rmf');
  control.checks.forEach((check, ci) => {
    const { p: q, base, shared } = origins[ci] as Origin;
    checkRmf(q, check.nist_ai_rmf, `${base}/nist_ai_rmf`);
    const prior = seenChecks.get(check.id);
    if (prior && !(shared && prior.shared === shared)) {
      out.push(problem(q, `${base}/id`, `check id "${check.id}" is already used in ${prior.where}`, 'Check ids are unique across the catalog; pick another, or share one check with `use:`.'));
    } else if (!prior) seenChecks.set(check.id, { where: `${control.id} (${displayPath(q.file)})`, shared });
    const params = new Set([...Object.keys(control.parameters ?? {}), ...Object.keys(check.parameters ?? {})]);
    const visit = (c: Condition, path: string): void => {
      const refs: Array<[unknown, string]> = [];
      if ('op' in c) refs.push([c.value, `${path}/value`]);
      if ('op' in c && typeof c.param === 'string') refs.push([{ param: c.param }, `${path}/param`]);
      if ('count' in c) refs.push([c.count.value, `${path}/count/value`]);
      for (const [v, ptr] of refs) {
        if (v && typeof v === 'object' && !Array.isArray(v) && 'param' in (v as object)) {
          const name = (v as { param: string }).param;
          if (!params.has(name)) out.push(problem(q, ptr, `parameter "${name}" is not declared`, `Declare it under the check's (or control's) parameters with a default, e.g. ${name}: { default: 90 }.`));
        }
      }
      if ('op' in c && (c.op === 'matches' || c.op === 'not_matches') && typeof c.value === 'string') {
        try {
          new RegExp(c.value, 'u');
        } catch (err) {
          out.push(problem(q, `${path}/value`, `invalid regular expression: ${(err as Error).message}`, 'Fix the pattern (JavaScript syntax, u flag).'));
        }
      }
    };
    walkConditions(check.condition, `${base}/condition`, visit);
    walkConditions(check.select, `${base}/select`, visit);
    walkConditions(check.applies_if, `${base}/applies_if`, visit);
    const templates: Array<[string, string | undefined]> = [
      ['messages/pass', check.messages.pass],
      ['messages/fail', check.messages.fail],
      ['messages/manual', check.messages.manual],
      ['if_no_target/message', check.if_no_target?.message],
    ];
    for (const [kind, template] of templates) {
      if (template === undefined) continue;
      for (const m of template.matchAll(/\{([^}]*)\}/g)) {
        const key = m[1] as string;
        if (!PLACEHOLDERS.has(key) && !(key.startsWith('param.') && params.has(key.slice(6)))) {
          out.push(problem(q, `${base}/${kind}`, `unknown placeholder {${key}}`, `Use one of ${[...PLACEHOLDERS].map((x) => `{${x}}`).join(', ')} or {param.NAME}.`));
        }
      }
    }
    for (const [kind, example] of Object.entries(check.examples) as Array<[string, Example]>) {
      example.documents.forEach((d, di) => {
        if ('fixture' in d && typeof d.fixture === 'string' && !(check.fixtures ?? {})[d.fixture] && !(control.fixtures ?? {})[d.fixture]) {
          out.push(problem(q, `${base}/examples/${kind}/documents/${di}/fixture`, `fixture "${d.fixture}" is not defined`, 'Define it under "fixtures" (the check\'s own, or the control\'s).'));
        }
      });
    }
  });
  return out;
}

/** Lower-cases resource types (Resource Graph lower-cases them) and records where each check was defined. */
function normalise(p: Parsed, control: Control, origins: Origin[]): Control {
  const lowerTypes = (c: Condition | undefined): void =>
    walkConditions(c, '', (node) => {
      if ('related' in node) node.related.type = node.related.type.toLowerCase();
      if ('lookup' in node) node.lookup.type = node.lookup.type.toLowerCase();
    });
  control.source = { file: displayPath(p.file), line: lineAt(p, '/id') };
  control.checks = control.checks.map((check: Check, i) => {
    lowerTypes(check.condition);
    lowerTypes(check.select);
    lowerTypes(check.applies_if);
    const o = origins[i] as Origin;
    return {
      ...check,
      resource_type: check.resource_type.toLowerCase(),
      ...(o.shared ? { shared: o.shared } : {}),
      source: { file: displayPath(o.p.file), line: lineAt(o.p, o.base || '/id') },
    };
  });
  return control;
}

async function parseFile(file: string): Promise<{ parsed?: Parsed; problems: EngramError[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return {
      problems: [new InputError('E_CONTROL_UNREADABLE', `cannot read control file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: displayPath(file), hint: 'Check the path and its permissions.' })],
    };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map(
        (e) =>
          new InputError('E_CONTROL_YAML', `malformed YAML: ${e.message.split('\n')[0]}`, {
            file: displayPath(file),
            line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line,
            hint: 'Fix the YAML syntax (indentation, quoting, a missing colon) at this line.',
          }),
      ),
    };
  }
  const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  return { parsed: { file, doc, lines, value }, problems: [] };
}

interface SharedCheck {
  check?: Check;
  parsed?: Parsed;
  problems: EngramError[];
}

let checkValidator: ValidateFunction | undefined;

/** Loads controls/checks/<use>.yaml once per catalog load: one check, validated alone, whose id equals its file name. */
async function loadShared(file: string, use: string, cache: Map<string, SharedCheck>): Promise<SharedCheck> {
  const cached = cache.get(file);
  if (cached) return cached;
  const result: SharedCheck = { problems: [] };
  cache.set(file, result);
  const { parsed, problems } = await parseFile(file);
  if (!parsed) {
    result.problems.push(...problems);
    return result;
  }
  validateControlSchema();
  checkValidator ??= ajv.compile({ $ref: `${CONTROL_SCHEMA_ID}#/$defs/check` });
  if (!checkValidator(parsed.value)) {
    for (const e of humanErrors(checkValidator.errors ?? [])) {
      const d = describeSchemaError(e);
      result.problems.push(problem(parsed, d.pointer, d.message, d.hint));
    }
    return result;
  }
  const check = parsed.value as Check;
  const stem = use.split('/').pop();
  if (check.id !== stem) {
    result.problems.push(problem(parsed, '/id', `shared check id "${check.id}" does not match its file name "${stem}.yaml"`, `Rename the file or set id: ${stem}.`));
    return result;
  }
  result.check = check;
  result.parsed = parsed;
  return result;
}

/** Validates parsed files; returns the controls that are valid and every problem found. */
async function check(files: string[]): Promise<{ controls: Control[]; problems: EngramError[] }> {
  const validate = validateControlSchema();
  const problems: EngramError[] = [];
  const controls: Control[] = [];
  const seenControls = new Map<string, string>();
  const seenChecks = new Map<string, { where: string; shared?: string }>();
  const sharedCache = new Map<string, SharedCheck>();
  for (const file of files) {
    const { parsed, problems: parseProblems } = await parseFile(file);
    problems.push(...parseProblems);
    if (!parsed) continue;
    if (!validate(parsed.value)) {
      for (const e of humanErrors(validate.errors ?? [])) {
        const d = describeSchemaError(e);
        problems.push(problem(parsed, d.pointer, d.message, d.hint));
      }
      continue;
    }
    const control = parsed.value as Control;
    const prior = seenControls.get(control.id.toUpperCase());
    if (prior) {
      problems.push(problem(parsed, '/id', `control id "${control.id}" is already defined in ${prior}`, 'Each control has one file; remove the duplicate.'));
      continue;
    }
    seenControls.set(control.id.toUpperCase(), displayPath(file));
    const origins: Origin[] = [];
    let sharedFailed = false;
    const entries = control.checks as Array<Check | { use: string }>;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Check | { use: string };
      if ('use' in entry) {
        const got = await loadShared(join(dirname(file), 'checks', `${entry.use}.yaml`), entry.use, sharedCache);
        if (!got.check) {
          sharedFailed = true;
          if (got.problems.length === 0) continue; // already reported for an earlier control
          problems.push(...got.problems.splice(0), problem(parsed, `/checks/${i}/use`, `shared check "${entry.use}" is invalid (see above)`, 'Fix the shared check file.'));
          continue;
        }
        entries[i] = got.check;
        origins[i] = { p: got.parsed as Parsed, base: '', shared: entry.use };
      } else origins[i] = { p: parsed, base: `/checks/${i}` };
    }
    if (sharedFailed) continue;
    const semantic = semanticProblems(parsed, control, origins, seenChecks);
    problems.push(...semantic);
    if (semantic.length === 0) controls.push(normalise(parsed, control, origins));
  }
  return { controls, problems };
}

/** Validates control files and returns every problem found (empty when all are valid). Never throws for bad content. */
export async function validateControlFiles(files: string[]): Promise<EngramError[]> {
  return (await check(files)).problems;
}

/** Lists controls/*.yaml (sorted) in `dir`. */
async function controlFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new InputError('E_CONTROLS_DIR', `cannot read the controls directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: displayPath(dir),
      hint: 'Pass a directory that holds <ID>.yaml control files.',
    });
  }
  return names
    .filter((n) => /\.ya?ml$/i.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Loads and validates every control in `dir` (default: the package's controls/). Throws ValidationError listing every
 * problem (file:line, field, hint) if any file is invalid, or InputError if the directory has no controls.
 */
export async function loadCatalog(dir: string = packagePath('controls')): Promise<Catalog> {
  const files = await controlFiles(dir);
  if (files.length === 0) {
    throw new InputError('E_CONTROLS_EMPTY', 'no control files found', { file: displayPath(dir), hint: 'Add <ID>.yaml control files, or point at the right directory.' });
  }
  const { controls, problems } = await check(files);
  if (problems.length > 0) {
    throw new ValidationError(`${problems.length} problem(s) in control files`, problems, {
      file: displayPath(dir),
      hint: 'Fix each problem listed; `engram-audit controls validate FILE` re-checks one file.',
    });
  }
  controls.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(controls.map((c) => [c.id.toUpperCase(), c]));
  return { controls, get: (id: string) => byId.get(id.trim().toUpperCase()) };
}

/**
 * The controls named by `ids` (case-insensitive), in catalog order, or every control for `'all'`. Throws InputError
 * naming the unknown id and listing the known ones.
 */
export function selectControls(catalog: Catalog, ids: string[] | 'all'): Control[] {
  if (ids === 'all') return [...catalog.controls];
  const wanted = new Set<string>();
  for (const id of ids) {
    const control = catalog.get(id);
    if (!control) {
      const known = catalog.controls.map((c) => c.id).join(', ');
      throw new InputError('E_UNKNOWN_CONTROL', `unknown control "${id}"`, { field: '--control', hint: `Known controls: ${known}. Use --all for every control.` });
    }
    wanted.add(control.id);
  }
  return catalog.controls.filter((c) => wanted.has(c.id));
}
