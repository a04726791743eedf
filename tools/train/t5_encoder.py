#!/usr/bin/python3
"""A T5 encoder (Flan-T5 options) in plain PyTorch with Hugging Face key names (spec §3).

Keys: ``shared.weight``, ``encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight``,
``encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight`` (layer 0 only),
``encoder.block.{i}.layer.0.layer_norm.weight``,
``encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight``,
``encoder.block.{i}.layer.1.layer_norm.weight``, ``encoder.final_layer_norm.weight``.
``encoder.embed_tokens`` is the same tensor as ``shared`` (tied), so it is not a separate
state-dict entry here; HF's safetensors files also store it once.

Maths: RMSNorm (no mean, no bias, fp32), attention logits not scaled by 1/sqrt(d_kv),
bidirectional relative-position buckets computed once and shared by all layers, gated-GELU
(tanh) FFN, pre-norm residuals, final RMSNorm.  Padded batches are supported through lengths
(keys past a prompt's length are masked, as HF's attention_mask does).
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class T5Config:
    vocab_size: int = 960
    d_model: int = 64
    d_kv: int = 16
    num_heads: int = 4
    d_ff: int = 96
    num_layers: int = 3
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6


class T5LayerNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        var = xf.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def relative_position_bucket(rel: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bidirectional T5 buckets of rel = key - query."""
    num_buckets //= 2
    out = (rel > 0).to(torch.long) * num_buckets
    rel = rel.abs()
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(is_small, rel, large)


class T5Attention(nn.Module):
    def __init__(self, cfg: T5Config, has_bias: bool):
        super().__init__()
        inner = cfg.num_heads * cfg.d_kv
        self.h, self.dk = cfg.num_heads, cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        self.cfg = cfg
        if has_bias:
            self.relative_attention_bias = nn.Embedding(cfg.relative_attention_num_buckets, cfg.num_heads)

    def position_bias(self, L: int, device) -> torch.Tensor:
        pos = torch.arange(L, device=device)
        rel = pos[None, :] - pos[:, None]  # key - query
        buckets = relative_position_bucket(rel, self.cfg.relative_attention_num_buckets,
                                           self.cfg.relative_attention_max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # [1, H, L, L]

    def forward(self, x, bias):
        B, L, _ = x.shape
        split = lambda t: t.view(B, L, self.h, self.dk).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) + bias  # no 1/sqrt(d_kv)
        attn = F.softmax(scores if scores.dtype == torch.float64 else scores.float(), dim=-1).type_as(scores)
        return self.o((attn @ v).transpose(1, 2).reshape(B, L, self.h * self.dk))


class _SelfAttentionLayer(nn.Module):
    def __init__(self, cfg, has_bias):
        super().__init__()
        self.SelfAttention = T5Attention(cfg, has_bias)
        self.layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)

    def forward(self, x, bias):
        return x + self.SelfAttention(self.layer_norm(x), bias)


class _GatedGelu(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x):
        return self.wo(F.gelu(self.wi_0(x), approximate='tanh') * self.wi_1(x))


class _FFLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.DenseReluDense = _GatedGelu(cfg)
        self.layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Module):
    def __init__(self, cfg, has_bias):
        super().__init__()
        self.layer = nn.ModuleList([_SelfAttentionLayer(cfg, has_bias), _FFLayer(cfg)])

    def forward(self, x, bias):
        return self.layer[1](self.layer[0](x, bias))


class _Stack(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.block = nn.ModuleList([T5Block(cfg, i == 0) for i in range(cfg.num_layers)])
        self.final_layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)


class T5Encoder(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.cfg = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encoder = _Stack(cfg)

    def init_weights(self, std: float = 1.0):
        """HF-like init scaled for training from scratch."""
        c = self.cfg
        nn.init.normal_(self.shared.weight, std=std)
        for blk in self.encoder.block:
            a = blk.layer[0].SelfAttention
            nn.init.normal_(a.q.weight, std=(c.d_model * c.d_kv) ** -0.5)
            for m in (a.k, a.v):
                nn.init.normal_(m.weight, std=c.d_model ** -0.5)
            nn.init.normal_(a.o.weight, std=(c.num_heads * c.d_kv) ** -0.5)
            f = blk.layer[1].DenseReluDense
            nn.init.normal_(f.wi_0.weight, std=c.d_model ** -0.5)
            nn.init.normal_(f.wi_1.weight, std=c.d_model ** -0.5)
            nn.init.normal_(f.wo.weight, std=c.d_ff ** -0.5)
        return self

    def forward(self, ids: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """ids [B, L] (int), lens [B] (real tokens incl. EOS; None = all) -> [B, L, d_model]
        (last_hidden_state; rows past a length are not meaningful)."""
        B, L = ids.shape
        x = self.shared(ids.long())
        bias = self.encoder.block[0].layer[0].SelfAttention.position_bias(L, ids.device)
        if lens is not None:
            valid = torch.arange(L, device=ids.device)[None, :] < lens.to(ids.device)[:, None]
            key_mask = torch.zeros(B, 1, 1, L, device=ids.device)
            key_mask.masked_fill_(~valid[:, None, None, :], torch.finfo(torch.float32).min)
            bias = bias + key_mask
        for blk in self.encoder.block:
            x = blk(x, bias)
        return self.encoder.final_layer_norm(x)
