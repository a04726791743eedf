#!/usr/bin/env bash
# The CLI against the fixture files: good files inspect and convert; every malformed file in
# tests/data/bad fails with exit code 1 and one line on stderr that names the file; malformed
# integer flags of the bench and embed commands are usage errors (exit code 2).
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

usage_error() {  # usage_error DESCRIPTION PHRASE COMMAND...: exit 2 (a usage error) with PHRASE on stderr
  local what="$1" phrase="$2"; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local code=$?
  if [ "$code" -eq 2 ] && grep -qF -- "$phrase" "$work/err"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $what (exit $code)"; cat "$work/err"; fi
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

# Integer flags share one parser: a bad value is a usage error naming the flag, its range and the text
# (refused while parsing, before any weights are made or read).
usage_error "bench --repeat x" "--repeat needs an integer in 1..1000000, not 'x'" "$INFINODE" bench --repeat x
usage_error "bench --seed -1" "--seed needs an integer in 0..9007199254740992, not '-1'" "$INFINODE" bench --seed -1
usage_error "bench-t5 --tokens 20,x" "--tokens needs an integer in 1..1000000, not 'x'" "$INFINODE" bench-t5 --tokens 20,x
usage_error "bench-t5 --repeat 0" "--repeat needs an integer in 1..1000000, not '0'" "$INFINODE" bench-t5 --repeat 0
usage_error "bench-vae --size 256x" "--size needs an integer in 1..1000000, not ''" "$INFINODE" bench-vae --size 256x
usage_error "bench-vae --overlap x" "--overlap needs an integer in 0..1000000, not 'x'" "$INFINODE" bench-vae --overlap x
usage_error "bench-vae --seed 1e3" "--seed needs an integer in 0..9007199254740992, not '1e3'" "$INFINODE" bench-vae --seed 1e3
usage_error "embed --max-length x" "--max-length needs an integer in 1..1000000, not 'x'" \
  "$INFINODE" embed --t5 "$data/st/small.safetensors" --ids "0 1" -o "$work/never.safetensors" --max-length x
if [ -e "$work/never.safetensors" ]; then failed=$((failed + 1)); echo "FAIL: a refused embed left a file"; else passed=$((passed + 1)); fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
