/** `engram-audit diff OLD NEW`: what changed between two runs; exit 1 when NEW has failures OLD did not have. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import { diffRuns, diffViewModel, formatDiffText, loadDiffSide, newFailuresAtOrAbove } from '../bundle-ops/diff.js';
import { renderHtml } from '../reporters/html.js';
import { canonicalJson } from '../util/canonical-json.js';
import { parse } from './args.js';
import { EXIT, type CliIo } from './io.js';
import { parseFailOn } from './scan.js';

export const DIFF_HELP = `Usage: engram-audit diff OLD NEW [--json] [--out FILE] [--fail-on SEVERITY] [--no-verify]

Compares two runs, each a bundle directory (or a bundle's results.json; a results.json outside any bundle is compared
without evidence): new failures, fixed findings (fail -> pass), other status changes, new and removed resources, and
evidence documents whose content changed (by id, SHA-256 of the canonical JSON). Both bundles are verified first; a
bundle that does not verify is refused.

Options:
  --json                print the diff as JSON instead of text
  --out FILE            also write the diff to FILE: .json as JSON, .html as NEW's packet with a "Changes since the
                        previous run" section, anything else as text
  --fail-on SEVERITY    exit 1 only for new failures at or above critical|high|medium|low|info (default: low)
  --fingerprint HEX     a trusted SHA-256 key fingerprint both bundles must be signed with (repeatable)
  --no-verify           compare bundles that do not verify (the comparison then proves nothing)

Exit codes: 0 no new failures, 1 new failures, 2 usage or input error (a path that is not a bundle or does not verify).

Example:
  engram-audit diff nightly-2026-11-27 nightly-2026-11-28 --out changes.html
`;

export async function runDiff(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    'diff',
    argv,
    {
      json: { type: 'boolean' },
      out: { type: 'string' },
      'fail-on': { type: 'string' },
      fingerprint: { type: 'string', multiple: true },
      'no-verify': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    io.stdout(DIFF_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(`diff takes two runs, OLD and NEW (got ${positionals.length})`, { hint: 'Example: engram-audit diff out/yesterday out/today' });
  }
  const failOn = parseFailOn(values['fail-on']);
  const options = { verify: !values['no-verify'], trustedFingerprints: values.fingerprint ?? [] };
  const [oldPath, newPath] = positionals as [string, string];
  const oldSide = await loadDiffSide(resolve(io.cwd, oldPath), options);
  const newSide = await loadDiffSide(resolve(io.cwd, newPath), options);
  // Report the paths as the user typed them.
  oldSide.path = oldPath;
  newSide.path = newPath;
  for (const s of [oldSide, newSide]) {
    if (s.verification === 'skipped') io.stderr(`warning: ${s.path} was not verified (--no-verify)\n`);
    if (s.verification === 'unbundled') io.stderr(`note: ${s.path} is a results.json outside a bundle: not verified, evidence not compared\n`);
  }
  const diff = diffRuns(oldSide, newSide);

  if (values.out) {
    const file = resolve(io.cwd, values.out);
    const ext = extname(file).toLowerCase();
    let body: string;
    if (ext === '.json') body = canonicalJson(diff);
    else if (ext === '.html' || ext === '.htm') {
      // The digests NEW's own SHA256SUMS lists (verified above), not a re-serialisation of what was loaded.
      const evidenceIndex = newSide.evidenceFiles;
      body = renderHtml(newSide.results, { diff: diffViewModel(diff), ...(evidenceIndex ? { evidenceIndex } : {}), title: 'engram-audit changes since the previous run' });
    } else body = formatDiffText(diff);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  io.stdout(values.json ? `${canonicalJson(diff)}\n` : redactString(formatDiffText(diff)));
  return newFailuresAtOrAbove(diff, failOn).length > 0 ? EXIT.FINDINGS : EXIT.OK;
}
