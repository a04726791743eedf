#!/usr/bin/python3
"""The BSQ-VAE tokenizer in plain PyTorch (spec §7; infinity-spec.md).

Key names are the official ones with the wrapper segments (``encoder.conv_in.conv.weight``,
``decoder.up.3.block.0.norm1.norm.weight``, ``quantizer.lfq.mask``), which is what the C++
``VaeConfig::from_weights`` reads (it also accepts unwrapped names).  Architecture:
FLUX-VAE-like conv encoder/decoder without attention, GroupNorm(32, or 24 when 32 does not
divide), swish, ResnetBlocks with 1x1 shortcuts, stride-2 downsamples with right/bottom zero
padding, nearest x2 upsamples; the decoder has num_res_blocks + 1 blocks per level.

The quantizer is the multi-scale bitwise residual quantizer (MultiScaleBSQ, spec §7.5):
area down-sampling of the residual, per-token L2 normalisation, sign -> bit, codes ±1/sqrt(d),
bilinear up-sampling, subtract and accumulate.  ``quantize`` is the exact inference version;
``quantize_train`` is the differentiable one (straight-through sign, commitment and BSQ entropy
terms); ``bitwise_self_correction`` builds the transformer's inputs/targets with random bit
flips (spec §7.6).
"""
import math
from dataclasses import dataclass, field, asdict
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def groups_for(channels: int) -> int:
    return 32 if channels % 32 == 0 else 24


class Conv(nn.Module):
    """Wraps nn.Conv2d as ``.conv`` for the official key spelling."""

    def __init__(self, cin, cout, k, stride=1, padding=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2 if padding is None else padding)

    def forward(self, x):
        return self.conv(x)


class Norm(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.GroupNorm(groups_for(channels), channels, eps=eps, affine=True)

    def forward(self, x):
        return self.norm(x)


def swish(x):
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = Norm(cin)
        self.conv1 = Conv(cin, cout, 3)
        self.norm2 = Norm(cout)
        self.conv2 = Conv(cout, cout, 3)
        if cin != cout:
            self.nin_shortcut = Conv(cin, cout, 1)
        self.cin, self.cout = cin, cout

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.cin != self.cout:
            x = self.nin_shortcut(x)
        return x + h


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = Conv(channels, channels, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = Conv(channels, channels, 3)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class _Level(nn.Module):
    pass


class Encoder(nn.Module):
    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int, patch: int):
        super().__init__()
        n = len(ch_mult)
        nd = int(round(math.log2(patch)))
        assert 2 ** nd == patch and n >= nd + 1, 'need log2(patch) + 1 levels'
        self.conv_in = Conv(3, ch, 3)
        in_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        block_in = ch
        for l in range(n):
            level = _Level()
            level.block = nn.ModuleList()
            block_in, block_out = ch * in_mult[l], ch * ch_mult[l]
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
            if l < nd:
                level.downsample = Downsample(block_in)
            self.down.append(level)
        self.mid = _Level()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        self.norm_out = Norm(block_in)
        self.conv_out = Conv(block_in, z_channels, 3)

    def forward(self, x):
        h = self.conv_in(x)
        for level in self.down:
            for blk in level.block:
                h = blk(h)
            if hasattr(level, 'downsample'):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.block_1(h))
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int, patch: int):
        super().__init__()
        n = len(ch_mult)
        nu = int(round(math.log2(patch)))
        assert 2 ** nu == patch and n >= nu + 1, 'need log2(patch) + 1 levels'
        block_in = ch * ch_mult[-1]
        self.conv_in = Conv(z_channels, block_in, 3)
        self.mid = _Level()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        levels = [None] * n
        for l in reversed(range(n)):
            level = _Level()
            level.block = nn.ModuleList()
            block_out = ch * ch_mult[l]
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
            if 1 <= l <= nu:
                level.upsample = Upsample(block_in)
            levels[l] = level
        self.up = nn.ModuleList(levels)
        self.norm_out = Norm(block_in)
        self.conv_out = Conv(block_in, 3, 3)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.block_1(h))
        for l in reversed(range(len(self.up))):
            level = self.up[l]
            for blk in level.block:
                h = blk(h)
            if hasattr(level, 'upsample'):
                h = level.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


# --------------------------------------------------------------------------------------------
# Multi-scale bitwise quantizer
# --------------------------------------------------------------------------------------------

def area_resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """PyTorch 'area' = adaptive average pooling (overlapping windows when not divisible)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.adaptive_avg_pool2d(x, size)


def bilinear_resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """[B, d, h, w] -> [B, h*w, d]."""
    return x.flatten(2).transpose(1, 2)


def bits_to_codes(bits: torch.Tensor, h: int, w: int, dtype=torch.float32) -> torch.Tensor:
    """bits [B, h*w, d] -> codes [B, d, h, w] = ±1/sqrt(d), L2-normalised per token."""
    B, n, d = bits.shape
    s = 1.0 / math.sqrt(d)
    codes = bits.to(dtype) * (2 * s) - s
    codes = codes / codes.norm(dim=-1, keepdim=True)
    return codes.transpose(1, 2).reshape(B, d, h, w)


class LFQ(nn.Module):
    """Holds the official ``quantizer.lfq.mask`` buffer (MSB-first bit weights, int64)."""

    def __init__(self, d: int):
        super().__init__()
        self.register_buffer('mask', 2 ** torch.arange(d - 1, -1, -1, dtype=torch.int64))


class MultiScaleBSQ(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.d = d
        self.lfq = LFQ(d)

    @torch.no_grad()
    def quantize(self, z: torch.Tensor, grids: Sequence[Tuple[int, int]]):
        """Inference: z [B, d, H, W] -> (bits per scale [B, n_k, d] uint8, summed codes)."""
        residual = z.clone() if z.is_floating_point() else z.float()
        summed = torch.zeros_like(residual)
        H, W = z.shape[-2:]
        all_bits = []
        for (h, w) in grids:
            r = area_resize(residual, (h, w))
            bits = (r > 0).to(torch.uint8)  # the sign of r/||r|| is the sign of r
            tok = to_tokens(bits)
            up = bilinear_resize(bits_to_codes(tok, h, w, residual.dtype), (H, W))
            residual = residual - up
            summed = summed + up
            all_bits.append(tok)
        return all_bits, summed

    def quantize_train(self, z: torch.Tensor, grids: Sequence[Tuple[int, int]], entropy_temp: float = 1.0,
                       scale_drop: Optional[int] = None):
        """Differentiable: straight-through sign per scale (gradient into the normalised
        residual), earlier scales' codes detached from the residual as the reference does.

        scale_drop: keep only the first ``scale_drop`` scales (the "_reg" tokenizers' random
        dropping of late scales, so early scales learn to reconstruct on their own).
        Returns (summed codes (with gradient), dict of losses/stats, bits per scale)."""
        H, W = z.shape[-2:]
        d = z.shape[1]
        s = 1.0 / math.sqrt(d)
        residual = z
        summed = 0
        commit, ent_sample, ent_codebook = 0.0, 0.0, 0.0
        all_bits = []
        used = grids if scale_drop is None else grids[:scale_drop]
        for (h, w) in used:
            r = area_resize(residual, (h, w))
            u = F.normalize(r, dim=1, eps=1e-12)
            q = torch.where(u > 0, torch.full_like(u, s), torch.full_like(u, -s))
            q_st = u + (q - u).detach()
            commit = commit + F.mse_loss(u, q.detach()) * d  # per-token squared distance
            # BSQ factorised entropy: per-bit probability of +1 from the normalised residual
            logit = 2.0 * u * math.sqrt(d) / entropy_temp
            p = torch.sigmoid(logit)
            ent_sample = ent_sample + _binary_entropy(p).mean()
            ent_codebook = ent_codebook + _binary_entropy(p.mean(dim=(0, 2, 3))).mean()
            up = bilinear_resize(q_st, (H, W))
            residual = residual - up.detach()
            summed = summed + up
            all_bits.append(to_tokens((u > 0).to(torch.uint8)))
        k = len(used)
        # residual commitment: the codes are unit vectors per scale and u = r/||r|| is scale
        # invariant, so nothing else bounds ||z||; without this term ||z|| drifted to ~19 per
        # token (5 scales can sum to at most 5), every scale's bits became sign(z) and the
        # residual never shrank.  Pulls z onto what the scales can represent.
        commit_z = F.mse_loss(z, summed.detach())
        stats = {'commit': commit / k, 'commit_z': commit_z, 'entropy_sample': ent_sample / k,
                 'entropy_codebook': ent_codebook / k}
        return summed, stats, all_bits


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(p * p.log() + (1 - p) * (1 - p).log())


@dataclass
class VaeConfig:
    bits: int = 16
    base_ch: int = 32
    ch_mult: Tuple[int, ...] = (1, 1, 1, 2, 2)
    num_res_blocks: int = 2
    patch: int = 16
    encoder: bool = True


class BsqVae(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.encoder:
            self.encoder = Encoder(cfg.base_ch, cfg.ch_mult, cfg.num_res_blocks, cfg.bits, cfg.patch)
        self.decoder = Decoder(cfg.base_ch, cfg.ch_mult, cfg.num_res_blocks, cfg.bits, cfg.patch)
        self.quantizer = MultiScaleBSQ(cfg.bits)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """image [B, 3, H, W] in [-1, 1] -> continuous z [B, d, H/p, W/p]."""
        return self.encoder(image)

    def decode(self, summed_codes: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        x = self.decoder(summed_codes)
        return x.clamp(-1, 1) if clamp else x

    @torch.no_grad()
    def tokenize(self, image, grids):
        return self.quantizer.quantize(self.encode(image), grids)

    def decode_bits(self, bits: Sequence[torch.Tensor], grids, clamp=True):
        H, W = grids[-1]
        dtype = self.decoder.conv_in.conv.weight.dtype
        summed = sum(bilinear_resize(bits_to_codes(b, h, w, dtype), (H, W)) for b, (h, w) in zip(bits, grids))
        return self.decode(summed, clamp)

    def forward_train(self, image, grids, entropy_temp=1.0, scale_drop=None):
        z = self.encode(image)
        summed, stats, bits = self.quantizer.quantize_train(z, grids, entropy_temp, scale_drop)
        return self.decoder(summed), stats, z


# --------------------------------------------------------------------------------------------
# Bitwise self-correction (spec §7.6): transformer inputs and targets from VAE features
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def bitwise_self_correction(z: torch.Tensor, grids: Sequence[Tuple[int, int]], flip_strength: float = 0.3,
                            flip_scales: Optional[int] = None, rng: Optional[np.random.Generator] = None,
                            generator: Optional[torch.Generator] = None):
    """z [B, d, H, W] raw encoder features.  For each scale k: quantise the area-downsampled
    residual against the running (possibly corrupted) sum; the label is these (unflipped)
    bits.  For k < flip_scales, flip each bit with probability p drawn once per scale from
    {0, 0.01, ..., flip_strength} and use the flipped bits' codes downstream (re-quantise).
    Returns (gt bits per scale [B, n_k, d] uint8 list, x_wo_prefix [B, L - n_0, d]: the
    bilinear down-sample of the running sum to each next grid)."""
    rng = rng if rng is not None else np.random.default_rng()
    z = z.float()
    H, W = z.shape[-2:]
    K = len(grids)
    flip_scales = K if flip_scales is None else flip_scales
    cum = torch.zeros_like(z)
    gt, inputs = [], []
    for k, (h, w) in enumerate(grids):
        r = z - cum
        if k != K - 1:
            r = area_resize(r, (h, w))
        bits = to_tokens((r > 0).to(torch.uint8))
        gt.append(bits)
        used = bits
        if k < flip_scales and flip_strength > 0:
            p = rng.integers(0, int(round(100 * flip_strength)) + 1) * 0.01
            if p > 0:
                flip = torch.rand(bits.shape, generator=generator) < p
                used = torch.where(flip.to(bits.device), 1 - bits, bits)
        cum = cum + bilinear_resize(bits_to_codes(used, h, w), (H, W))
        if k < K - 1:
            inputs.append(to_tokens(bilinear_resize(cum, grids[k + 1])))
    return gt, torch.cat(inputs, 1)
