#!/usr/bin/env bash
# git-pull class-start burst: coursehub vs 60 x `git clone --depth 1` (see bench_gitpull.py).
# Builds coursehub, runs, and appends the table to bench/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/scripts/install-deps.sh" --test
"$root/scripts/build.sh"
exec /usr/bin/python3 "$root/bench/gitpull/bench_gitpull.py" "$@"
