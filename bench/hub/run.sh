#!/usr/bin/env bash
# Hub core benchmark: coursehub vs JupyterHub 3.0 side by side (see bench_hub.py).
# Installs Debian's jupyterhub (the baseline) when missing, builds coursehub,
# runs, and appends the table to bench/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/scripts/install-deps.sh" --test
if ! command -v jupyterhub >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends jupyterhub
fi
"$root/scripts/build.sh"
exec /usr/bin/python3 "$root/bench/hub/bench_hub.py" "$@"
