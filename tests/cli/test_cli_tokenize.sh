#!/usr/bin/env bash
# infinode tokenize with the fixture SentencePiece model: the ids of every fixture prompt
# (expected file made by spm_encode), pieces with -v, truncation, and clean failures.
# Needs INFINODE and INF_TEST_DATA_DIR in the environment (set by ctest).
set -u
text="$INF_TEST_DATA_DIR/text"
model="$text/test_spiece.model"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() {  # check DESCRIPTION COMMAND...: must succeed
  local what="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $what"; cat "$work/err"; fi
}
refuse() {  # refuse DESCRIPTION CODE PHRASE COMMAND...: exit CODE with PHRASE on stderr; errors
  local what="$1" want="$2" phrase="$3"; shift 3  # (exit 1) are one line, usage (exit 2) may be more
  "$@" >"$work/out" 2>"$work/err"
  local code=$?
  if [ "$code" -eq "$want" ] && grep -qF -- "$phrase" "$work/err" && { [ "$want" -eq 2 ] || [ "$(wc -l <"$work/err")" -eq 1 ]; }; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $what (exit $code)"; cat "$work/err"
  fi
}

check "every fixture prompt" bash -c "\"$INFINODE\" tokenize --spm \"$model\" --file \"$text/prompts.txt\" --max-length 100000 \
  | cmp - \"$text/prompts.expected.txt\""
check "one prompt" bash -c "[ \"\$(\"$INFINODE\" tokenize --spm \"$model\" 'A red fox in the snow at dawn')\" = \
  \"\$(head -n 1 \"$text/prompts.expected.txt\")\" ]"
check "empty prompt is EOS" bash -c "[ \"\$(\"$INFINODE\" tokenize --spm \"$model\" '')\" = 1 ]"
check "sentinel" bash -c "[ \"\$(\"$INFINODE\" tokenize --spm \"$model\" '<extra_id_0>')\" = '899 1' ]"
check "pieces with -v" bash -c "\"$INFINODE\" tokenize --spm \"$model\" -v 'a cat <extra_id_1>' | tail -n 1 | grep -q '<extra_id_1> </s>$'"
check "truncation" bash -c "\"$INFINODE\" tokenize --spm \"$model\" --max-length 4 'A red fox in the snow at dawn' 2>\"$work/warn\" \
  | awk '{ exit !(NF == 4 && \$4 == 1) }' && grep -q 'dropped' \"$work/warn\""

refuse "missing model" 1 "$work/none.model" "$INFINODE" tokenize --spm "$work/none.model" "a cat"
printf 'not a model' >"$work/bad.model"
refuse "corrupt model" 1 "$work/bad.model" "$INFINODE" tokenize --spm "$work/bad.model" "a cat"
refuse "invalid UTF-8" 1 "UTF-8" "$INFINODE" tokenize --spm "$model" $'bad \xC0\xAF bytes'
printf 'a cat\nbad \xED\xA0\x80\n' >"$work/prompts.txt"
refuse "invalid UTF-8 in a file names the line" 1 "prompts.txt line 2" "$INFINODE" tokenize --spm "$model" --file "$work/prompts.txt"
refuse "missing prompt file" 1 "$work/none.txt" "$INFINODE" tokenize --spm "$model" --file "$work/none.txt"
refuse "no --spm" 2 "--spm" "$INFINODE" tokenize "a cat"
refuse "text and --file" 2 "either TEXT or --file" "$INFINODE" tokenize --spm "$model" "a cat" --file "$text/prompts.txt"
refuse "bad --max-length" 2 "--max-length needs an integer in 1..1000000, not '0'" "$INFINODE" tokenize --spm "$model" --max-length 0 "a cat"
refuse "non-integer --max-length" 2 "--max-length needs an integer in 1..1000000, not 'x'" "$INFINODE" tokenize --spm "$model" --max-length x "a cat"

echo "cli.tokenize: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
