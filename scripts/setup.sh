#!/usr/bin/env bash
# Installs what dsc needs on Debian 12 (idempotent: only what is missing),
# then configures and builds it in build/ (or $DSC_BUILD_DIR).
#
#   scripts/setup.sh            # install + configure + build
#   DSC_SKIP_INSTALL=1 scripts/setup.sh   # build only
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  cmake ninja-build ccache g++ python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 libclang-rt-22-dev
  libabsl-dev libgtest-dev libbenchmark-dev libonnx-dev libprotobuf-dev
)
PY_PACKAGES=(numpy)

log() { echo "[dsc-setup] $*" >&2; }

if [[ "${DSC_SKIP_INSTALL:-0}" != 1 ]]; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  for p in "${PY_PACKAGES[@]}"; do
    python3 -c "import $p" 2>/dev/null && continue
    log "installing Python package $p"
    # PyPI first; Debian's own python3 refuses pip installs (PEP 668), so
    # fall back to its package there.
    python3 -m pip install -q "$p" 2>/dev/null || {
      SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "python3-$p" >/dev/null
    }
  done
fi

BUILD_DIR="${DSC_BUILD_DIR:-build}"
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  log "configuring $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
log "building (ninja -C $BUILD_DIR)"
start=$(date +%s)
ninja -C "$BUILD_DIR" ${DSC_JOBS:+-j "$DSC_JOBS"}
log "build finished in $(( $(date +%s) - start )) s"
