/** The JSON reporter: results.json (DESIGN.md contract 2) as canonical JSON, redacted once more on the way out. */
import { redactValue } from '../evidence/redact.js';
import type { ResultsFile } from '../model.js';
import { canonicalJson } from '../util/canonical-json.js';

/**
 * Serialises `results` as results.json: sorted keys, two-space indent, final newline, so the same results give the
 * same bytes. Strings pass through redaction again (defence in depth: a secret in a tag value must never reach a bundle
 * even if an earlier stage missed it). Validated by schemas/results.schema.json; documented in docs/results-format.md.
 */
export function renderJson(results: ResultsFile): string {
  return canonicalJson(redactValue(results).value);
}
