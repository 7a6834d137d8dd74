/**
 * The command line: dispatches to one module per command and turns errors into messages and exit codes. It is the
 * only layer that prints or picks an exit code (DESIGN.md contract 4).
 */
import { EngramError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import { toolVersion } from '../util/paths.js';
import { runControls } from './controls.js';
import { runEvaluate } from './evaluate.js';
import { EXIT, processIo, type CliIo } from './io.js';
import { runScan } from './scan.js';
import { runVerify } from './verify.js';

export const MAIN_HELP = `engram-audit: compliance evidence an auditor can trust, for the Azure data tier of an AI platform
(PostgreSQL Flexible Server with pgvector, Blob Storage, Key Vault), mapped to the NIST AI RMF and SP 800-53.

Usage: engram-audit <command> [options]

Commands:
  scan (default)   collect from Azure or a replay, evaluate controls, write a signed bundle with reports
  evaluate         evaluate an evidence snapshot offline and write a signed bundle
  verify DIR       check a bundle's digests and signature
  diff OLD NEW     what changed between two bundles: new failures, fixed, new and removed resources, evidence
  merge PART...    verify part bundles (the shards of a scan) and write one merged bundle and packet
  controls         list | show ID | validate [FILE...]
  probe            actively test a live endpoint (TLS floor, PostgreSQL session, Key Vault, blob canary)
  size             PostgreSQL and Blob sizing calculators

Start here:
  engram-audit --control AI-SEC-01 --replay fixtures/demo/replay --out out/demo   # the bundled demo estate
  engram-audit --control AI-SEC-01 --subscription <id>                             # your Azure (az login)
  engram-audit verify out/demo

'engram-audit <command> --help' explains each command. Exit codes: 0 compliant, 1 findings, 2 usage or input
error, 3 evaluation incomplete.
`;

type Command = (argv: string[], io: CliIo) => Promise<number>;

async function lazy(module: string, name: string): Promise<Command> {
  const mod = (await import(module)) as Record<string, unknown>;
  const fn = mod[name] as (argv: string[], io: CliIo) => Promise<number>;
  return (argv, io) => fn(argv, io);
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  scan: async () => runScan,
  evaluate: async () => runEvaluate,
  verify: async () => runVerify,
  controls: async () => runControls,
  probe: () => lazy('./probe.js', 'runProbeCommand'),
  size: () => lazy('./size.js', 'runSizeCommand'),
  diff: () => lazy('./diff.js', 'runDiff'),
  merge: () => lazy('./merge.js', 'runMerge'),
};

/** Runs the CLI and returns the exit code; never calls process.exit. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-V') {
    io.stdout(`${toolVersion()}\n`);
    return EXIT.OK;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout(MAIN_HELP);
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  let name = 'scan';
  let args = argv;
  if (!first.startsWith('-')) {
    if (!(first in COMMANDS)) {
      io.stderr(`engram-audit: unknown command '${first}'\n  Commands: ${Object.keys(COMMANDS).join(', ')}. Run 'engram-audit --help'.\n`);
      return EXIT.USAGE;
    }
    name = first;
    args = rest;
  }
  try {
    const command = await COMMANDS[name]();
    return await command(args, io);
  } catch (err) {
    if (err instanceof EngramError) {
      io.stderr(`engram-audit: ${redactString(err.format())}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
