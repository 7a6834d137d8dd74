#!/usr/bin/env bash
# Runs everything CI runs: install (when needed), system tools, clean build + typecheck, then every test file.
# Usage: npm test [-- test/path/name.test.ts ...]   (with arguments, only those test files run)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

rm -rf dist
npx tsc -p tsconfig.json

if [ "$#" -gt 0 ]; then
  files=()
  for f in "$@"; do
    f="${f%.ts}"; f="${f%.js}"; f="dist/${f#dist/}.js"
    files+=("$f")
  done
else
  mapfile -t files < <(find dist/test -name '*.test.js' | LC_ALL=C sort)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "scripts/test.sh: no test files found under dist/test; refusing to report success" >&2
  exit 1
fi
echo "running ${#files[@]} test files" >&2
exec node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
