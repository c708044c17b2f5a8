#!/usr/bin/env bash
# Installs every dependency (Debian 12 packages + the npm reference packages the tests use),
# then configures and builds v4eval into build/. Idempotent and non-interactive.
#   V4EVAL_SKIP_APT=1   skip apt (dependencies already present)
#   V4EVAL_BUILD_DIR    build folder (default: build)
#   V4EVAL_JOBS         parallel build jobs (default: 2)
#   V4EVAL_SKIP_DEMO=1  do not run the demo evaluation at the end
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${V4EVAL_BUILD_DIR:-build}
JOBS=${V4EVAL_JOBS:-2}

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libsqlite3-dev nlohmann-json3-dev libfmt-dev catch2 libboost-dev
  libpcre2-dev zlib1g-dev libcurl4-openssl-dev libseccomp-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  python3 nodejs npm
  chromium fonts-dejavu-core  # headless Chromium (playwright-core): HTML report test + bench
  python3-aiohttp             # bench_http: the aiohttp reference client
)

if [[ "${V4EVAL_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # node/npm may come from elsewhere (e.g. nodesource); only ask apt when the tool is absent.
    case "$p" in
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
      python3) command -v python3 >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# Reference implementations used by the parity tests (o200k_base ranks come from `tiktoken`).
if [[ ! -f tools/node/node_modules/.v4eval-installed ||
      tools/node/package.json -nt tools/node/node_modules/.v4eval-installed ]]; then
  echo "setup: installing npm reference packages into tools/node" >&2
  (cd tools/node && npm install --no-audit --no-fund --loglevel=error)
  touch tools/node/node_modules/.v4eval-installed
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "setup: built $BUILD_DIR/v4eval" >&2

# The main job on the embedded default (V4EVAL_SKIP_DEMO=1 to skip).
if [[ "${V4EVAL_SKIP_DEMO:-0}" != 1 ]]; then
  V4EVAL_BUILD_DIR="$BUILD_DIR" ./scripts/demo.sh
fi
