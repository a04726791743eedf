#!/usr/bin/env bash
# The README's first command: builds the CLI and generates an image from a prompt on the CPU
# with the embedded default model (models/default), through the built-in nodes and the C ABI.
#   tools/demo.sh ["PROMPT" [OUT.png]]
# Without models/default (a checkout older than the trained model) it runs the same pipeline on
# random weights, which proves the plumbing but draws noise.
set -euo pipefail
cd "$(dirname "$0")/.."
INF_BUILD_TARGETS=infinode tools/build.sh -DINF_EXAMPLES=ON >/dev/null
cli="${INF_BUILD_DIR:-build}/examples/infinode"
prompt="${1:-a photo of a large yellow circle}"
out="${2:-demo.png}"
if [ -f models/default/model.json ]; then
  model=(--model models/default)
else
  echo "note: models/default is missing; using random weights (the picture will be noise)" >&2
  model=(--random-weights tiny)
fi
echo "== infinode generate \"$prompt\" ${model[*]} --seed 1 -o $out"
"$cli" generate "$prompt" "${model[@]}" --seed 1 -o "$out"
