#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address + undefined sanitizers) in build-fuzz/ and
# runs each for a bounded time:  tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Inputs found to crash are written to tests/fuzz/findings/<target>/ (git-ignored); the
# corpus grows in build-fuzz/corpus/<target> seeded from tests/fuzz/corpus/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors pth)
INF_WITH_FUZZ=1 tools/install-deps.sh
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link -g -O1"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINF_FUZZ=ON -DINF_CUDA=OFF -DINF_TESTS=OFF -DINF_EXAMPLES=OFF \
  -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize" >/dev/null
for target in "${targets[@]}"; do
  cmake --build build-fuzz --target "fuzz_$target" >/dev/null
  corpus="build-fuzz/corpus/$target"
  findings="tests/fuzz/findings/$target"
  mkdir -p "$corpus" "$findings"
  echo "== fuzz_$target for ${seconds}s"
  # Malformed fixtures make good seeds too: each one reaches a different error path.
  seeds=("tests/fuzz/corpus/$target")
  seeds+=(tests/data/bad)
  build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 |
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" || true
  echo "corpus: $(ls "$corpus" | wc -l) files; findings: $(ls "$findings" | wc -l)"
done
