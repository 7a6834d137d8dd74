/** Pointing at YAML input: a path as the user wrote it, and the 1-based line of a JSON pointer in a parsed document. */
import { relative } from 'node:path';
import { isNode, type Document, type LineCounter } from 'yaml';

/** The path shown in messages: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

/** 1-based line of the node at a JSON pointer (or of its nearest existing ancestor). */
export function lineAt(y: { doc: Document.Parsed; lines: LineCounter }, pointer: string): number | undefined {
  const segs = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? y.doc.contents : y.doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) return y.lines.linePos(node.range[0]).line;
  }
  return undefined;
}
