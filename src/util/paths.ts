/** Locates the package's own files (controls/, report-templates/, schemas/, fixtures/) from compiled or source code. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The engram-audit package root: the nearest ancestor of this file whose package.json is named engram-audit. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'engram-audit') return (cached = dir);
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('engram-audit: cannot find the package root (package.json named engram-audit)');
    dir = parent;
  }
}

export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

/** The tool's version from package.json. */
export function toolVersion(): string {
  return JSON.parse(readFileSync(packagePath('package.json'), 'utf8')).version as string;
}
