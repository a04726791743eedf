#!/usr/bin/env bash
# Configures and builds infinode in ./build (or $INF_BUILD_DIR), installing missing Debian
# packages first. Extra arguments go to cmake's configure step, e.g. -DINF_CUDA=OFF.
# Options not given keep their cached values, so the demo and the test command share a build.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
# The CUDA toolkit lives outside PATH on a default install; find it so the backend builds.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
build_dir="${INF_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# INF_BUILD_TARGETS (e.g. "infinode") limits the build to some targets.
# shellcheck disable=SC2086
cmake --build "$build_dir" -j"$(nproc)" ${INF_BUILD_TARGETS:+--target $INF_BUILD_TARGETS}
