#!/usr/bin/env bash
# The CLI against the fixture files: good files inspect and convert; every malformed file in
# tests/data/bad fails with exit code 1 and one line on stderr that names the file.
# Needs INFINODE (the binary) and INF_TEST_DATA_DIR in the environment (set by ctest).
set -u
data="$INF_TEST_DATA_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $what"; cat "$work/err"; fi
}

expect_clean_error() {  # expect_clean_error FILE COMMAND...: exit 1, one stderr line naming FILE
  local file="$1"; shift
  "$@" >"$work/out" 2>"$work/err"
  local code=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ "$code" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF "$file" "$work/err"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: '$*' exited $code with $lines stderr lines:"; cat "$work/err"
  fi
}

check "devices lists cpu" bash -c "\"$INFINODE\" devices | grep -q '^cpu '"
check "inspect safetensors" bash -c "\"$INFINODE\" inspect \"$data/st/small.safetensors\" | grep -q 'linear.weight'"
check "inspect index" bash -c "\"$INFINODE\" inspect \"$data/sharded/model.safetensors.index.json\" | grep -q 'blocks.1.weight'"

for pth in "$data"/pth/*.pth; do
  [ -e "$pth" ] || continue
  check "inspect $pth" "$INFINODE" inspect "$pth"
done
if [ -e "$data/pth/nested_vae.pth" ]; then
  check "convert --select vae --dtype bf16" "$INFINODE" convert "$data/pth/nested_vae.pth" "$work/vae.safetensors" --select vae --dtype bf16
  check "converted file has only vae tensors, in bf16" bash -c "\"$INFINODE\" inspect \"$work/vae.safetensors\" | grep -q ' bf16 ' && ! \"$INFINODE\" inspect \"$work/vae.safetensors\" | grep -q '^  ema\.'"
fi
check "convert safetensors to f16" "$INFINODE" convert "$data/st/small.safetensors" "$work/small16.safetensors" --dtype f16
check "f16 copy keeps integer tensors" bash -c "\"$INFINODE\" inspect \"$work/small16.safetensors\" | grep -q 'mask.i64 *i64'"

for bad in "$data"/bad/* "$data"/sharded/idx_*.json; do
  expect_clean_error "$bad" "$INFINODE" inspect "$bad"
  expect_clean_error "$bad" "$INFINODE" convert "$bad" "$work/never.safetensors"
done
if [ -e "$work/never.safetensors" ]; then failed=$((failed + 1)); echo "FAIL: a failed convert left a file"; else passed=$((passed + 1)); fi
expect_clean_error "$data/st/small.safetensors" "$INFINODE" convert "$data/st/small.safetensors" "$work/out.safetensors" --select nothing-here
"$INFINODE" no-such-command >/dev/null 2>&1
if [ $? -eq 2 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: unknown command should exit 2"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
