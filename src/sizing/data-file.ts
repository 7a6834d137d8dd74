/** Reads a JSON or YAML data file (prices, SKU catalog) and locates fields by line, so validation errors name file:line. */
import { LineCounter, parseDocument } from 'yaml';
import { InputError } from '../errors.js';

/** A parsed data file: its plain value and a function giving the 1-based line of a field path. */
export interface DataFile {
  file: string;
  value: unknown;
  lineOf(path: (string | number)[]): number | undefined;
}

/**
 * Parses `text` as YAML 1.2 (a superset of JSON, so `.json` files go through the same parser and keep line numbers).
 * Throws InputError (exit 2) naming the file and line of the first syntax error.
 */
export function parseDataFile(text: string, file: string): DataFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new InputError('E_SIZING_FILE_SYNTAX', `not valid JSON or YAML: ${e.message.split('\n')[0]}`, {
      file,
      line: e.linePos?.[0]?.line,
      hint: 'Fix the syntax; the file must be one JSON object or one YAML mapping.',
    });
  }
  return {
    file,
    value: doc.toJS(),
    lineOf(path) {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      if (!node || !node.range) return undefined;
      return lineCounter.linePos(node.range[0]).line;
    },
  };
}

/** JSON pointer for a path, as printed in errors. */
export function pointer(path: (string | number)[]): string {
  return `/${path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}
