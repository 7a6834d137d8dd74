/** Runs the CLI's main() in-process with captured output, the way a user would run bin/engram-audit.js. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { repoRoot } from './paths.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; isTTY?: boolean; now?: Date } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: options.env ?? { PATH: process.env.PATH },
    isTTY: options.isTTY ?? false,
    now: () => options.now ?? new Date(),
    cwd: options.cwd ?? repoRoot,
  });
  return { code, stdout, stderr };
}

export function tempDir(prefix = 'engram-audit-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The same, with a fixed clock (golden comparisons, expiry rules). */
export function runCliAt(now: Date): (args: string[]) => Promise<CliRun> {
  return (args) => runCli(args, { now });
}
