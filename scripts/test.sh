#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test
# (lit + FileCheck, GoogleTest, end-to-end numerics against the Hugging Face
# reference outputs, the out-of-tree consumer of the installed package).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR="${DSC_BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest --output-on-failure -j "${DSC_TEST_JOBS:-2}"
