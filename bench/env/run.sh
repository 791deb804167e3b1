#!/usr/bin/env bash
# Shared-environment benchmarks, side by side with plain pip; appends to bench/RESULTS.md.
#   bench/env/run.sh [--rounds N] [--list-runs N] [--no-record]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/bench.py" "$@"
