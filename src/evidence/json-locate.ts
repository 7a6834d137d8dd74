/**
 * A small JSON scanner used only when something is wrong with an input file: it finds where a syntax error is
 * (JSON.parse does not always say) and which line a JSON pointer's value starts on, so messages can say file:line.
 */

/** 1-based line and column of a character offset. */
export interface LineColumn {
  line: number;
  column: number;
}

/** Converts a character offset into a 1-based line and column. */
export function lineColumnAt(text: string, offset: number): LineColumn {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

class ScanError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface ScanState {
  text: string;
  pos: number;
  /** Pointers whose value start offsets we want. */
  wanted?: Set<string>;
  found: Map<string, number>;
}

function describe(text: string, pos: number): string {
  if (pos >= text.length) return 'unexpected end of file';
  const ch = text[pos];
  return `unexpected ${JSON.stringify(ch)}`;
}

function skipWs(s: ScanState): void {
  const t = s.text;
  while (s.pos < t.length) {
    const c = t.charCodeAt(s.pos);
    if (c === 32 || c === 9 || c === 10 || c === 13) s.pos++;
    else break;
  }
}

function scanString(s: ScanState): string {
  const t = s.text;
  const start = s.pos;
  if (t[s.pos] !== '"') throw new ScanError(`${describe(t, s.pos)}, expected a string`, s.pos);
  s.pos++;
  let out = '';
  for (;;) {
    if (s.pos >= t.length) throw new ScanError('unterminated string', start);
    const ch = t[s.pos];
    if (ch === '"') {
      s.pos++;
      return out;
    }
    if (ch === '\\') {
      const esc = t[s.pos + 1];
      if (esc === 'u') {
        const hex = t.slice(s.pos + 2, s.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ScanError('bad \\u escape in string', s.pos);
        out += String.fromCharCode(parseInt(hex, 16));
        s.pos += 6;
        continue;
      }
      const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (esc === undefined || !(esc in map)) throw new ScanError('bad escape in string', s.pos);
      out += map[esc];
      s.pos += 2;
      continue;
    }
    if (ch.charCodeAt(0) < 0x20) throw new ScanError('control character inside a string (a raw line break?)', s.pos);
    out += ch;
    s.pos++;
  }
}

function scanValue(s: ScanState, pointer: string, depth: number): void {
  if (depth > 2000) throw new ScanError('nesting too deep', s.pos);
  skipWs(s);
  const t = s.text;
  if (s.wanted?.has(pointer)) s.found.set(pointer, s.pos);
  const ch = t[s.pos];
  if (ch === '{') {
    s.pos++;
    skipWs(s);
    if (t[s.pos] === '}') {
      s.pos++;
      return;
    }
    for (;;) {
      skipWs(s);
      const keyAt = s.pos;
      if (t[s.pos] !== '"') throw new ScanError(`${describe(t, s.pos)}, expected a double-quoted property name`, s.pos);
      const key = scanString(s);
      const child = `${pointer}/${escapePointerToken(key)}`;
      // The key's own position is a better place to point at than its value for "wrong type" messages.
      if (s.wanted?.has(`${child}#key`)) s.found.set(`${child}#key`, keyAt);
      skipWs(s);
      if (t[s.pos] !== ':') throw new ScanError(`${describe(t, s.pos)}, expected ':' after a property name`, s.pos);
      s.pos++;
      scanValue(s, child, depth + 1);
      skipWs(s);
      if (t[s.pos] === ',') {
        s.pos++;
        skipWs(s);
        if (t[s.pos] === '}') throw new ScanError("trailing comma before '}'", s.pos);
        continue;
      }
      if (t[s.pos] === '}') {
        s.pos++;
        return;
      }
      throw new ScanError(`${describe(t, s.pos)}, expected ',' or '}' after a property value`, s.pos);
    }
  }
  if (ch === '[') {
    s.pos++;
    skipWs(s);
    if (t[s.pos] === ']') {
      s.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      scanValue(s, `${pointer}/${i}`, depth + 1);
      skipWs(s);
      if (t[s.pos] === ',') {
        s.pos++;
        skipWs(s);
        if (t[s.pos] === ']') throw new ScanError("trailing comma before ']'", s.pos);
        continue;
      }
      if (t[s.pos] === ']') {
        s.pos++;
        return;
      }
      throw new ScanError(`${describe(t, s.pos)}, expected ',' or ']' after an array element`, s.pos);
    }
  }
  if (ch === '"') {
    scanString(s);
    return;
  }
  const lit = /^(true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)/.exec(t.slice(s.pos, s.pos + 64));
  if (lit) {
    s.pos += lit[0].length;
    return;
  }
  throw new ScanError(`${describe(t, s.pos)}, expected a JSON value`, s.pos);
}

function scanDocument(s: ScanState): void {
  if (s.text.charCodeAt(0) === 0xfeff) s.pos = 1;
  skipWs(s);
  scanValue(s, '', 0);
  skipWs(s);
  if (s.pos < s.text.length) throw new ScanError(`${describe(s.text, s.pos)} after the end of the JSON value`, s.pos);
}

/** Finds the first syntax error in `text`, or undefined when it is valid JSON. */
export function findSyntaxError(text: string): { offset: number; message: string } | undefined {
  const s: ScanState = { text, pos: 0, found: new Map() };
  try {
    scanDocument(s);
    return undefined;
  } catch (err) {
    if (err instanceof ScanError) return { offset: err.offset, message: err.message };
    if (err instanceof RangeError) return { offset: s.pos, message: 'nesting too deep' };
    throw err;
  }
}

/**
 * Start offsets of the values at the given JSON pointers (add `#key` to a pointer for the position of its property
 * name). Pointers that do not exist are absent from the map. `text` must be valid JSON.
 */
export function locatePointers(text: string, pointers: Iterable<string>): Map<string, number> {
  const s: ScanState = { text, pos: 0, wanted: new Set(pointers), found: new Map() };
  try {
    scanDocument(s);
  } catch {
    // Positions found before the failure are still right.
  }
  return s.found;
}
