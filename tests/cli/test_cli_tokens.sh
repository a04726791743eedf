#!/usr/bin/env bash
# encode / decode through the CLI with the golden VAE (random weights, so only the plumbing is
# judged, not the picture): PNG and EXR round trips, previews, and clean failures.
# Needs INFINODE and INF_TEST_DATA_DIR in the environment (set by ctest).
set -u
data="$INF_TEST_DATA_DIR"
vae=(--vae "$data/golden/vae_tiny.safetensors" --select weight)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() {  # check DESCRIPTION COMMAND...: must succeed
  local what="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $what"; cat "$work/err"; fi
}
fails_with() {  # fails_with CODE DESCRIPTION PHRASE COMMAND...: exit CODE with PHRASE on stderr, no output file
  local expected="$1" what="$2" phrase="$3"; shift 3
  "$@" >"$work/out" 2>"$work/err"
  local code=$?
  if [ "$code" -eq "$expected" ] && grep -qF -- "$phrase" "$work/err" && [ ! -e "$work/never.png" ] && [ ! -e "$work/never.safetensors" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $what (exit $code)"; cat "$work/err"
  fi
}
refuse() { fails_with 1 "$@"; }       # refuse DESCRIPTION PHRASE COMMAND...: a clean error
usage_error() { fails_with 2 "$@"; }  # usage_error DESCRIPTION PHRASE COMMAND...: a usage error

check "encode PNG" "$INFINODE" encode "$data/images/rgb8.png" -o "$work/a.safetensors" "${vae[@]}" --resolution 0.06M
check "decode to PNG" "$INFINODE" decode "$work/a.safetensors" -o "$work/a.png" "${vae[@]}"
check "decode to EXR" "$INFINODE" decode "$work/a.safetensors" -o "$work/a.exr" "${vae[@]}"
check "encode EXR" "$INFINODE" encode "$data/images/linear.exr" -o "$work/b.safetensors" "${vae[@]}" --resolution 0.06M
check "decode EXR tokens" "$INFINODE" decode "$work/b.safetensors" -o "$work/b.png" "${vae[@]}"
check "preview of 2 scales" "$INFINODE" decode "$work/a.safetensors" -o "$work/preview.png" "${vae[@]}" --scales 2
check "16-bit PNG out" "$INFINODE" decode "$work/a.safetensors" -o "$work/a16.png" "${vae[@]}" --bits 16
check "grey image" "$INFINODE" encode "$data/images/grey.png" -o "$work/g.safetensors" "${vae[@]}" --resolution 0.06M
check "token file lists its tokenizer" bash -c "\"$INFINODE\" inspect \"$work/a.safetensors\" | grep -q 'tokenizer: bsq-vae d16 s16'"

refuse "unreadable image" "img_truncated.png" "$INFINODE" encode "$data/bad/img_truncated.png" -o "$work/never.safetensors" "${vae[@]}"
refuse "not an image" "img_not_an_image.png" "$INFINODE" encode "$data/bad/img_not_an_image.png" -o "$work/never.safetensors" "${vae[@]}"
refuse "enormous dimensions" "img_huge_dims.png" "$INFINODE" encode "$data/bad/img_huge_dims.png" -o "$work/never.safetensors" "${vae[@]}"
refuse "zero-size image" "img_zero_size.png" "$INFINODE" encode "$data/bad/img_zero_size.png" -o "$work/never.safetensors" "${vae[@]}"
refuse "not a token file" "not an infinode bit-token file" "$INFINODE" decode "$data/st/small.safetensors" -o "$work/never.png" "${vae[@]}"
refuse "not a VAE" "BSQ-VAE" "$INFINODE" decode "$work/a.safetensors" -o "$work/never.png" --vae "$data/st/small.safetensors"
refuse "unknown resolution" "0.5M" "$INFINODE" encode "$data/images/rgb8.png" -o "$work/never.safetensors" "${vae[@]}" --resolution 0.5M
usage_error "non-integer --tile" "--tile needs an integer in 1..1000000, not 'x'" \
  "$INFINODE" encode "$data/images/rgb8.png" -o "$work/never.safetensors" "${vae[@]}" --tile x
usage_error "negative --overlap" "--overlap needs an integer in 0..1000000, not '-1'" \
  "$INFINODE" decode "$work/a.safetensors" -o "$work/never.png" "${vae[@]}" --overlap -1
usage_error "--scales 0" "--scales needs an integer in 1..1000000, not '0'" \
  "$INFINODE" decode "$work/a.safetensors" -o "$work/never.png" "${vae[@]}" --scales 0

# Tokens from another tokenizer: same shapes, other weights (the transformer golden has no VAE,
# so forge the identity instead).
/usr/bin/env python3 - "$work/a.safetensors" "$work/other.safetensors" <<'PY' || failed=$((failed + 1))
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header["__metadata__"]["tokenizer"] = "bsq-vae d16 s16 0123456789abcdef"
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
refuse "tokens from another tokenizer" "made by tokenizer" "$INFINODE" decode "$work/other.safetensors" -o "$work/never.png" "${vae[@]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
