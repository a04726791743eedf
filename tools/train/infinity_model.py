#!/usr/bin/python3
"""The Infinity bitwise transformer in plain PyTorch (spec §2.2, §5, §6; infinity-spec.md).

Parameter names are the official state-dict keys, so ``state_dict()`` of an ``Infinity`` is
exactly the key set of a released checkpoint (blocks under ``block_chunks.K.module.J.`` as the
released 2B/8B use, or flat ``blocks.I.`` when ``block_chunks=1``; buffers ``zero_k_bias``
included, as in the 2B file).  ``tools/train/golden_check.py`` proves the numerics against the
official reference's golden files.

Two entry points:
  * ``Infinity.forward``: training, teacher-forced, all scales in one sequence with the
    block-causal scale mask (spec §5.4), returns logits [B, L, 2d].
  * ``Infinity.generate``: the next-scale sampling loop (spec §6) with a per-block KV cache,
    CFG on logits, tau, top-k/top-p per bit, learned ``cfg_uncond`` rows (or a negative
    prompt) for the unconditional half, optional teacher forcing and a trace of the golden
    intermediates.  The default sampler draws its uniforms from the same Philox4x32-10 stream
    as the C++ engine (core/model/infinity/bit_sampler.cpp), so the same seed gives the same
    bits up to float noise at the decision thresholds.

Text is passed as padded features [B, Lt, Ct5] plus lengths (or as the reference's
concatenated rows via ``pack_text``).  Padded rows are masked out of every attention, so the
result equals the reference's variable-length flash attention.
"""
import math
from dataclasses import dataclass, field, asdict
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------
# Scale schedules (spec §4) and 2-D RoPE (spec §5.5)
# --------------------------------------------------------------------------------------------

# 1M schedules of the base templates (h/w >= 1); each ratio r != 1 also exists transposed,
# keyed int(1/r*1000)/1000.
_BASE_TEMPLATES = {
    1.0: [(1, 1), (2, 2), (4, 4), (6, 6), (8, 8), (12, 12), (16, 16), (20, 20), (24, 24), (32, 32), (40, 40),
          (48, 48), (64, 64)],
    1.25: [(1, 1), (2, 2), (3, 3), (5, 4), (10, 8), (15, 12), (20, 16), (25, 20), (30, 24), (35, 28), (45, 36),
           (55, 44), (70, 56)],
    1.333: [(1, 1), (2, 2), (4, 3), (8, 6), (12, 9), (16, 12), (20, 15), (24, 18), (28, 21), (36, 27), (48, 36),
            (60, 45), (72, 54)],
    1.5: [(1, 1), (2, 2), (3, 2), (6, 4), (9, 6), (15, 10), (21, 14), (27, 18), (33, 22), (39, 26), (48, 32),
          (63, 42), (78, 52)],
    1.75: [(1, 1), (2, 2), (3, 3), (7, 4), (11, 6), (14, 8), (21, 12), (28, 16), (35, 20), (42, 24), (56, 32),
           (70, 40), (84, 48)],
    2.0: [(1, 1), (2, 2), (4, 2), (6, 3), (10, 5), (16, 8), (22, 11), (30, 15), (38, 19), (46, 23), (60, 30),
          (74, 37), (90, 45)],
    2.5: [(1, 1), (2, 2), (5, 2), (10, 4), (15, 6), (20, 8), (25, 10), (30, 12), (40, 16), (50, 20), (65, 26),
          (80, 32), (100, 40)],
    3.0: [(1, 1), (2, 2), (6, 2), (9, 3), (15, 5), (21, 7), (27, 9), (36, 12), (45, 15), (54, 18), (72, 24),
          (90, 30), (111, 37)],
}
TEMPLATES = {}
for _r, _g in _BASE_TEMPLATES.items():
    TEMPLATES[_r] = list(_g)
    if _r != 1.0:
        TEMPLATES[int(1 / _r * 1000) / 1000] = [(w, h) for (h, w) in _g]
RESOLUTION_SCALES = {'0.06M': 7, '0.25M': 10, '0.60M': 12, '1M': 13}


@dataclass
class Schedule:
    """Token grids (h, w) per scale plus the 1M template's last grid that RoPE positions use."""
    grids: List[Tuple[int, int]]
    rope_grid: Tuple[int, int] = (64, 64)

    @property
    def tokens(self) -> List[int]:
        return [h * w for h, w in self.grids]

    @property
    def total(self) -> int:
        return sum(self.tokens)

    def offsets(self) -> List[int]:
        out, s = [], 0
        for n in self.tokens:
            out.append(s)
            s += n
        return out


def template_schedule(h_div_w: float = 1.0, pn: str = '0.06M') -> Schedule:
    """The reference's dynamic-resolution schedule: nearest template, first 7/10/12/13 grids."""
    key = min(TEMPLATES, key=lambda r: abs(r - h_div_w))
    grids = TEMPLATES[key]
    return Schedule(grids[:RESOLUTION_SCALES[pn]], grids[-1])


def rope_positions(schedule: Schedule) -> torch.Tensor:
    """[total, 2] int64 (row, col) on the 1M grid: rint_half_even(fp32(i) * fp32(U / h))."""
    out = []
    U, W = schedule.rope_grid
    for h, w in schedule.grids:
        rows = torch.round(torch.arange(h, dtype=torch.float32) * torch.tensor(U / h, dtype=torch.float32))
        cols = torch.round(torch.arange(w, dtype=torch.float32) * torch.tensor(W / w, dtype=torch.float32))
        rr, cc = torch.meshgrid(rows, cols, indexing='ij')
        out.append(torch.stack([rr.reshape(-1), cc.reshape(-1)], 1))
    return torch.cat(out, 0).to(torch.int64)


def rope_table(schedule: Schedule, head_dim: int, theta: float = 10000.0):
    """cos, sin [total, head_dim/2]: angles 0..hd/4-1 are row * inv_freq, the rest col * inv_freq.

    Rounded as the reference: fp32 exponent, fp32 power, fp32 reciprocal, fp32 angle; cos/sin of
    the fp32 angle evaluated in double and rounded once."""
    half = head_dim // 2
    exponent = (torch.arange(0, half, 2, dtype=torch.float32) / half).double()
    power = (theta ** exponent).float()
    inv_freq = 1.0 / power  # fp32
    pos = rope_positions(schedule).float()
    angles = torch.cat([pos[:, :1] * inv_freq[None], pos[:, 1:] * inv_freq[None]], 1)  # fp32
    return torch.cos(angles.double()).float(), torch.sin(angles.double()).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, L, hd]; interleaved pairs (x[2p], x[2p+1]) rotated by angle p."""
    xp = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    out = torch.stack([cos * x0 - sin * x1, sin * x0 + cos * x1], -1)
    return out.reshape(x.shape)


def block_causal_mask(schedule: Schedule, device=None) -> torch.Tensor:
    """Additive [L, L] mask: token i sees token j iff scale(j) <= scale(i) (spec §5.4)."""
    ids = torch.cat([torch.full((n,), k, dtype=torch.int64) for k, n in enumerate(schedule.tokens)])
    allowed = ids[None, :] <= ids[:, None]
    mask = torch.zeros(allowed.shape, dtype=torch.float32)
    mask.masked_fill_(~allowed, float('-inf'))
    return mask.to(device) if device is not None else mask


# --------------------------------------------------------------------------------------------
# Bits, codes and the bilinear resizes of the sampling loop (spec §6)
# --------------------------------------------------------------------------------------------

def bits_to_codes(bits: torch.Tensor, h: int, w: int, dtype=torch.float32) -> torch.Tensor:
    """bits [B, h*w, d] (0/1) -> codes [B, d, 1, h, w] = ±1/sqrt(d), L2-normalised per token as
    the reference does (a no-op for d = 16/64, one ulp for d = 32).  The result is a
    channels-last view, the layout the reference's code tensor has."""
    B, n, d = bits.shape
    s = 1.0 / math.sqrt(d)
    codes = bits.to(dtype).reshape(B, 1, h, w, d) * (2 * s) - s
    codes = codes / codes.norm(dim=-1, keepdim=True)
    return codes.permute(0, 4, 1, 2, 3)


def resize_bilinear(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear, align_corners=False, no antialias; [B, C, h, w] or [B, C, 1, h, w] (the
    reference's 5-D trilinear with T=1 is the same maths)."""
    if x.dim() == 5:
        return F.interpolate(x, size=(1,) + tuple(size), mode='trilinear', align_corners=False)
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def flatten_tokens(x: torch.Tensor) -> torch.Tensor:
    """[B, d, (1,) h, w] -> [B, h*w, d] raster order."""
    return x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)


# --------------------------------------------------------------------------------------------
# Philox4x32-10 bit sampler (same stream as the C++ engine)
# --------------------------------------------------------------------------------------------

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(c0, c1, c2, c3, seed: int):
    """Vectorised Philox4x32-10; counters are uint32 arrays of one shape; key = (seed lo, hi)."""
    c = [np.asarray(v, dtype=np.uint64) & _MASK32 for v in (c0, c1, c2, c3)]
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for r in range(10):
        if r > 0:
            k0 = (k0 + _W0) & 0xFFFFFFFF
            k1 = (k1 + _W1) & 0xFFFFFFFF
        p0 = _M0 * c[0]
        p1 = _M1 * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0)) & _MASK32, p1 & _MASK32,
             ((p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1)) & _MASK32, p0 & _MASK32]
    return c


def philox_uniforms(seed: int, first_image: int, batch: int, scale: int, tokens: int, bits: int) -> np.ndarray:
    """float32 [batch, tokens, bits]: counter (token, bit // 4, scale, image), word bit % 4,
    top 24 bits / 2^24 (core/model/infinity/bit_sampler.cpp)."""
    img, tok, quad = np.meshgrid(np.arange(first_image, first_image + batch), np.arange(tokens),
                                 np.arange((bits + 3) // 4), indexing='ij')
    words = philox4x32_10(tok, quad, np.full_like(tok, scale), img, seed)
    words = np.stack(words, -1).reshape(batch, tokens, -1)[..., :bits]
    return ((words >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)).astype(np.float32)


def sample_bits(mixed: torch.Tensor, top_k: int = 900, top_p: float = 0.97, uniforms=None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """mixed logits [B, n, 2d] -> bits [B, n, d] uint8.  Pair (l[2j], l[2j+1]) is bit j.
    top_k >= 2 is a no-op over two classes, top_k == 1 greedy; top_p drops a class whose
    probability is <= 1 - top_p.  uniforms [B, n, d] (e.g. philox_uniforms) or a generator."""
    l = mixed.float().reshape(*mixed.shape[:-1], -1, 2)
    margin = l[..., 1] - l[..., 0]
    likelier = (margin > 0).to(torch.uint8)
    if top_k == 1:
        return likelier
    p1 = torch.sigmoid(margin)
    if uniforms is None:
        uniforms = torch.rand(p1.shape, generator=generator, dtype=torch.float32)
    elif isinstance(uniforms, np.ndarray):
        uniforms = torch.from_numpy(uniforms)
    bits = (uniforms.to(p1.device) < p1).to(torch.uint8)
    if 0.0 < top_p < 1.0:
        smaller = 1.0 / (1.0 + torch.exp(margin.abs()))
        det = smaller <= float(np.float32(1.0 - top_p))
        bits = torch.where(det, likelier, bits)
    return bits


# --------------------------------------------------------------------------------------------
# Modules, named as the official ones
# --------------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def _masked_softmax_attention(q, k, v, scale: float, mask: Optional[torch.Tensor]):
    """q [B,H,Lq,hd], k/v [B,H,Lk,hd]; mask additive, broadcastable to [B,H,Lq,Lk]."""
    attn = q.mul(scale) @ k.transpose(-2, -1)
    if mask is not None:
        attn = attn + mask
    return attn.softmax(dim=-1) @ v


def _key_padding_mask(lens: torch.Tensor, Lk: int, device) -> torch.Tensor:
    """[B, 1, 1, Lk] additive: 0 for keys < len, -inf after."""
    valid = torch.arange(Lk, device=device)[None, :] < lens.to(device)[:, None]
    mask = torch.zeros(valid.shape, dtype=torch.float32, device=device)
    mask.masked_fill_(~valid, float('-inf'))
    return mask[:, None, None, :]


class SelfAttention(nn.Module):
    """Cosine self-attention with learned per-head temperature and 2-D RoPE (spec §5.4)."""
    max_scale_mul = float(np.float32(math.log(100.0)))  # 4.605170249938965

    def __init__(self, C: int, heads: int):
        super().__init__()
        self.C, self.heads, self.hd = C, heads, C // heads
        self.mat_qkv = nn.Linear(C, 3 * C, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(C))
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer('zero_k_bias', torch.zeros(C))
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, heads, 1, 1), 4.0).log())
        self.proj = nn.Linear(C, C)

    def forward(self, x, cos, sin, attn_mask=None, cache: Optional[dict] = None):
        B, L, C = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.heads, self.hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [B, H, L, hd]
        scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
        q = F.normalize(q, dim=-1, eps=1e-12).mul(scale_mul)
        k = F.normalize(k, dim=-1, eps=1e-12)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if cache is not None:
            if 'k' in cache:
                k = torch.cat((cache['k'], k), 2)
                v = torch.cat((cache['v'], v), 2)
            cache['k'], cache['v'] = k, v
        o = _masked_softmax_attention(q, k, v, 1.0, attn_mask)
        return self.proj(o.transpose(1, 2).reshape(B, L, C))


class CrossAttention(nn.Module):
    """Text cross-attention (spec §5.6); with for_attn_pool the learned query of the pool
    (spec §5.1, heads and head dim of the pool)."""

    def __init__(self, C: int, kv_dim: int, heads: int, for_attn_pool: bool = False):
        super().__init__()
        self.C, self.heads, self.hd = C, heads, C // heads
        self.for_attn_pool = for_attn_pool
        if for_attn_pool:
            self.mat_q = nn.Parameter(torch.randn(1, heads, self.hd) * 0.02)
        else:
            self.mat_q = nn.Linear(C, C)
        self.mat_kv = nn.Linear(kv_dim, 2 * C, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer('zero_k_bias', torch.zeros(C))
        self.proj = nn.Linear(C, C)

    def forward(self, x, text, text_mask):
        """x [B, Lq, C] (ignored for the pool), text [B, Lt, kv_dim], text_mask additive
        [B, 1, 1, Lt].  Returns [B, Lq, C] ([B, C] for the pool)."""
        B, Lt = text.shape[:2]
        kv = F.linear(text, self.mat_kv.weight, torch.cat((self.zero_k_bias, self.v_bias)))
        kv = kv.view(B, Lt, 2, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)  # [B, H, Lt, hd]
        if self.for_attn_pool:
            q = self.mat_q.expand(B, -1, -1).unsqueeze(2)  # [B, H, 1, hd]
        else:
            q = self.mat_q(x).view(B, x.shape[1], self.heads, self.hd).transpose(1, 2)
        o = _masked_softmax_attention(q, k, v, 1.0 / math.sqrt(self.hd), text_mask)
        o = self.proj(o.transpose(1, 2).reshape(B, q.shape[2], self.C))
        return o[:, 0] if self.for_attn_pool else o


class TextAttentivePool(nn.Module):
    def __init__(self, Ct5: int, D: int, heads: int):
        super().__init__()
        self.ca = CrossAttention(D, Ct5, heads, for_attn_pool=True)

    def forward(self, text, text_mask):
        return self.ca(None, text, text_mask)


class FFN(nn.Module):
    def __init__(self, C: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(C, hidden)
        self.fc2 = nn.Linear(hidden, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate='tanh'))


class CrossAttnBlock(nn.Module):
    """AdaLN block (spec §5.3): SA with AdaLN (gated), CA after an affine LayerNorm, FFN with
    AdaLN (gated).  ada_gss slots: gamma1, gamma2, scale1, scale2, shift1, shift2."""

    def __init__(self, C: int, D: int, heads: int, mlp_hidden: int, eps: float):
        super().__init__()
        self.C, self.eps = C, eps
        self.ada_gss = nn.Parameter(torch.randn(1, 1, 6, C) / C ** 0.5)
        self.sa = SelfAttention(C, heads)
        self.ca = CrossAttention(C, D, heads)
        self.ca_norm = nn.LayerNorm(C, eps=eps)
        self.ffn = FFN(C, mlp_hidden)

    def ln(self, x):
        return F.layer_norm(x, (self.C,), eps=self.eps)

    def forward(self, x, shared_ada, text, text_mask, cos, sin, attn_mask=None, cache=None):
        g1, g2, s1, s2, b1, b2 = (self.ada_gss + shared_ada).unbind(2)  # each [B, 1, C]
        x = x + self.sa(self.ln(x).mul(s1.add(1)).add_(b1), cos, sin, attn_mask, cache).mul_(g1)
        x = x + self.ca(self.ca_norm(x), text, text_mask)
        x = x + self.ffn(self.ln(x).mul(s2.add(1)).add_(b2)).mul(g2)
        return x


class MultipleLayers(nn.Module):
    """One FSDP chunk of blocks; only exists for the key names block_chunks.K.module.J."""

    def __init__(self, blocks):
        super().__init__()
        self.module = nn.ModuleList(blocks)


class AdaLNBeforeHead(nn.Module):
    def __init__(self, C: int, D: int, eps: float):
        super().__init__()
        self.C, self.eps = C, eps
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * C))

    def forward(self, x, cond):
        scale, shift = self.ada_lin(cond).view(-1, 1, 2, self.C).unbind(2)
        return F.layer_norm(x, (self.C,), eps=self.eps).mul(scale.add(1)).add_(shift)


@dataclass
class InfinityConfig:
    depth: int = 4
    embed_dim: int = 128          # C (= D, the condition width)
    num_heads: int = 2
    bits: int = 16                # d, bits per token
    text_channels: int = 512      # Ct5; the reference's pool has Ct5 // 128 heads, so >= 128
    text_maxlen: int = 32         # rows of cfg_uncond
    mlp_ratio: float = 4.0
    mlp_hidden: int = 0           # 0: round(C * mlp_ratio / 256) * 256 as the reference
    block_chunks: int = 2         # > 1: block_chunks.K.module.J keys; 1: blocks.I
    pool_heads: int = 0           # 0: Ct5 // 128 (Ct5 // 64 when D > 4096) as the reference
    scale_levels: int = 15        # rows of lvl_embed
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0

    def resolved(self) -> 'InfinityConfig':
        c = InfinityConfig(**asdict(self))
        if c.mlp_hidden <= 0:
            c.mlp_hidden = max(256, round(c.embed_dim * c.mlp_ratio / 256) * 256)
        if c.pool_heads <= 0:
            c.pool_heads = c.text_channels // (64 if c.embed_dim > 4096 else 128)
        assert c.pool_heads > 0 and c.embed_dim % c.pool_heads == 0, 'pool heads must divide the width'
        assert c.embed_dim % c.num_heads == 0 and (c.embed_dim // c.num_heads) % 4 == 0
        assert c.block_chunks >= 1 and c.depth % c.block_chunks == 0
        return c


class Infinity(nn.Module):
    def __init__(self, cfg: InfinityConfig):
        super().__init__()
        cfg = cfg.resolved()
        self.cfg = cfg
        C, D, Ct5, d = cfg.embed_dim, cfg.embed_dim, cfg.text_channels, cfg.bits
        self.C, self.D, self.d, self.eps = C, D, d, cfg.norm_eps
        self.head_dim = C // cfg.num_heads
        self.cfg_uncond = nn.Parameter(torch.randn(cfg.text_maxlen, Ct5) * 0.02)
        self.text_norm = RMSNorm(Ct5, eps=cfg.norm_eps)
        self.text_proj_for_sos = TextAttentivePool(Ct5, D, cfg.pool_heads)
        self.text_proj_for_ca = nn.Sequential(nn.Linear(Ct5, D), nn.GELU(approximate='tanh'), nn.Linear(D, D))
        self.pos_start = nn.Parameter(torch.randn(1, 1, C) * 0.02)
        self.lvl_embed = nn.Embedding(cfg.scale_levels, C)
        self.word_embed = nn.Linear(d, C)
        self.shared_ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * C))
        blocks = [CrossAttnBlock(C, D, cfg.num_heads, cfg.mlp_hidden, cfg.norm_eps) for _ in range(cfg.depth)]
        if cfg.block_chunks > 1:
            per = cfg.depth // cfg.block_chunks
            self.block_chunks = nn.ModuleList(MultipleLayers(blocks[i * per:(i + 1) * per])
                                              for i in range(cfg.block_chunks))
        else:
            self.blocks = nn.ModuleList(blocks)
        self.head_nm = AdaLNBeforeHead(C, D, cfg.norm_eps)
        self.head = nn.Linear(C, 2 * d)
        self._rope_cache = {}

    # ---- helpers -------------------------------------------------------------------------
    def all_blocks(self) -> List[CrossAttnBlock]:
        if self.cfg.block_chunks > 1:
            return [b for chunk in self.block_chunks for b in chunk.module]
        return list(self.blocks)

    def init_weights(self, std: float = 0.02):
        """A training init in the spirit of the reference's (small linears, zero-ish gates)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.trunc_normal_(m.weight, std=std)
            elif isinstance(m, (nn.LayerNorm, RMSNorm)):
                if getattr(m, 'weight', None) is not None:
                    nn.init.ones_(m.weight)
                if getattr(m, 'bias', None) is not None:
                    nn.init.zeros_(m.bias)
        for b in self.all_blocks():
            nn.init.zeros_(b.sa.q_bias)
            nn.init.zeros_(b.sa.v_bias)
            nn.init.zeros_(b.ca.v_bias)
            b.sa.scale_mul_1H11.data.fill_(math.log(4.0))
            b.ada_gss.data.normal_(0, 0.02)
            # scale down the residual outputs (depth-aware, as GPT-2/VAR)
            b.sa.proj.weight.data.mul_(1 / math.sqrt(2 * self.cfg.depth))
            b.ffn.fc2.weight.data.mul_(1 / math.sqrt(2 * self.cfg.depth))
        self.text_proj_for_sos.ca.mat_q.data.normal_(0, std)
        nn.init.zeros_(self.text_proj_for_sos.ca.v_bias)
        # gates start near 0.1, modulations near 0 (shared_ada_lin output starts at ~0)
        self.shared_ada_lin[1].weight.data.mul_(0.5)
        self.head_nm.ada_lin[1].weight.data.mul_(0.5)
        self.head.weight.data.mul_(0.5)
        self.cfg_uncond.data.normal_(0, 0.02)
        self.pos_start.data.normal_(0, std)
        return self

    def rope(self, schedule: Schedule, device):
        key = (tuple(schedule.grids), tuple(schedule.rope_grid), str(device))
        if key not in self._rope_cache:
            cos, sin = rope_table(schedule, self.head_dim, self.cfg.rope_theta)
            self._rope_cache[key] = (cos.to(device), sin.to(device))
        return self._rope_cache[key]

    def encode_text(self, text: torch.Tensor, lens: torch.Tensor):
        """text [B, Lt, Ct5] padded (pre text_norm), lens [B] -> pooled cond [B, D],
        ca source [B, Lt, D], additive key mask [B, 1, 1, Lt], shared AdaLN [B, 1, 6, C]."""
        mask = _key_padding_mask(lens, text.shape[1], text.device)
        kv = self.text_norm(text)
        cond = self.text_proj_for_sos(kv, mask)
        ca_src = self.text_proj_for_ca(kv)
        shared = self.shared_ada_lin(cond).view(-1, 1, 6, self.C)
        return cond, ca_src, mask, shared

    def uncond_text(self, lens: torch.Tensor, Lt: int) -> torch.Tensor:
        """[B, Lt, Ct5]: cfg_uncond[:len] per prompt (rows past len are masked anyway)."""
        B = lens.shape[0]
        rows = self.cfg_uncond[:Lt]
        if rows.shape[0] < Lt:
            rows = torch.cat([rows, rows.new_zeros(Lt - rows.shape[0], rows.shape[1])])
        return rows.unsqueeze(0).expand(B, -1, -1)

    def drop_condition(self, text: torch.Tensor, lens: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        """Condition dropout for CFG training: rows with drop[b] get cfg_uncond[:len]."""
        if not bool(drop.any()):
            return text + self.cfg_uncond[0, 0] * 0  # keep cfg_uncond on the graph
        un = self.uncond_text(lens, text.shape[1])
        return torch.where(drop[:, None, None].to(text.device), un, text)

    def logits(self, x, cond):
        return self.head(self.head_nm(x, cond))

    # ---- training forward ----------------------------------------------------------------
    def forward(self, text: torch.Tensor, lens: torch.Tensor, x_wo_prefix: torch.Tensor, schedule: Schedule,
                drop: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Teacher-forced forward over all scales at once.

        text [B, Lt, Ct5] padded T5 features (pre text_norm), lens [B];
        x_wo_prefix [B, L - 1, d]: for scales 1..K-1, the bilinear down-sample of the summed
        codes of the earlier scales (raster order, concatenated); drop [B] bool: condition
        dropout.  Returns logits [B, L, 2d] (pair (2j, 2j+1) = bit j)."""
        if drop is not None:
            text = self.drop_condition(text, lens, drop)
        cond, ca_src, mask, shared = self.encode_text(text, lens)
        B = x_wo_prefix.shape[0]
        sos = cond.unsqueeze(1) + self.pos_start.expand(B, 1, -1)
        x = torch.cat((sos, self.word_embed(x_wo_prefix.to(sos.dtype))), 1)
        L = schedule.total
        assert x.shape[1] == L, f'sequence {x.shape[1]} != schedule {L}'
        lvl = torch.cat([torch.full((n,), k, dtype=torch.int64) for k, n in enumerate(schedule.tokens)])
        x = x + self.lvl_embed(lvl.to(x.device))[None]
        cos, sin = self.rope(schedule, x.device)
        attn_mask = block_causal_mask(schedule, x.device)
        for blk in self.all_blocks():
            x = blk(x, shared, ca_src, mask, cos, sin, attn_mask)
        return self.logits(x, cond)

    # ---- sampling loop ------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, text: torch.Tensor, lens: torch.Tensor, schedule: Schedule, cfg=3.0, tau=0.5,
                 top_k: int = 900, top_p: float = 0.97, seed: int = 0, first_image: int = 0,
                 generator: Optional[torch.Generator] = None, forced_bits: Sequence[torch.Tensor] = (),
                 negative: Optional[Tuple[torch.Tensor, torch.Tensor]] = None, trace: Optional[dict] = None):
        """Next-scale sampling (spec §6) with CFG on logits.

        text [B, Lt, Ct5] padded, lens [B]; cfg, tau scalars or per-scale lists; bits sampled
        with the C++ engine's Philox stream keyed by ``seed`` unless a torch ``generator`` is
        given; forced_bits[k] [B, n_k, d] teacher-forces scale k; negative = (text, lens) of
        negative prompts for the unconditional half (default: cfg_uncond[:len]).
        trace: a dict that receives the golden intermediates.  Returns (bits per scale,
        summed codes [B, d, H, W])."""
        K = len(schedule.grids)
        cfgs = list(cfg) if isinstance(cfg, (list, tuple)) else [cfg] * K
        taus = list(tau) if isinstance(tau, (list, tuple)) else [tau] * K
        B, dev = text.shape[0], text.device
        if negative is None:
            un_text, un_lens = self.uncond_text(lens, text.shape[1]), lens
        else:
            un_text, un_lens = negative
        Lt = max(text.shape[1], un_text.shape[1])
        pad = lambda t: F.pad(t, (0, 0, 0, Lt - t.shape[1]))
        both_text = torch.cat((pad(text), pad(un_text.to(text.dtype))), 0)
        both_lens = torch.cat((lens, un_lens.to(lens.device)), 0)
        cond, ca_src, mask, shared = self.encode_text(both_text, both_lens)
        if trace is not None:
            trace['pooled_cond'] = cond
            trace['ca_src'] = torch.cat([ca_src[b, :int(both_lens[b])] for b in range(2 * B)], 0)
            trace['shared_ada'] = shared[:, 0]
        cos_all, sin_all = self.rope(schedule, dev)
        offsets = schedule.offsets()
        blocks = self.all_blocks()
        caches = [dict() for _ in blocks]
        HL, WL = schedule.grids[-1]
        dtype = self.word_embed.weight.dtype
        summed = torch.zeros(B, self.d, 1, HL, WL, device=dev, dtype=dtype)
        x = cond.unsqueeze(1) + self.pos_start.expand(2 * B, 1, -1)
        all_bits = []
        for k, (h, w) in enumerate(schedule.grids):
            n = h * w
            x = x + self.lvl_embed.weight[k]
            if trace is not None:
                trace[f'scale_input.s{k}'] = x
            cos, sin = cos_all[offsets[k]:offsets[k] + n], sin_all[offsets[k]:offsets[k] + n]
            for j, blk in enumerate(blocks):
                x = blk(x, shared, ca_src, mask, cos, sin, None, caches[j])
                if trace is not None:
                    trace[f'block_out.s{k}.b{j}'] = x
            logits = self.logits(x, cond)
            lc, lu = logits[:B], logits[B:]
            scaled = logits.mul(1 / taus[k])
            mixed = cfgs[k] * scaled[:B] + (1 - cfgs[k]) * scaled[B:]
            if trace is not None:
                trace[f'logits_cond.s{k}'], trace[f'logits_uncond.s{k}'] = lc, lu
                trace[f'logits_mixed.s{k}'] = mixed
            if k < len(forced_bits):
                bits = forced_bits[k].to(dev).to(torch.uint8)
            elif generator is not None:
                bits = sample_bits(mixed, top_k, top_p, generator=generator)
            else:
                bits = sample_bits(mixed, top_k, top_p, philox_uniforms(seed, first_image, B, k, n, self.d))
            all_bits.append(bits)
            codes = bits_to_codes(bits, h, w, dtype)
            if k < K - 1:
                summed = summed + resize_bilinear(codes, (HL, WL))
                nh, nw = schedule.grids[k + 1]
                nxt = flatten_tokens(resize_bilinear(summed, (nh, nw)))
                if trace is not None:
                    trace[f'word_embed_in.s{k + 1}'] = nxt
                x = self.word_embed(nxt).repeat(2, 1, 1)
            else:
                summed = summed + codes
        summed = summed[:, :, 0].contiguous()
        if trace is not None:
            trace['summed_codes'] = summed
        return all_bits, summed


# --------------------------------------------------------------------------------------------
# Text packing helpers (reference's concatenated rows <-> padded batch)
# --------------------------------------------------------------------------------------------

def pad_text(rows: torch.Tensor, lens: Sequence[int]) -> torch.Tensor:
    """Concatenated [sum L, Ct5] -> padded [B, max L, Ct5] (zeros past each length)."""
    lens = [int(l) for l in lens]
    out = rows.new_zeros(len(lens), max(lens), rows.shape[1])
    s = 0
    for b, l in enumerate(lens):
        out[b, :l] = rows[s:s + l]
        s += l
    return out


def pack_text(padded: torch.Tensor, lens: Sequence[int]) -> torch.Tensor:
    return torch.cat([padded[b, :int(l)] for b, l in enumerate(lens)], 0)


def scale_loss_weights(schedule: Schedule) -> torch.Tensor:
    """Per-token loss weights of reweight_loss_by_scale=1 (spec §7.6): a token of scale k weighs
    sqrt(area_last) / sqrt(area_k); normalised here so the mean token weight is 1 (the
    reference normalises the sum to 1 and sums, the same up to a constant factor)."""
    area_last = schedule.tokens[-1]
    w = []
    for n in schedule.tokens:
        w.append(torch.full((n,), math.sqrt(area_last) / math.sqrt(n)))
    w = torch.cat(w)
    return w * (w.numel() / w.sum())
