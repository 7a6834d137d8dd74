/** Paths for tests: the repository root and ../shared, found from the compiled test file's location. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'tsconfig.json')) === false) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRoot();
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const fixture = (...parts: string[]): string => join(repoRoot, 'fixtures', ...parts);
export const shared = (...parts: string[]): string => join(sharedDir, ...parts);
