#!/usr/bin/env bash
# The demo: installs what is needed, runs AI-SEC-01 over the bundled recorded estate (--replay, no Azure needed),
# writes the signed bundle to out/demo and verifies it. The demo estate is non-compliant on purpose, so the scan's
# exit code 1 ("findings") is the expected outcome here.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?
npx tsc -p tsconfig.json || exit $?

node bin/engram-audit.js --control AI-SEC-01 --replay fixtures/demo/replay --out out/demo "$@"
code=$?
case "$code" in
  0) echo "demo: no findings" ;;
  1) echo "demo: exit 1 = findings, which the demo estate has on purpose (see out/demo/report.pdf)" ;;
  *) echo "demo: the scan failed with exit code $code" >&2; exit "$code" ;;
esac
echo
node bin/engram-audit.js verify out/demo
