#!/usr/bin/python3
"""Training data: procedural scenes (tools/shapes/scenes.py) and the SentencePiece tokenizer.

  scene_batch(rng, B, split)      -> images [B, 3, S, S] in [-1, 1], captions, specs
  train_spm(out_prefix, ...)      trains a T5-style SentencePiece model on sampled captions with
                                  spm_train (pad 0, eos 1, unk 2, no bos, as T5's spiece.model and
                                  tools/make_text_fixtures.py), so the C++ T5Tokenizer reads it
  Tokenizer(model).batch(texts)   -> ids [B, L] (EOS appended, 0-padded), lens [B]
  t5_vocab_rows(pieces)           embedding rows: pieces + 100 sentinel ids, padded to 64 (as
                                  Flan-T5 pads 32100 to 32128)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), 'shapes'))
import scenes  # noqa: E402  (tools/shapes/scenes.py, written by another engineer)


def scene_batch(rng: np.random.Generator, batch: int, split: str = 'train', image_size: int = None):
    size = image_size or scenes.DEFAULT_IMAGE_SIZE
    specs = [scenes.sample_scene(rng, split, image_size=size) for _ in range(batch)]
    imgs = np.stack([scenes.render(s) for s in specs])  # [B, S, S, 3] uint8
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    caps = [scenes.caption(s, rng) for s in specs]
    return x, caps, specs


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> uint8 [B, H, W, 3], truncating as the reference does."""
    return ((x.clamp(-1, 1) + 1) / 2 * 255).permute(0, 2, 3, 1).to(torch.uint8).numpy()


def train_spm(out_prefix: str, vocab_size: int = 160, captions: int = 20000, seed: int = 1234,
              model_type: str = 'bpe'):
    """spm_train on sampled training captions; returns the .model path.

    BPE, not T5's unigram: on this ~45-word caption language spm's unigram trainer stops at 84
    pieces and splits common words into letters ("▁p h o to"), while BPE at 160 pieces keeps
    every caption word whole.  The C++ tokenizer runs the SentencePiece library, so any model
    type loads."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, 'corpus.txt')
        with open(corpus, 'w') as f:
            for _ in range(captions):
                f.write(scenes.caption(scenes.sample_scene(rng, 'train'), rng) + '\n')
        subprocess.run(['spm_train', f'--input={corpus}', f'--model_prefix={out_prefix}', f'--model_type={model_type}',
                        f'--vocab_size={vocab_size}', '--character_coverage=1.0', '--hard_vocab_limit=false',
                        '--pad_id=0', '--eos_id=1', '--unk_id=2', '--bos_id=-1', '--num_threads=1',
                        f'--random_seed={seed}'], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out_prefix + '.model'


def t5_vocab_rows(pieces: int) -> int:
    return (pieces + 100 + 63) // 64 * 64


class Tokenizer:
    """T5 conventions over a SentencePiece model: ids + EOS (1), at most max_length tokens."""

    def __init__(self, model_path: str, max_length: int = 512):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=model_path)
        self.pieces = self.sp.get_piece_size()
        self.max_length = max_length

    def encode(self, text: str):
        ids = self.sp.encode(text)[: self.max_length - 1]
        return ids + [1]

    def batch(self, texts):
        seqs = [self.encode(t) for t in texts]
        L = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), L, dtype=torch.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
        return ids, torch.tensor([len(s) for s in seqs])
