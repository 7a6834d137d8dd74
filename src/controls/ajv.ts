/**
 * The one ajv instance (JSON Schema draft 2020-12, with formats) every module validates with, and the compiled control
 * schema. Sharing one instance keeps schema ids unique and compilation cached.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import _Ajv2020 from 'ajv/dist/2020.js';
import _addFormats from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { packagePath } from '../util/paths.js';

// ajv and ajv-formats are CommonJS; under NodeNext their default import is the module object.
const Ajv2020 = ((_Ajv2020 as unknown as { default?: unknown }).default ?? _Ajv2020) as typeof _Ajv2020.default;
const addFormats = ((_addFormats as unknown as { default?: unknown }).default ?? _addFormats) as typeof _addFormats.default;

/** The shared ajv instance: draft 2020-12 (draft-07 schemas accepted too), all errors, formats, strict off (schemas carry docs keywords). */
export const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
// Draft-07 schemas (OSCAL 1.1.3, most third-party schemas) validate on the same instance once its meta-schema is known.
ajv.addMetaSchema(createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as object);

export type { ErrorObject, ValidateFunction };

/** `$id` of schemas/control.schema.json; `${CONTROL_SCHEMA_ID}#/$defs/check` is one check (a shared check file). */
export const CONTROL_SCHEMA_ID = 'https://engram-audit.dev/schemas/control.schema.json';

let controlValidator: ValidateFunction | undefined;

/** The compiled validator for schemas/control.schema.json (compiled once). */
export function validateControlSchema(): ValidateFunction {
  if (!controlValidator) {
    const schema = JSON.parse(readFileSync(packagePath('schemas', 'control.schema.json'), 'utf8')) as { $id: string };
    controlValidator = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  }
  return controlValidator;
}
