/** The CLI's view of the outside world: output streams, environment and clock, injectable so tests can run main(). */

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** True when stderr is a terminal: progress lines are shown only then. */
  isTTY: boolean;
  now: () => Date;
  cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY) && !process.env.CI,
    now: () => new Date(),
    cwd: process.cwd(),
  };
}

/** Exit codes (DESIGN.md contract 4). */
export const EXIT = {
  OK: 0,
  FINDINGS: 1,
  USAGE: 2,
  INCOMPLETE: 3,
} as const;
