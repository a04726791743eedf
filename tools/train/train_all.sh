#!/bin/bash
# Reproduce the embedded default model from scratch on a CPU (about 3.8 h on 2 cores):
#   tokenizer -> BSQ-VAE -> transformer + T5 -> model directory -> loss curves -> benchmark.
#
#   tools/train/train_all.sh [RUN_DIR] [MODEL_DIR] [DOCS_DIR]
#     RUN_DIR    scratch space for checkpoints and logs (default /tmp/infinode-train)
#     MODEL_DIR  where the model directory is written (default models/default)
#     DOCS_DIR   loss-curve PNGs (default docs/training)
#   env: THREADS (2), VAE_MINUTES (20, phase B), T2I_MINUTES (55, the 7-scale stage), OBJ_MINUTES
#        (110, the object-weighted stage), NOFLIP=1 also trains the self-correction-off comparison
#        (see below), EVAL=0 skips the benchmark.
#
# The model draws 64x64 scenes: a 3-level BSQ-VAE at stride 4 (16x16 latent, 16 bits per
# token) and the 7-scale schedule 1,2,4,6,8,12,16 (521 tokens).  The first run (models/shapes-tiny-v0) drew
# 128x128 at stride 8: four times the VAE compute per scene and 4x fewer bits per pixel, and its
# VAE never learned to tell red, orange and yellow apart in 80 minutes (docs/training/notes.md).
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
VAE_ARGS=(--threads "$THREADS" --batch 16 --crop 32 --full-batch 16 --commit-z-w 1.0 --bits 16 --base-ch 24 --ch-mult 3,3,4
  --res-blocks 1 --patch 4 --schedule 1,2,4,8,16 --image-size 64)
# VAE phase A: 32x32 crops for the first 30% of a 3000-step / 36-minute cosine schedule, then
# whole 64x64 scenes, object pixels weighted 5x; the run was stopped at step 2250 (23.7 min) to
# add the edge loss, so it stops there.
stage vae_a $PY "$T/train_vae.py" --out "$RUN/vae_a" "${VAE_ARGS[@]}" --steps 3000 --minutes 36 --stop-after 2250 \
  --full-frac 0.7 --lr 2e-3 --fg-w 4 --log-every 25 --ckpt-every 250
# phase B: from A, a fresh 20-minute schedule: crops for 75% (4x the steps per second), object
# pixels 9x, an L1 loss on pixel gradients (corners: small diamonds and squares read as circles
# without it), fewer scale-dropping steps; whole scenes for the last 25%.
stage vae_b $PY "$T/train_vae.py" --out "$RUN/vae_b" "${VAE_ARGS[@]}" --init "$RUN/vae_a/vae.safetensors" --steps 6000 \
  --minutes "${VAE_MINUTES:-20}" --full-frac 0.25 --lr 1e-3 --fg-w 8 --edge-w 1 --reg-prob 0.1 --log-every 50 --ckpt-every 500
T2I_ARGS=(--vae "$RUN/vae_b/vae.safetensors" --spm "$RUN/spiece.model" --cache "$RUN/latents.pt" --scenes 20000
  --image-size 64 --steps 12000 --batch 16 --lr 1e-3 --depth 4 --width 128 --heads 2 --block-chunks 2 --t5-width 128
  --t5-layers 2 --t5-heads 4 --cond-drop 0.1 --threads "$THREADS")
# transformer + T5, stage 1: the 5-scale schedule 1,2,4,8,16 for 2250 steps (the run was stopped
# there: with scales 1-4 teacher-forced, sampling only the 16x16 scale gave 7 of 40 training
# prompts right against 28 of 40 for the true bits, a 2x jump is too far for tokens sampled
# independently); stage 2 continues with 7 scales 1,2,4,6,8,12,16 (521 tokens).
stage transformer_s5 $PY "$T/train_transformer.py" --out "$RUN/t2i_s5" --flip 0.3 "${T2I_ARGS[@]}" \
  --schedule 1,2,4,8,16 --minutes 50 --stop-after 2250
T2I7=("${T2I_ARGS[@]}" --schedule 1,2,4,6,8,12,16 --minutes "${T2I_MINUTES:-55}" --init "$RUN/t2i_s5/transformer.pt")
stage transformer_s7 $PY "$T/train_transformer.py" --out "$RUN/t2i_s7" --flip 0.3 "${T2I7[@]}"
# stage 3: the same 7 scales, from stage 2, with tokens on or next to an object weighted 5x
# (--object-w 4).  After stage 2 the last scale's bits were 91% right teacher-forced, yet with
# the true bits of every coarser scale forced, its greedy guess drew blobs: the wrong 9% were
# the edge bits, while 10% of the bits flipped at random barely changed the picture.
T2I_OBJ=("${T2I_ARGS[@]}" --schedule 1,2,4,6,8,12,16 --minutes "${OBJ_MINUTES:-110}" --object-w 4)
stage transformer $PY "$T/train_transformer.py" --out "$RUN/t2i" --flip 0.3 "${T2I_OBJ[@]}" --init "$RUN/t2i_s7/transformer.pt"
stage model_dir $PY "$T/make_model_dir.py" --bf16 --vae "$RUN/vae_b/vae.safetensors" --t2i "$RUN/t2i" --out "$MODEL" \
  --cfg "${CFG:-10}" --tau "${TAU:-0.7}" --top-p "${TOP_P:-0.97}"
NOFLIP_LOG=()
if [ "${NOFLIP:-0}" = 1 ]; then  # the same recipe with bitwise self-correction off, for the comparison
  stage transformer_s5_noflip $PY "$T/train_transformer.py" --out "$RUN/t2i_s5_noflip" --flip 0 "${T2I_ARGS[@]}" \
    --schedule 1,2,4,8,16 --minutes 50 --stop-after 2250
  stage transformer_s7_noflip $PY "$T/train_transformer.py" --out "$RUN/t2i_s7_noflip" --flip 0 "${T2I7[@]}" \
    --init "$RUN/t2i_s5_noflip/transformer.pt"
  stage transformer_noflip $PY "$T/train_transformer.py" --out "$RUN/t2i_noflip" --flip 0 "${T2I_OBJ[@]}" \
    --init "$RUN/t2i_s7_noflip/transformer.pt"
  NOFLIP_LOG=(--t2i-log-noflip "$RUN/t2i_s5_noflip/transformer_log.json" "$RUN/t2i_s7_noflip/transformer_log.json"
    "$RUN/t2i_noflip/transformer_log.json")
fi
stage curves $PY "$T/plot_curves.py" --vae-log "$RUN/vae_a/vae_log.json" "$RUN/vae_b/vae_log.json" --t2i-log "$RUN/t2i_s5/transformer_log.json" "$RUN/t2i_s7/transformer_log.json" "$RUN/t2i/transformer_log.json" \
  "${NOFLIP_LOG[@]}" --out "$DOCS"
if [ "${EVAL:-1}" = 1 ]; then
  stage eval_vae $PY "$T/sample_eval.py" vae --vae "$RUN/vae_b/vae.safetensors" --schedule 1,2,4,6,8,12,16 --out "$RUN/eval_vae" --threads "$THREADS"
  stage eval_model $PY "$T/sample_eval.py" model --model "$MODEL" --out "$RUN/eval_model" --threads "$THREADS"
  [ -x "$ROOT/build/examples/infinode" ] && stage eval_cpp $PY "$T/sample_eval.py" cpp --model "$MODEL" --out "$RUN/eval_cpp"
fi
echo "total: $SECONDS s wall; model in $MODEL"
