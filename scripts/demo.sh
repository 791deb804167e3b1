#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs coursehub's main job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
"$root/build/coursehub" version
