/** The auditor commands of docs/verifying.md, taken from the doc itself so tests run exactly what auditors read. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** The `sh` block after each `<!-- verify:NAME -->` marker in docs/verifying.md. */
export function docCommands(): Record<string, string> {
  const md = readFileSync(join(repoRoot, 'docs', 'verifying.md'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of md.matchAll(/<!-- verify:([a-z0-9-]+) -->\s*```sh\n([\s\S]*?)```/g)) out[m[1]!] = m[2]!.trim();
  return out;
}

const cmd = docCommands();

/** Runs the doc's `verify:NAME` block with bash in `cwd`. */
export function runDocCommand(name: string, cwd: string): { status: number | null; out: string } {
  const command = cmd[name];
  assert.ok(command, `docs/verifying.md has a verify:${name} block`);
  const r = spawnSync('bash', ['-c', command], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
