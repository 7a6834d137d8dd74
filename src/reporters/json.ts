/** The JSON reporter: results.json (DESIGN.md contract 2) as canonical JSON, redacted once more on the way out. */
import { redactValue } from '../evidence/redact.js';
import type { Result, ResultsFile } from '../model.js';
import { canonicalJson, sortKeys } from '../util/canonical-json.js';

/**
 * Serialises `results` as results.json: sorted keys, two-space indent, final newline, so the same results give the
 * same bytes. Strings pass through redaction again (defence in depth: a secret in a tag value must never reach a bundle
 * even if an earlier stage missed it). Validated by schemas/results.schema.json; documented in docs/results-format.md.
 */
export function renderJson(results: ResultsFile): string {
  let out = '';
  for (const chunk of jsonChunks(results)) out += chunk;
  return out;
}

/** Stands in for the results array while the rest of results.json is serialised (never appears in output). */
const RESULTS_PLACEHOLDER = '\u0000engram-audit results\u0000';

/**
 * results.json in pieces, one result at a time, with exactly the bytes of `canonicalJson(redactValue(results).value)`:
 * what a large estate's run writes through to a file (src/evidence/stream-file.ts), so neither a string of the whole
 * file nor a second and third copy of every result (redacted, key-sorted) is ever held. Concatenated, it is
 * {@link renderJson}.
 */
export function* jsonChunks(results: ResultsFile): Generator<string> {
  const head = canonicalJson(redactValue({ ...results, results: RESULTS_PLACEHOLDER as unknown as Result[] }).value);
  const marker = JSON.stringify(RESULTS_PLACEHOLDER);
  const at = head.indexOf(marker);
  if (at < 0 || head.indexOf(marker, at + 1) >= 0) throw new Error('results.json: the results placeholder did not come out exactly once');
  yield head.slice(0, at);
  if (results.results.length === 0) {
    yield '[]';
  } else {
    // JSON.stringify with a 2-space indent puts each element of a top-level key's array on lines indented by 4.
    let first = true;
    for (const r of results.results) {
      const body = JSON.stringify(sortKeys(redactValue(r).value), null, 2).replace(/^/gm, '    ');
      yield first ? `[\n${body}` : `,\n${body}`;
      first = false;
    }
    yield '\n  ]';
  }
  yield head.slice(at + marker.length);
}
