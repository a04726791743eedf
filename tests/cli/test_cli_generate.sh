#!/usr/bin/env bash
# infinode generate / edit: the CLI as a host of the built-in nodes, end to end on the random
# "tiny" pipeline at 0.06M (7 scales, 256x256; random weights, so only the plumbing is judged,
# never the picture): files, numbering, EXR, metadata, progress, masks, determinism, and clean
# failures with the documented exit codes (1 runtime error, 2 usage).
# Needs INFINODE in the environment, and INF_DEFAULT_MODEL_DIR (the compiled-in default model).
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0
tiny=(--random-weights tiny --resolution 0.06M)

pass() { passed=$((passed + 1)); }
failure() { failed=$((failed + 1)); echo "FAIL: $1"; [ -f err ] && cat err; }

check() {  # check DESCRIPTION COMMAND...: must succeed
  local what="$1"; shift
  if "$@" >out 2>err; then pass; else failure "$what (exit $?)"; fi
}
expect() {  # expect DESCRIPTION CONDITION...: a test(1)-style condition or command that must hold
  local what="$1"; shift
  if "$@"; then pass; else failure "$what"; fi
}
refuse() {  # refuse DESCRIPTION CODE PHRASE COMMAND...: exit CODE; stderr ends with one error line holding PHRASE
  local what="$1" code="$2" phrase="$3"; shift 3
  "$@" >out 2>err
  local got=$?
  if [ "$got" -eq "$code" ] && tail -n 1 err | grep -F -- "$phrase" | grep -q '^infinode '; then pass; else
    failure "$what (exit $got, expected $code with '$phrase')"; fi
}

# PNG facts without image libraries: "png_size FILE" prints WxH, "png_text FILE KEY" the text
# chunk KEY (tEXt, zTXt or iTXt), exit 1 when absent.
png_size() {
  python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); assert d[:8]==b"\x89PNG\r\n\x1a\n"; w,h=struct.unpack(">II",d[16:24]); print(f"{w}x{h}")' "$1"
}
png_text() {
  python3 - "$1" "$2" <<'PY'
import signal, struct, sys, zlib
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # grep -q may stop reading early
data, key, pos = open(sys.argv[1], "rb").read(), sys.argv[2].encode(), 8
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    name, _, rest = body.partition(b"\0")
    if name != key: continue
    if kind == b"tEXt": print(rest.decode("latin-1")); sys.exit(0)
    if kind == b"zTXt": print(zlib.decompress(rest[1:]).decode("latin-1")); sys.exit(0)
    if kind == b"iTXt":
        compressed, rest = rest[0], rest[2:]
        rest = rest.split(b"\0", 2)[2]
        print((zlib.decompress(rest) if compressed else rest).decode("utf-8")); sys.exit(0)
sys.exit(1)
PY
}
# A 256x256 PNG mask. "make_mask FILE SPLIT": grey, white (regenerate) where x < SPLIT, black
# elsewhere. "make_mask FILE clear": RGBA, white but fully transparent (its alpha is the mask).
make_mask() {
  python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
path, how = sys.argv[1], sys.argv[2]
if how == "clear":
    colour, pixel = 6, lambda x: bytes([255, 255, 255, 0])
else:
    colour, pixel = 0, lambda x: bytes([255 if x < int(how) else 0])
rows = b"".join(b"\0" + b"".join(pixel(x) for x in range(256)) for _ in range(256))
chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, colour, 0, 0, 0))
open(path, "wb").write(png + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
}

# --- generate ---
check "one prompt" "$INFINODE" generate "a red cube on a table" -o one.png "${tiny[@]}" --seed 7
expect "one prompt: the file is OUT itself" [ -f one.png ]
expect "one prompt: stdout names it" grep -qx "one.png" out
expect "one prompt: 256x256" [ "$(png_size one.png)" = "256x256" ]
expect "progress: one line per scale (7) when stderr is not a terminal" [ "$(grep -cE '^sample +[1-7]/7 ' err)" -eq 7 ]
expect "progress: the last scale with its time" grep -qE '^sample +7/7 +\[#+\] +[0-9]+\.[0-9]+ s' err
expect "PNG parameters chunk: prompt and seed" bash -c "$(declare -f png_text); png_text one.png parameters | grep -q 'a red cube on a table' && png_text one.png parameters | grep -q 'Seed: 7'"
expect "PNG generation JSON: seed, schedule, model, version" bash -c "$(declare -f png_text); png_text one.png infinode:generation | python3 -c 'import json,sys; g=json.load(sys.stdin); assert g[\"seed\"]==7 and g[\"prompt\"]==\"a red cube on a table\" and \"0.06M\" in g[\"schedule\"] and \"tiny\" in g[\"model\"] and g[\"version\"].startswith(\"infinode\"), g'"

check "2 prompts x batch 2" "$INFINODE" generate "a cat" "a dog" --batch 2 -o many.png "${tiny[@]}" --negative "blurry" \
  --tokens many.safetensors --preview-dir previews
expect "batch: 4 numbered files" [ -f many_000.png ] && [ -f many_001.png ] && [ -f many_002.png ] && [ -f many_003.png ] && [ ! -e many.png ]
expect "batch: stdout lists the 4 files" [ "$(grep -c '^many_00[0-3].png$' out)" -eq 4 ]
expect "batch: prompt-major (image 3 is the second prompt's)" bash -c "$(declare -f png_text); png_text many_002.png parameters | sed -n 1p | grep -qx 'a dog' && png_text many_001.png parameters | sed -n 1p | grep -qx 'a cat'"
expect "batch: negative prompt in the metadata" bash -c "$(declare -f png_text); png_text many_000.png parameters | grep -qx 'Negative prompt: blurry'"
expect "batch: the images differ" bash -c "! cmp -s many_000.png many_001.png"
expect "--tokens: the bit tokens are saved" bash -c "\"$INFINODE\" inspect many.safetensors >/dev/null"
expect "--preview-dir: one preview per scale" [ "$(ls previews | grep -c '^many_sample_0[1-7].png$')" -eq 7 ]

check "EXR by --exr" "$INFINODE" generate "a cat" -o linear.png --exr "${tiny[@]}"
expect "EXR: OUT's extension becomes .exr" grep -qx "linear.exr" out
expect "EXR: an OpenEXR file" [ "$(head -c 4 linear.exr | od -An -tx1 | tr -d ' \n')" = "762f3101" ]
check "EXR by extension" "$INFINODE" generate "a cat" -o by_name.exr "${tiny[@]}" -q
expect "EXR by extension: written" [ -f by_name.exr ]
expect "--quiet: no progress" [ ! -s err ]

# --- determinism ---
check "seed 7 again" "$INFINODE" generate "a red cube on a table" -o again.png "${tiny[@]}" --seed 7 -q
expect "same seed: identical PNG bytes" cmp -s one.png again.png
check "seed 8" "$INFINODE" generate "a red cube on a table" -o other.png "${tiny[@]}" --seed 8 -q
expect "another seed: another image" bash -c "! cmp -s one.png other.png"

# --- edit ---
check "edit, 3 scales kept" "$INFINODE" edit one.png --prompt "a blue sphere" --keep-scales 3 -o edited.png "${tiny[@]}" \
  --tokens edited.safetensors
expect "edit: 256x256" [ "$(png_size edited.png)" = "256x256" ]
expect "edit: metadata names the source and the kept scales" bash -c "$(declare -f png_text); png_text edited.png infinode:generation | python3 -c 'import json,sys; g=json.load(sys.stdin); assert g[\"command\"]==\"edit\" and g[\"source_image\"]==\"one.png\" and g[\"keep_scales\"]==\"3\", g'"
# Keeping every scale reproduces the source's tokens; so does a mask that regenerates nothing.
# A mask over half the image changes them.
check "edit, every scale kept" "$INFINODE" edit one.png --prompt "a blue sphere" --keep-scales 7 -o all_kept.png "${tiny[@]}" \
  --tokens all_kept.safetensors -q
make_mask none.png 0
make_mask half.png 128
check "edit, empty mask" "$INFINODE" edit one.png --prompt "a blue sphere" --keep-scales 3 --mask none.png -o none_masked.png \
  "${tiny[@]}" --tokens none_masked.safetensors -q
expect "empty mask: the source's tokens at every scale" cmp -s all_kept.safetensors none_masked.safetensors
make_mask clear.png clear
check "edit, transparent white mask" "$INFINODE" edit one.png --prompt "a blue sphere" --keep-scales 3 --mask clear.png \
  -o clear_masked.png "${tiny[@]}" --tokens clear_masked.safetensors -q
expect "a mask's alpha wins over its colour" cmp -s all_kept.safetensors clear_masked.safetensors
check "edit, half mask" "$INFINODE" edit one.png --prompt "a blue sphere" --keep-scales 3 --mask half.png -o half_masked.png \
  "${tiny[@]}" --tokens half_masked.safetensors -q
expect "half mask: written" [ "$(png_size half_masked.png)" = "256x256" ]
expect "half mask: the masked half is regenerated" bash -c "! cmp -s all_kept.safetensors half_masked.safetensors"
expect "half mask: not the unmasked edit" bash -c "! cmp -s edited.safetensors half_masked.safetensors"

# --- bad input ---
refuse "unknown flag" 2 "unknown option '--colour'" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --colour red
refuse "no prompt" 2 "no prompt" "$INFINODE" generate -o never.png "${tiny[@]}"
refuse "no output" 2 "-o OUT is required" "$INFINODE" generate "a cat" "${tiny[@]}"
refuse "--width 0" 2 "--width" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --width 0 --height 256
refuse "--seed x" 2 "--seed needs an integer in 0..9007199254740992, not 'x'" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --seed x
refuse "--width without --height" 2 "--width and --height go together" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --width 256
refuse "--cfg out of the node's range" 2 "--cfg" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --cfg 1000
refuse "bad --aspect" 2 "--aspect" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --aspect 16:0
refuse "bad --device" 2 "--device" "$INFINODE" generate "a cat" -o never.png "${tiny[@]}" --device gpu
refuse "unknown random pipeline" 2 "unknown pipeline 'huge'" "$INFINODE" generate "a cat" -o never.png --random-weights huge
refuse "invalid UTF-8 prompt" 1 "prompt 2: text is not valid UTF-8" "$INFINODE" generate "a cat" $'a \xff cat' -o never.png "${tiny[@]}"
refuse "output folder missing" 1 "does not exist" "$INFINODE" generate "a cat" -o no/such/folder/never.png "${tiny[@]}"
refuse "INFINODE_MODEL_DIR not a directory" 1 "INFINODE_MODEL_DIR no/such/models: not a directory" \
  env INFINODE_MODEL_DIR=no/such/models "$INFINODE" generate "a cat" -o never.png
# INFINODE_MODEL_DIR set but empty turns the default model off (docs/model-manifest.md).
refuse "no model" 1 "no model: pass --model DIR, --transformer/--vae/--t5/--spiece, or --random-weights tiny" \
  env INFINODE_MODEL_DIR= "$INFINODE" generate "a cat" -o never.png
if [ -f "${INF_DEFAULT_MODEL_DIR:-/nonexistent}/model.json" ]; then  # the default model, found without flags
  if env -u INFINODE_MODEL_DIR "$INFINODE" generate "a photo of a red circle" -o default.png --seed 3 >out 2>err \
      && [ "$(png_size default.png)" = "64x64" ]; then pass; else failure "default model: $(tail -n 1 err)"; fi
  if INFINODE_MODEL_DIR="$INF_DEFAULT_MODEL_DIR" "$INFINODE" generate "a photo of a red circle" -o via_env.png --seed 3 >out 2>err \
      && cmp -s default.png via_env.png; then pass; else failure "INFINODE_MODEL_DIR: $(tail -n 1 err)"; fi
fi
refuse "missing weight file" 1 "missing.safetensors" "$INFINODE" generate "a cat" -o never.png --transformer missing.safetensors \
  --random-weights tiny --resolution 0.06M
refuse "edit: no such image" 1 "nope.png: no such file" "$INFINODE" edit nope.png --prompt "a" --keep-scales 3 -o never.png "${tiny[@]}"
refuse "edit: no --keep-scales" 2 "--keep-scales is required" "$INFINODE" edit one.png --prompt "a" -o never.png "${tiny[@]}"
refuse "edit: more scales kept than exist" 1 "org.infinode.sampler.edit" "$INFINODE" edit one.png --prompt "a" --keep-scales 9 \
  -o never.png "${tiny[@]}"
refuse "edit: not an image" 1 "not_an_image.png" bash -c "echo text > not_an_image.png; \"$INFINODE\" edit not_an_image.png --prompt a --keep-scales 3 -o never.png ${tiny[*]}"
expect "no output after a failure" [ ! -e never.png ]
check "--help" "$INFINODE" generate --help
expect "--help lists the flags" grep -q -- "--random-weights" out
check "edit --help" "$INFINODE" edit --help

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
