#!/usr/bin/python3
"""A stand-in for `infinode generate` that draws the true scene of each benchmark caption.

Used by bench_floor.sh's "plumbing" mode: with perfect pictures bench.py must score 100%, which
fails if it pairs an image with the wrong prompt, misreads the CLI's file naming (OUT_NNN for a
batch, OUT for one image), or mangles outputs of another size (FAKE_SIZE, default 128: the
scenes are rendered at that side and bench.py must bring them to 128).
Accepts: generate -o OUT [--seed N and other flags with a value] [-q] -- CAPTION...
Prints the written paths on stdout and progress lines like the engine's on stderr.
"""
import os
import sys

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tools", "shapes"))
import scenes  # noqa: E402
from pngio import write_png  # noqa: E402


def main(argv):
    if not argv or argv[0] != "generate":
        print("fake_infinode: only 'generate' is faked", file=sys.stderr)
        return 2
    args, out, captions = argv[1:], None, []
    i = 0
    while i < len(args):
        if args[i] == "--":
            captions = args[i + 1:]
            break
        if args[i] in ("-q", "--quiet"):
            i += 1
            continue
        if args[i] in ("-o", "--output"):
            out = args[i + 1]
        i += 2  # every other flag bench.py passes takes one value
    if out is None or not captions:
        print("fake_infinode: needs -o OUT and captions after --", file=sys.stderr)
        return 2
    truth = {p["caption"]: p["spec"] for p in scenes.make_eval_prompts()}
    size = int(os.environ.get("FAKE_SIZE", "128"))
    stem, extension = os.path.splitext(out)
    for index, caption in enumerate(captions):
        if caption not in truth:
            print(f"fake_infinode: error: unknown caption {caption!r}", file=sys.stderr)
            return 1
        path = out if len(captions) == 1 else f"{stem}_{index:03d}{extension}"
        write_png(path, scenes.render(scenes.SceneSpec.from_dict(truth[caption]), image_size=size))
        print(path)
    print("sample     1/1   [########################]    0.00 s  (total 0.00 s)", file=sys.stderr)
    print(f"infinode generate: {len(captions)} images (fake) in 0.01 s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
