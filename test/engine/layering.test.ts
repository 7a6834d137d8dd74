/**
 * The engine and the reporters' pure modules may not reach the file system, the network, @azure/* or the browser
 * (docs/ARCHITECTURE.md): walk their static imports transitively and fail on any forbidden module.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/paths.js';

const FORBIDDEN = [/^node:fs/, /^fs$/, /^node:net$/, /^node:http/, /^node:https$/, /^node:child_process$/, /^@azure\//, /^puppeteer/];

function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1]);
  return out;
}

function reach(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.set(file, chain);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), [...chain, file]);
      else seen.set(`module:${spec}`, [...chain, file]);
    }
  };
  visit(entry, []);
  return seen;
}

for (const entry of ['src/engine/index.ts', 'src/reporters/view-model.ts', 'src/reporters/json.ts', 'src/reporters/sarif.ts', 'src/reporters/junit.ts', 'src/reporters/oscal.ts']) {
  test(`${entry} reaches no file system, network, Azure SDK or browser module`, () => {
    const reached = reach(join(repoRoot, entry));
    const bad = [...reached.keys()].filter((k) => k.startsWith('module:') && FORBIDDEN.some((re) => re.test(k.slice(7))));
    assert.deepEqual(bad.map((k) => `${k.slice(7)} via ${reached.get(k)!.map((f) => f.replace(`${repoRoot}/`, '')).join(' -> ')}`), []);
  });
}

test('the walker does see such imports: html.ts loads its templates from disk', () => {
  const reached = reach(join(repoRoot, 'src/reporters/html.ts'));
  assert.ok([...reached.keys()].some((k) => k.startsWith('module:') && /fs/.test(k)), 'html.ts reaches node:fs');
  const viaSizing = reach(join(repoRoot, 'src/sizing/files.ts'));
  assert.ok(viaSizing.has('module:node:fs'));
});
