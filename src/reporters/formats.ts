/** The registry of output formats (`--format json,html,pdf,oscal,sarif,junit`) and the file each one is written to. */
import { UsageError } from '../errors.js';

/** An output format the CLI can write. */
export type Format = 'json' | 'html' | 'pdf' | 'oscal' | 'sarif' | 'junit';

/** Every format, in the order the CLI lists and writes them. */
export const FORMATS: readonly Format[] = ['json', 'html', 'pdf', 'oscal', 'sarif', 'junit'];

/** The file name of each format inside the output directory (and bundle). */
export const FORMAT_FILES: Readonly<Record<Format, string>> = {
  json: 'results.json',
  html: 'report.html',
  pdf: 'report.pdf',
  oscal: 'results.oscal.json',
  sarif: 'results.sarif',
  junit: 'results.junit.xml',
};

/** The consumer each format is made for, for `--help` and docs/outputs.md. */
export const FORMAT_DESCRIPTIONS: Readonly<Record<Format, string>> = {
  json: 'results.json, the contract every other output is derived from',
  html: 'the auditor report as a self-contained HTML page',
  pdf: 'the signed auditor packet (PDF)',
  oscal: 'OSCAL 1.1.3 assessment-results for GRC and OSCAL tooling',
  sarif: 'SARIF 2.1.0 for GitHub code scanning and Azure DevOps',
  junit: 'JUnit XML for Azure DevOps PublishTestResults, Jenkins and GitLab',
};

/** True when `name` is a known format (exact, lower-case). */
export function isFormat(name: string): name is Format {
  return (FORMATS as readonly string[]).includes(name);
}

/**
 * Parses a comma-separated `--format` value. Names are trimmed and compared case-insensitively, duplicates are
 * dropped, and the result keeps the order of FORMATS so output is the same whatever order the user typed.
 * An unknown or empty name is a usage error naming it and listing the valid formats, never a silent fallback.
 */
export function parseFormats(list: string): Format[] {
  const names = list.split(',').map((s) => s.trim().toLowerCase());
  const unknown = names.filter((n) => !isFormat(n));
  if (unknown.length > 0 || names.length === 0) {
    const shown = unknown.map((n) => (n === '' ? '(empty)' : JSON.stringify(n))).join(', ');
    throw new UsageError(`unknown output format${unknown.length > 1 ? 's' : ''} ${shown} in --format ${JSON.stringify(list)}`, {
      field: '--format',
      hint: `use a comma-separated list of: ${FORMATS.join(', ')} (for example --format pdf,sarif)`,
    });
  }
  const wanted = new Set(names as Format[]);
  return FORMATS.filter((f) => wanted.has(f));
}

/** The file name `format` is written to, e.g. `results.sarif` for `sarif`. */
export function formatFileName(format: Format): string {
  return FORMAT_FILES[format];
}
