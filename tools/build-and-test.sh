#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything (the CUDA backend
# too when nvcc exists, warnings as errors) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh -DINF_TESTS=ON -DINF_EXAMPLES=ON -DINF_WERROR=ON "$@"
ctest --test-dir "${INF_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
