#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs every test.
# Extra arguments go to ctest (e.g. -R unit_ or -L integration).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
if [[ -f "$root/tests/browser/package.json" ]]; then
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund --silent)
fi
"$root/scripts/build.sh"
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@"
