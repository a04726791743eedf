#!/usr/bin/python3
"""Regenerates the tokenizer fixtures in tests/data/text/ with Debian's SentencePiece tools.

  tools/make_text_fixtures.py            # writes test_spiece.model and prompts.expected.txt

Needs only /usr/bin/python3 and the `sentencepiece` package (spm_train, spm_encode); no pip
packages, so the expected ids come from the reference tool and never from infinode's own code.

test_spiece.model is a small unigram model trained on corpus.txt with T5's special ids (pad 0,
EOS 1, unk 2, no BOS) and the default nmt_nfkc normalizer, like Flan-T5's spiece.model. Training
is deterministic (one thread, fixed seed, every sentence used), and it runs in a scratch folder
under fixed file names because the model records its input path and prefix.

prompts.expected.txt holds, for each line of prompts.txt, the ids that `spm_encode
--output_format=id` gives plus EOS (1), which is what HF's T5TokenizerFast (legacy=True) gives
for ordinary text. HF also cuts the special tokens written in the text out before SentencePiece
sees it: `<extra_id_N>` (N = 0..99, written without leading zeros) becomes id vocab + 99 - N,
and `</s>`, `<pad>`, `<unk>` become 1, 0, 2. This script does that split itself, runs
spm_encode on the pieces between, and puts the ids back together. spm_encode reads one line per
sentence, so prompts.txt cannot hold newlines; the unit test checks those separately.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

VOCAB_SIZE = 800  # the corpus supports at most ~930 pieces; 800 keeps the model small
SPECIAL_IDS = {"<pad>": 0, "</s>": 1, "<unk>": 2}
EOS_ID = 1
SPECIAL = re.compile(r"<extra_id_(0|[1-9][0-9]?)>|</s>|<pad>|<unk>")


def train(corpus, model_out):
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copyfile(corpus, os.path.join(scratch, "corpus.txt"))
        subprocess.run(
            ["spm_train", "--input=corpus.txt", "--model_prefix=test_spiece", "--model_type=unigram",
             f"--vocab_size={VOCAB_SIZE}", "--character_coverage=1.0",
             "--pad_id=0", "--eos_id=1", "--unk_id=2", "--bos_id=-1",
             "--num_threads=1", "--random_seed=1234"],
            cwd=scratch, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.copyfile(os.path.join(scratch, "test_spiece.model"), model_out)


def split_special(prompt, vocab_size):
    """The prompt as a list of str (text for SentencePiece) and int (a special token's id)."""
    parts, start = [], 0
    for match in SPECIAL.finditer(prompt):
        parts.append(prompt[start:match.start()])
        if match.group(1) is not None:
            parts.append(vocab_size + 99 - int(match.group(1)))
        else:
            parts.append(SPECIAL_IDS[match.group(0)])
        start = match.end()
    parts.append(prompt[start:])
    return parts


def spm_encode(model, texts):
    """Ids of each text, through one spm_encode run (one text a line)."""
    data = "".join(text + "\n" for text in texts).encode("utf-8")
    out = subprocess.run(["spm_encode", f"--model={model}", "--output_format=id"],
                         input=data, check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == len(texts) + 1, "spm_encode output is not one line a text"
    return [[int(token) for token in line.split()] for line in lines[:-1]]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = os.path.join(root, "tests", "data", "text")
    model = os.path.join(data, "test_spiece.model")
    for tool in ("spm_train", "spm_encode"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install sentencepiece")
    train(os.path.join(data, "corpus.txt"), model)

    with open(os.path.join(data, "prompts.txt"), encoding="utf-8", newline="") as f:
        # Split on "\n" only: str.splitlines would also break at U+2028 and friends.
        prompts = f.read().split("\n")
    assert prompts[-1] == "", "prompts.txt must end with a newline"
    prompts = prompts[:-1]

    split = [split_special(prompt, VOCAB_SIZE) for prompt in prompts]
    texts = [part for parts in split for part in parts if isinstance(part, str)]
    encoded = iter(spm_encode(model, texts))
    with open(os.path.join(data, "prompts.expected.txt"), "w", encoding="utf-8", newline="\n") as f:
        for parts in split:
            ids = []
            for part in parts:
                ids.extend(next(encoded) if isinstance(part, str) else [part])
            f.write(" ".join(str(i) for i in ids + [EOS_ID]) + "\n")
    print(f"wrote {model} ({os.path.getsize(model)} bytes) and ids for {len(prompts)} prompts")


if __name__ == "__main__":
    main()
