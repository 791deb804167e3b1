#!/usr/bin/env bash
# Installs everything coursehub needs on a fresh Debian 12 machine, from Debian's
# packages only.  Idempotent: packages already present are skipped by apt-get.
#   scripts/install-deps.sh          build + runtime dependencies
#   scripts/install-deps.sh --test   also what the test suite and benchmarks use
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libgit2-dev libboost-dev libsqlite3-dev libssl-dev nlohmann-json3-dev
  libarchive-dev doctest-dev libyaml-cpp-dev libargon2-dev
  libkainjow-mustache-dev libqrencode-dev zlib1g-dev
  python3 python3-venv python3-pip
  python3-jupyter-server python3-nbclassic python3-ipykernel
)
test_pkgs=(
  lighttpd fcgiwrap curl procps psmisc python3-pytest python3-websocket
  chromium wrk hyperfine sqlite3 passwd python3-requests python3-yaml openssl
  python3-nbgitpuller lighttpd-mod-openssl
  zbar-tools
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Browser tests drive Chromium with playwright-core from npm.  This kind of
# machine ships Node.js 20 with npm outside Debian; fall back to Debian's.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then
  ${SUDO:-} apt-get install -y -qq --no-install-recommends nodejs npm
fi
