#!/usr/bin/env bash
# The README's first command: builds the CLI and runs the most end-to-end job the engine has
# today: list the backends, convert a PyTorch checkpoint (the nested-VAE fixture) to bf16
# safetensors through the restricted .pth reader, and inspect the result.
# (Text -> image replaces this once the transformer, VAE and text encoder land.)
set -euo pipefail
cd "$(dirname "$0")/.."
INF_BUILD_TARGETS=infinode tools/build.sh -DINF_EXAMPLES=ON >/dev/null
cli="${INF_BUILD_DIR:-build}/examples/infinode"
out="${1:-vae-bf16.safetensors}"
echo "== infinode devices"
"$cli" devices
echo "== infinode convert tests/data/pth/nested_vae.pth $out --select vae --dtype bf16"
"$cli" convert tests/data/pth/nested_vae.pth "$out" --select vae --dtype bf16
echo "== infinode inspect $out"
"$cli" inspect "$out"
