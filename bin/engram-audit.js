#!/usr/bin/env node
// Thin entry point: the CLI's main() decides the exit code; this file only applies it.
import { main } from '../dist/src/cli/main.js';

// `engram-audit controls list | head`: a reader that stops early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`engram-audit: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
