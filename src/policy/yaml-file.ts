/**
 * Reads one YAML input file (waivers, attestations) and validates it against a JSON Schema with the shared ajv; every
 * problem becomes an InputError naming the file, the line and the field, collected into one ValidationError (exit 2).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { displayPath, lineAt } from '../util/yaml-lines.js';
import { ajv, type ErrorObject, type ValidateFunction } from '../controls/ajv.js';
import { type EngramError, InputError, ValidationError } from '../errors.js';
import { packagePath } from '../util/paths.js';

/** A parsed YAML file with what is needed to point at a line. */
export interface YamlFile {
  file: string;
  /** The path as shown in messages (relative to the working directory when inside it). */
  display: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

export { displayPath, lineAt } from '../util/yaml-lines.js';

/** Reads and parses `file`; unreadable or malformed YAML is an InputError with the line. */
export function readYaml(file: string, what: string, code: string): YamlFile {
  const display = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${code}_UNREADABLE`, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: display,
      hint: 'Check the path and its permissions.',
    });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(`${code}_YAML`, `malformed YAML in ${what}: ${e.message.split('\n')[0]}`, {
      file: display,
      line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line,
      hint: 'Fix the YAML syntax (indentation, quoting, a missing colon) at this line.',
    });
  }
  return { file, display, doc, lines, value: doc.toJS({ maxAliasCount: 100 }) as unknown };
}

const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of schemas/<name> (compiled once on the shared ajv). */
export function schemaValidator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const schema = JSON.parse(readFileSync(packagePath('schemas', name), 'utf8')) as { $id: string };
    v = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
    compiled.set(name, v);
  }
  return v;
}

function describe(e: ErrorObject): { pointer: string; message: string } {
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { pointer: `${e.instancePath}/${missing}`, message: `missing required field "${missing}"` };
    }
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return { pointer: `${e.instancePath}/${extra}`, message: `unknown field "${extra}"` };
    }
    case 'format':
      return { pointer: e.instancePath, message: `must be a ${(e.params as { format: string }).format} (${(e.params as { format: string }).format === 'date' ? 'YYYY-MM-DD' : 'see the schema'})` };
    case 'pattern':
      return { pointer: e.instancePath, message: `does not have the required form (${(e.params as { pattern: string }).pattern})` };
    default:
      return { pointer: e.instancePath, message: e.message ?? `fails ${e.keyword}` };
  }
}

/**
 * Validates a parsed file against schemas/<schema>; returns the problems (empty when valid), each with file, line and
 * field, and `hint` telling where the format is documented.
 */
export function schemaProblems(y: YamlFile, schema: string, code: string, hint: string): EngramError[] {
  const validate = schemaValidator(schema);
  if (validate(y.value)) return [];
  const seen = new Set<string>();
  const out: EngramError[] = [];
  for (const e of validate.errors ?? []) {
    const d = describe(e);
    const key = `${d.pointer}|${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(new InputError(code, d.message, { file: y.display, line: lineAt(y, d.pointer), field: d.pointer || '/', hint }));
  }
  return out;
}

/** Throws one ValidationError listing every problem, or nothing. */
export function throwIfProblems(what: string, problems: EngramError[]): void {
  if (problems.length === 0) return;
  if (problems.length === 1) throw problems[0]!;
  throw new ValidationError(`${problems.length} problems in ${what}`, problems);
}
