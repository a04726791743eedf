#!/usr/bin/python3
"""Writes tests/data/golden/t5_tiny.safetensors: a small random Flan-T5-style encoder run by
Hugging Face transformers, the golden file `infinode golden` checks the C++ T5 encoder with.

  /usr/bin/python3 -m pip install --break-system-packages \
      "transformers==4.40.2" "sentencepiece==0.2.3" "protobuf==4.25.3"
  /usr/bin/python3 tools/make_t5_golden.py

Pinned: transformers 4.40.2 (the 4.4x line still supports torch 1.13) under Debian's
python3-torch 1.13 (CPU); tokenizers 0.19.1 and safetensors come with it; sentencepiece runs
the slow tokenizer and protobuf the slow-to-fast conversion. Deterministic: fixed seed, fp32, CPU;
reruns give the same tensors and metadata (only the order of the metadata keys in the header,
a hash map in the safetensors writer, may change).

Model: T5EncoderModel with Flan-T5's options (gated-gelu FFN, 32 relative-attention buckets up
to distance 128, RMS norm eps 1e-6, untied embeddings) at a tiny size: d_model 64, 3 layers,
4 heads x d_kv 16, d_ff 96. The vocabulary is the test tokenizer's (pieces + 100 sentinels,
padded to a multiple of 64, as Flan pads 32100 to 32128).

Weights are drawn here rather than by HF's _init_weights, whose all-ones norms and tiny
position table would let a port that skips the norm weights or scrambles the buckets pass:
  shared (embedding)         N(0, 1)
  q                          N(0, 1) * 0.5 / sqrt(d_model)   (logits of std ~2: T5 does not scale them)
  k, v, wi_0, wi_1           N(0, 1) / sqrt(d_model)
  o                          N(0, 1) / sqrt(heads * d_kv)
  wo                         N(0, 1) / sqrt(d_ff)
  layer norms, final norm    1 + 0.1 N(0, 1)
  relative_attention_bias    N(0, 1)                         (bias as large as the logits)

Token ids come from HF's T5Tokenizer (slow, SentencePiece, legacy=True, 100 extra ids) over
tests/data/text/test_spiece.model, truncated to 512 with EOS appended, the reference's call
(spec section 3). The fast tokenizer (what AutoTokenizer gives the reference) is run too and
must agree. The ids are stored, so the C++ tokenizer can be checked against HF with the same
file. Without the spiece model the script falls back to fixed ids (metadata says so).

Prompts: the special cases below (empty prompt = just EOS, CJK, emoji, a prompt longer than
512 tokens) plus every line of tests/data/text/prompts.txt when present.

File layout (tests/data/golden/README.md's format; docs/golden-t5.md describes this file):
  weight.<HF name>          the encoder's state dict (shared.weight once: the tied
                            encoder.embed_tokens.weight is the same tensor)
  input.ids.p{i}            I32 [L_i]
  expect.features.p{i}      F32 [L_i, 64]: last_hidden_state of the unpadded prompt
  __metadata__: kind "t5-encoder", config (JSON), prompts (JSON list), truncated (JSON list),
  fp32_vs_fp64_max_abs_err (JSON, per expect tensor), padded_vs_unpadded_max_abs_err,
  tokenizer, generator.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import T5Config, T5EncoderModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPIECE = os.path.join(ROOT, "tests", "data", "text", "test_spiece.model")
PROMPTS = os.path.join(ROOT, "tests", "data", "text", "prompts.txt")
OUT = os.path.join(ROOT, "tests", "data", "golden", "t5_tiny.safetensors")
MAX_LENGTH = 512
SEED = 20240611

SPECIAL_PROMPTS = [
    "",  # just EOS
    "a photo of a cat sitting on a windowsill",
    "一只可爱的猫坐在窗台上，水彩画",  # CJK
    "a sunset over the ocean 🌅🐬 with vivid colours ✨",  # emoji
    # More than 512 tokens: truncated to 511 pieces + EOS.
    " ".join(["a red fox jumps over the lazy dog near the river, oil painting, 1890s"] * 60),
]


def load_prompts():
    prompts = list(SPECIAL_PROMPTS)
    if os.path.exists(PROMPTS):
        with open(PROMPTS, encoding="utf-8", newline="") as f:
            for line in f.read().split("\n"):
                if line and line not in prompts:
                    prompts.append(line)
    return prompts


def tokenize(prompts):
    """(vocab rows, ids per prompt, truncated flags, tokenizer description)."""
    if not os.path.exists(SPIECE):
        # Fixed ids: EOS-terminated, spread over the vocabulary, one prompt of 512.
        vocab = 1200
        ids = [[1]] + [[(p * 37 + t * 11) % (vocab - 3) + 2 for t in range(n)] + [1]
                       for p, n in ((1, 9), (2, 17), (3, 33), (4, MAX_LENGTH - 1))]
        return vocab, ids, [False, False, False, False, True], "none: fixed ids (no test_spiece.model)"
    from transformers import T5Tokenizer, T5TokenizerFast
    slow = T5Tokenizer(vocab_file=SPIECE, extra_ids=100, legacy=True)
    fast = T5TokenizerFast(vocab_file=SPIECE, extra_ids=100, legacy=True, from_slow=True)
    ids, truncated = [], []
    for prompt in prompts:
        full = slow(prompt, truncation=False)["input_ids"]
        cut = slow(prompt, max_length=MAX_LENGTH, truncation=True)["input_ids"]
        fast_cut = fast(prompt, max_length=MAX_LENGTH, truncation=True)["input_ids"]
        assert cut == fast_cut, f"slow and fast tokenizers disagree on {prompt!r}: {cut} vs {fast_cut}"
        assert cut[-1] == 1, "EOS must end every prompt"
        ids.append(cut)
        truncated.append(len(full) > len(cut))
    vocab = (len(slow) + 63) // 64 * 64
    description = (f"HF T5Tokenizer and T5TokenizerFast (legacy=True, extra_ids=100, agree on every prompt) "
                   f"over tests/data/text/test_spiece.model ({len(slow)} ids), max_length {MAX_LENGTH}")
    return vocab, ids, truncated, description


def make_model(vocab):
    config = T5Config(vocab_size=vocab, d_model=64, d_kv=16, num_heads=4, d_ff=96, num_layers=3,
                      feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                      relative_attention_max_distance=128, layer_norm_epsilon=1e-6, dropout_rate=0.0,
                      tie_word_embeddings=False)
    torch.manual_seed(SEED)
    model = T5EncoderModel(config).eval()
    inner = config.num_heads * config.d_kv
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if name == "encoder.embed_tokens.weight":
                continue  # tied to shared.weight
            if name.endswith("layer_norm.weight"):
                tensor.copy_(1 + 0.1 * torch.randn(tensor.shape))
            elif name == "shared.weight" or name.endswith("relative_attention_bias.weight"):
                tensor.copy_(torch.randn(tensor.shape))
            else:
                fan_in = {"o": inner, "wo": config.d_ff}.get(name.split(".")[-2], config.d_model)
                gain = 0.5 if name.endswith(".q.weight") else 1.0
                tensor.copy_(torch.randn(tensor.shape) * gain / fan_in ** 0.5)
    return config, model


def run(model, ids, dtype):
    model = model.to(dtype)
    with torch.no_grad():
        return [model(input_ids=torch.tensor([p])).last_hidden_state[0] for p in ids]


def padded_error(model, ids, features):
    """Max |padded batch features[:len] - unpadded features|: T5's padding mask makes them equal."""
    longest = max(len(p) for p in ids)
    batch = torch.zeros(len(ids), longest, dtype=torch.long)
    mask = torch.zeros(len(ids), longest, dtype=torch.long)
    for row, p in enumerate(ids):
        batch[row, :len(p)] = torch.tensor(p)
        mask[row, :len(p)] = 1
    with torch.no_grad():
        out = model.float()(input_ids=batch, attention_mask=mask).last_hidden_state
    return max(float((out[row, :len(p)] - features[row]).abs().max()) for row, p in enumerate(ids))


def main():
    prompts = load_prompts()
    vocab, ids, truncated, tokenizer = tokenize(prompts)
    if not os.path.exists(SPIECE):
        prompts = [f"<fixed ids {i}>" for i in range(len(ids))]
    config, model = make_model(vocab)
    features = run(model, ids, torch.float32)
    reference = run(model, ids, torch.float64)
    model = model.float()

    tensors, noise = {}, {}
    for name, value in model.state_dict().items():
        if name != "encoder.embed_tokens.weight":
            tensors["weight." + name] = value.contiguous().clone()
    for i, (p, f, r) in enumerate(zip(ids, features, reference)):
        tensors[f"input.ids.p{i}"] = torch.tensor(p, dtype=torch.int32)
        tensors[f"expect.features.p{i}"] = f.contiguous()
        noise[f"expect.features.p{i}"] = float((f.double() - r).abs().max())
    config_json = {key: getattr(config, key) for key in (
        "vocab_size", "d_model", "d_kv", "num_heads", "d_ff", "num_layers", "feed_forward_proj",
        "relative_attention_num_buckets", "relative_attention_max_distance", "layer_norm_epsilon")}
    metadata = {
        "kind": "t5-encoder",
        "config": json.dumps(config_json),
        "prompts": json.dumps(prompts, ensure_ascii=False),
        "truncated": json.dumps(truncated),
        "fp32_vs_fp64_max_abs_err": json.dumps(noise),
        "padded_vs_unpadded_max_abs_err": f"{padded_error(model, ids, features):.3e}",
        "tokenizer": tokenizer,
        "generator": (f"tools/make_t5_golden.py: transformers {transformers.__version__} T5EncoderModel, "
                      f"torch {torch.__version__}, seed {SEED}, fp32 CPU"),
    }
    save_file(tensors, OUT, metadata=metadata)
    os.chmod(OUT, 0o644)  # the writer creates it private
    lengths = [len(p) for p in ids]
    print(f"{OUT}: {os.path.getsize(OUT) / 1e6:.2f} MB, vocab {vocab}, {len(ids)} prompts of {lengths} tokens, "
          f"worst fp32 vs fp64 {max(noise.values()):.2e}, padded vs unpadded {metadata['padded_vs_unpadded_max_abs_err']}")


if __name__ == "__main__":
    sys.exit(main())
