/** `engram-audit controls list | show ID | validate [FILE...]`: read and check the control catalog. */
import { resolve } from 'node:path';
import { describeControl, loadCatalog, validateControlFiles } from '../controls/index.js';
import { UsageError } from '../errors.js';
import { packagePath } from '../util/paths.js';
import { parse } from './args.js';
import type { CliIo } from './io.js';
import { readdir } from 'node:fs/promises';

export const CONTROLS_HELP = `Usage: engram-audit controls <list | show ID | validate [FILE...]>

  list            every control: id, title, number of checks, NIST AI RMF subcategories
  show ID         one control in full: objective, mappings, and each check with its condition, remediation and
                  re-performance steps
  validate [FILE] validate control YAML files against the schema (default: the bundled catalog); every problem is
                  reported with file:line and field; exit 2 when any file is invalid

Writing your own controls: docs/writing-controls.md.
`;

export async function runControls(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('controls', argv, { help: { type: 'boolean', short: 'h' } }, true);
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    io.stdout(CONTROLS_HELP);
    return values.help ? 0 : 2;
  }
  switch (sub) {
    case 'list': {
      const catalog = await loadCatalog();
      const rows = catalog.controls.map((c) => [c.id, c.title, `${c.checks.length} checks`, c.nist_ai_rmf.join(', ')]);
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) io.stdout(`${r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  ')}\n`);
      return 0;
    }
    case 'show': {
      if (rest.length !== 1) throw new UsageError('controls show takes one control id', { hint: 'Example: engram-audit controls show AI-SEC-01' });
      const catalog = await loadCatalog();
      const { selectControls } = await import('../controls/index.js');
      const [control] = selectControls(catalog, [rest[0]]);
      io.stdout(`${describeControl(control)}\n`);
      return 0;
    }
    case 'validate': {
      let files = rest.map((f) => resolve(io.cwd, f));
      if (files.length === 0) {
        const dir = packagePath('controls');
        files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => resolve(dir, f));
      }
      const problems = await validateControlFiles(files);
      if (problems.length === 0) {
        io.stdout(`${files.length} control file(s) valid\n`);
        return 0;
      }
      for (const p of problems) io.stderr(`${p.format()}\n`);
      io.stderr(`${problems.length} problem(s) in ${files.length} file(s)\n`);
      return 2;
    }
    default:
      throw new UsageError(`unknown controls subcommand '${sub}'`, { hint: 'Use list, show ID or validate [FILE...].' });
  }
}
