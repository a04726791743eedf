#!/bin/bash
# Reproduce the embedded default model from scratch on a CPU (about 1.5-2 h on 2 cores):
#   tokenizer -> BSQ-VAE -> transformer + T5 -> model directory -> loss curves -> benchmark.
#
#   tools/train/train_all.sh [RUN_DIR] [MODEL_DIR] [DOCS_DIR]
#     RUN_DIR    scratch space for checkpoints and logs (default /tmp/infinode-train)
#     MODEL_DIR  where the model directory is written (default models/default)
#     DOCS_DIR   loss-curve PNGs (default docs/training)
#   env: THREADS (2), VAE_MINUTES (23, phase B), T2I_MINUTES (36, after ~5 min of encoding), NOFLIP=1 also trains the
#        self-correction-off comparison (same budget), EVAL=0 skips the benchmark.
#
# The runs are budgeted in wall-clock minutes as well as steps (progress = max(step/steps,
# time/budget) drives the cosine LR and the end), so a busy shared CPU gives fewer steps, not a
# longer run; the logs record the steps actually taken.  Needs /usr/bin/python3 with torch,
# numpy, sentencepiece, matplotlib, and spm_train.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${1:-/tmp/infinode-train}
MODEL=${2:-$ROOT/models/default}
DOCS=${3:-$ROOT/docs/training}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
T=$ROOT/tools/train
mkdir -p "$RUN" "$MODEL" "$DOCS"

stage() {  # stage NAME COMMAND...: run, print its wall time
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name: $*"
  "$@"
  echo "=== $name: $((SECONDS - t0)) s wall"
}

stage tokenizer $PY -c "import sys; sys.path.insert(0, '$T'); import data; print(data.train_spm('$RUN/spiece'))"
VAE_ARGS=(--steps 4000 --threads "$THREADS" --batch 12 --crop 64 --full-batch 6 --full-frac 0.3 --commit-z-w 1.0
  --bits 16 --base-ch 24 --ch-mult 3,3,4,4 --res-blocks 1 --patch 8 --schedule 1,2,4,8,16 --log-every 20)
# phase A: 500 steps of plain L1+MSE (the run was stopped there to add the object weighting);
# phase B: from A's weights, object pixels weighted 5x, a fresh cosine schedule over 23 minutes
stage vae_a $PY "$T/train_vae.py" --out "$RUN/vae_a" "${VAE_ARGS[@]}" --minutes 24 --stop-after 500 --lr 2e-3 --fg-w 0
stage vae_b $PY "$T/train_vae.py" --out "$RUN/vae" "${VAE_ARGS[@]}" --minutes "${VAE_MINUTES:-23}" --lr 1.5e-3 --fg-w 4 \
  --init "$RUN/vae_a/vae.safetensors"
# phase C: from B's weights, whole 128x128 scenes only (the 5-scale schedule used at inference), 8 minutes
stage vae_c $PY "$T/train_vae.py" --out "$RUN/vae_c" "${VAE_ARGS[@]}" --steps 1000 --minutes 8 --lr 1e-3 --fg-w 4 --full-frac 1.0 \
  --init "$RUN/vae/vae.safetensors"
# phase D (after the transformer below): decoder-only fine-tuning from C's weights, 9 minutes;
# the encoder is frozen, so the latents the transformer was trained on stay valid
T2I_ARGS=(--vae "$RUN/vae_c/vae.safetensors" --spm "$RUN/spiece.model" --cache "$RUN/latents.pt" --scenes 4000
  --schedule 1,2,4,8,16 --steps 6000 --minutes "${T2I_MINUTES:-36}" --batch 16 --lr 1e-3 --depth 4 --width 128
  --heads 2 --block-chunks 2 --t5-width 128 --t5-layers 2 --t5-heads 4 --cond-drop 0.1 --threads "$THREADS")
stage transformer $PY "$T/train_transformer.py" --out "$RUN/t2i" --flip 0.3 "${T2I_ARGS[@]}"
stage vae_d $PY "$T/train_vae.py" --out "$RUN/vae_d" "${VAE_ARGS[@]}" --steps 1000 --minutes 9 --lr 1e-3 --fg-w 4 \
  --full-frac 1.0 --freeze-encoder --init "$RUN/vae_c/vae.safetensors"
stage model_dir $PY "$T/make_model_dir.py" --bf16 --vae "$RUN/vae_d/vae.safetensors" --t2i "$RUN/t2i" --out "$MODEL" \
  --cfg "${CFG:-3}" --tau "${TAU:-1.0}" --top-p "${TOP_P:-0.97}"
NOFLIP_LOG=()
if [ "${NOFLIP:-0}" = 1 ]; then
  stage transformer_noflip $PY "$T/train_transformer.py" --out "$RUN/t2i_noflip" --flip 0 "${T2I_ARGS[@]}"
  NOFLIP_LOG=(--t2i-log-noflip "$RUN/t2i_noflip/transformer_log.json")
fi
stage curves $PY "$T/plot_curves.py" --vae-log "$RUN/vae_a/vae_log.json" "$RUN/vae/vae_log.json" "$RUN/vae_c/vae_log.json" "$RUN/vae_d/vae_log.json" --t2i-log "$RUN/t2i/transformer_log.json" \
  "${NOFLIP_LOG[@]}" --out "$DOCS"
if [ "${EVAL:-1}" = 1 ]; then
  stage eval_vae $PY "$T/sample_eval.py" vae --vae "$RUN/vae_d/vae.safetensors" --out "$RUN/eval_vae" --threads "$THREADS"
  stage eval_model $PY "$T/sample_eval.py" model --model "$MODEL" --out "$RUN/eval_model" --threads "$THREADS"
  [ -x "$ROOT/build/examples/infinode" ] && stage eval_cpp $PY "$T/sample_eval.py" cpp --model "$MODEL" --out "$RUN/eval_cpp"
fi
echo "total: $SECONDS s wall; model in $MODEL"
