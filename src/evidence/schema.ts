/** The evidence JSON Schema (schemas/evidence.schema.json), compiled once with ajv 8 + ajv-formats. */
import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { packagePath } from '../util/paths.js';

/** Where the schema lives in the package. */
export const EVIDENCE_SCHEMA_PATH = 'schemas/evidence.schema.json';
const SCHEMA_ID = 'https://engram-audit.dev/schemas/evidence.schema.json';

// ajv ships CommonJS with `exports.default`; under NodeNext the default import is the module object.
type AjvClass = typeof Ajv2020Module.default;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;
type AddFormats = typeof addFormatsModule.default;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as AddFormats;

let validators: { snapshot: ValidateFunction; index: ValidateFunction } | undefined;

function load(): { snapshot: ValidateFunction; index: ValidateFunction } {
  if (validators) return validators;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const schema = JSON.parse(readFileSync(packagePath(EVIDENCE_SCHEMA_PATH), 'utf8'));
  ajv.addSchema(schema);
  const snapshot = ajv.getSchema(SCHEMA_ID);
  const index = ajv.getSchema(`${SCHEMA_ID}#/$defs/index`);
  if (!snapshot || !index) throw new Error(`engram-audit: ${EVIDENCE_SCHEMA_PATH} is missing its snapshot or index schema`);
  validators = { snapshot, index };
  return validators;
}

/** Validates a snapshot object; returns ajv's errors (empty when valid). */
export function validateSnapshotShape(value: unknown): ErrorObject[] {
  const v = load().snapshot;
  return v(value) ? [] : [...(v.errors ?? [])];
}

/** Validates an evidence/index.json object; returns ajv's errors (empty when valid). */
export function validateIndexShape(value: unknown): ErrorObject[] {
  const v = load().index;
  return v(value) ? [] : [...(v.errors ?? [])];
}
