#!/usr/bin/python3
"""Golden files FROM the PyTorch training code, for the C++ engine to check (`infinode golden`).

golden_check.py proves that our PyTorch modules compute what the official reference computes.
This script closes the loop the other way: it takes models exported by export.py (or random
models of configurable, deliberately unusual shapes), runs them in PyTorch, and writes golden
files in exactly the format of tests/data/golden (kinds infinity-transformer, bsq-vae,
t5-encoder; weight.* under the official names, input.*, expect.*, config and the fp32-vs-fp64
error measured by a float64 rerun).  If `infinode golden` passes on them, an exported model
loads through the C++ engine's own code paths (config from weight shapes, key names, layouts)
and the engine computes the same numbers as the training code.

    # random models of unusual shapes (flat blocks, d = 32, non-square schedule, ...):
    /usr/bin/python3 tools/train/make_golden.py --random --out /tmp/train_golden --check build/examples/infinode
    # exported/trained models:
    /usr/bin/python3 tools/train/make_golden.py --infinity m.safetensors --vae v.safetensors --t5 t.safetensors \
        --out /tmp/train_golden --check build/examples/infinode
"""
import argparse
import copy
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import write_safetensors, load_infinity, load_vae, load_t5  # noqa: E402
from infinity_model import (Infinity, InfinityConfig, Schedule, template_schedule, pad_text,  # noqa: E402
                            rope_table, rope_positions)
from bsq_vae import BsqVae, VaeConfig, bits_to_codes, bilinear_resize  # noqa: E402
from t5_encoder import T5Encoder, T5Config  # noqa: E402


def randomize_(module: torch.nn.Module, seed: int):
    """Non-trivial random weights in the spirit of the reference goldens (README: linears
    N(0,1)/sqrt(fan_in), biases 0.05 N, norm weights 1 + 0.1 N, ada_gss 0.1 N, ...)."""
    g = torch.Generator().manual_seed(seed)
    n = lambda t: torch.randn(t.shape, generator=g)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith('scale_mul_1H11'):
                p.copy_(math.log(4.0) + 0.5 * n(p))
            elif name.endswith('ada_gss'):
                p.copy_(0.1 * n(p))
            elif name in ('pos_start', 'lvl_embed.weight'):
                p.copy_(0.5 * n(p))
            elif name == 'cfg_uncond':
                p.copy_(0.3 * n(p))
            elif name.endswith('mat_q') or name in ('shared.weight',) or 'relative_attention_bias' in name:
                p.copy_(n(p) * (0.3 if name.endswith('mat_q') else 1.0))
            elif name.endswith('bias') or name.endswith('_bias'):
                p.copy_(0.05 * n(p))
            elif p.dim() == 1:  # norm weights
                p.copy_(1 + 0.1 * n(p))
            else:
                fan_in = p[0].numel()
                s = 1.0
                if name.startswith('head.'):
                    s = 1.5
                elif name.startswith(('shared_ada_lin', 'head_nm')) or 'SelfAttention.q.' in name:
                    s = 0.5
                elif name.endswith('conv_out.conv.weight') and name.startswith('encoder'):
                    s = 0.5
                p.copy_(n(p) * s / math.sqrt(fan_in))
    return module


def _max_err(a, b):
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


# ---- transformer ------------------------------------------------------------------------------

def transformer_golden(model: Infinity, path, schedule: Schedule, lens, cfg, tau, seed=1, text_seed=2,
                       top_k=900, top_p=0.97, block_out_scales=2, text=None):
    model = model.float().eval()
    g = torch.Generator().manual_seed(text_seed)
    if text is None:
        text = torch.randn(sum(lens), model.cfg.text_channels, generator=g)
    lens_t = torch.tensor(lens, dtype=torch.int64)
    padded = pad_text(text, lens)
    K = len(schedule.grids)
    cfgs = cfg if isinstance(cfg, list) else [float(cfg)] * K
    taus = tau if isinstance(tau, list) else [float(tau)] * K
    trace = {}
    bits, _ = model.generate(padded, lens_t, schedule, cfg=cfgs, tau=taus, top_k=top_k, top_p=top_p, seed=seed,
                             trace=trace)
    # float64 rerun, teacher-forced with the same bits: the fp32 noise of every expect tensor
    m64 = copy.deepcopy(model).double()
    trace64 = {}
    m64.generate(padded.double(), lens_t, schedule, cfg=cfgs, tau=taus, forced_bits=bits, trace=trace64)
    cos, sin = rope_table(schedule, model.head_dim, model.cfg.rope_theta)
    trace['rope_cos'], trace['rope_sin'] = cos, sin
    trace['rope_pos'] = rope_positions(schedule).to(torch.int32)
    out, noise = {}, {}
    for k, v in model.state_dict().items():
        out['weight.' + k] = v.float() if v.is_floating_point() else v
    out['input.text_features'] = text.float()
    out['input.text_lens'] = torch.tensor(lens, dtype=torch.int32)
    for k, b in enumerate(bits):
        out[f'input.bits.s{k}'] = b.to(torch.uint8)
    for name, v in trace.items():
        if name.startswith('block_out.') and int(name.split('.')[1][1:]) >= block_out_scales:
            continue
        out['expect.' + name] = v.detach().float().contiguous() if v.is_floating_point() else v
        if name in trace64:
            noise['expect.' + name] = float('%.3g' % _max_err(v, trace64[name]))
    c = model.cfg
    config = dict(depth=c.depth, embed_dim=c.embed_dim, num_heads=c.num_heads, head_dim=model.head_dim,
                  mlp_hidden=c.mlp_hidden, d=c.bits, d_vae=c.bits, apply_spatial_patchify=0,
                  text_channels=c.text_channels, text_maxlen=c.text_maxlen, attn_pool_heads=c.pool_heads,
                  attn_pool_head_dim=c.embed_dim // c.pool_heads, block_chunks=c.block_chunks,
                  norm_eps=c.norm_eps, schedule=[list(g) for g in schedule.grids],
                  rope_final_grid_1M=list(schedule.rope_grid), rope_theta=c.rope_theta, cfg=cfgs, tau=taus,
                  B=len(lens), text_lens=list(lens), cfg_insertion_layer=0, add_lvl_embeding_only_first_block=1,
                  rope2d_normalized_by_hw=2, use_bit_label=1, top_k=top_k, top_p=top_p, sampler='philox',
                  sampler_seed=seed, block_out_scales=block_out_scales)
    meta = {'kind': 'infinity-transformer', 'config': json.dumps(config),
            'fp32_vs_fp64_max_abs_err': json.dumps(noise),
            'generator': 'tools/train/make_golden.py (PyTorch training code, not the official reference)'}
    write_safetensors(path, out, meta)
    return path


# ---- VAE ----------------------------------------------------------------------------------------

def test_image(h, w, seed=3):
    """A deterministic image in [-1, 1]: gradients, a disc, a rectangle, a stripe."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing='ij')
    img = torch.stack([x, y, 0.5 * (x * y)], 0)
    disc = ((x - 0.3) ** 2 + (y + 0.2) ** 2) < 0.15
    img[0][disc] = 0.9
    img[1][(x.abs() < 0.3) & ((y - 0.5).abs() < 0.2)] = -0.8
    img[2][((x + y) * 4).floor() % 2 == 0] += 0.3
    return img.clamp(-1, 1)[None]


def vae_golden(vae: BsqVae, path, grids, image=None, bits_seed=5):
    vae = vae.float().eval()
    H, W = grids[-1]
    p = vae.cfg.patch
    out, noise = {}, {}
    for k, v in vae.state_dict().items():
        out['weight.' + k] = v.float() if v.is_floating_point() else v
    v64 = copy.deepcopy(vae).double()
    min_u = None
    with torch.no_grad():
        if vae.cfg.encoder:
            image = test_image(H * p, W * p) if image is None else image
            z = vae.encode(image)
            z64 = v64.encode(image.double())
            bits, summed = vae.quantizer.quantize(z, grids)
            bits64, _ = vae.quantizer.quantize(z64, grids)
            assert all(torch.equal(a, b) for a, b in zip(bits, bits64)), 'a bit flips between fp32 and fp64'
            # smallest |normalised residual| per scale: how far every bit is from flipping
            residual, min_u = z64.clone(), []
            for (h, w), b in zip(grids, bits64):
                r = torch.nn.functional.adaptive_avg_pool2d(residual, (h, w)) if (h, w) != (H, W) else residual
                min_u.append(float(torch.nn.functional.normalize(r, dim=1).abs().min()))
                residual = residual - bilinear_resize(bits_to_codes(b, h, w, torch.float64), (H, W))
            raw = vae.decode(summed, clamp=False)
            raw64 = v64.decode(summed.double(), clamp=False)
            out['input.image'] = image.float()
            out['expect.encoder_features'] = z
            noise['expect.encoder_features'] = _max_err(z, z64)
            for k, b in enumerate(bits):
                out[f'expect.bits.s{k}'] = b
            out['expect.summed_codes'] = summed
            out['expect.decoded'] = raw.clamp(-1, 1)
            out['expect.decoded_noclamp'] = raw
            noise['expect.decoded_noclamp'] = _max_err(raw, raw64)
        g = torch.Generator().manual_seed(bits_seed)
        dbits = [torch.randint(0, 2, (1, h * w, vae.cfg.bits), generator=g, dtype=torch.uint8) for h, w in grids]
        latent = sum(bilinear_resize(bits_to_codes(b, h, w), (H, W)) for b, (h, w) in zip(dbits, grids))
        dout = vae.decode(latent, clamp=False)
        dout64 = v64.decode(latent.double(), clamp=False)
        for k, b in enumerate(dbits):
            out[f'input.decoder_bits.s{k}'] = b
        out['input.decoder_latent'] = latent
        out['expect.decoder_out'] = dout.clamp(-1, 1)
        out['expect.decoder_out_noclamp'] = dout
        noise['expect.decoder_out_noclamp'] = _max_err(dout, dout64)
    c = vae.cfg
    config = dict(codebook_dim=c.bits, base_ch=c.base_ch, ch_mult=list(c.ch_mult), num_res_blocks=c.num_res_blocks,
                  decoder_blocks_per_level=c.num_res_blocks + 1, patch_size=p, image_hw=[H * p, W * p],
                  latent_hw=[H, W], schedule=[list(g) for g in grids], groupnorm_eps=1e-6,
                  min_abs_normalized_residual_per_scale=min_u)
    meta = {'kind': 'bsq-vae', 'config': json.dumps(config),
            'fp32_vs_fp64_max_abs_err': json.dumps({k: float('%.3g' % v) for k, v in noise.items()}),
            'generator': 'tools/train/make_golden.py (PyTorch training code, not the official reference)'}
    write_safetensors(path, {k: v.contiguous() for k, v in out.items()}, meta)
    return path


# ---- T5 -----------------------------------------------------------------------------------------

def t5_golden(t5: T5Encoder, path, prompts_ids):
    t5 = t5.float().eval()
    t64 = copy.deepcopy(t5).double()
    out, noise = {}, {}
    for k, v in t5.state_dict().items():
        out['weight.' + k] = v.float()
    with torch.no_grad():
        for i, ids in enumerate(prompts_ids):
            ids = torch.as_tensor(ids, dtype=torch.int64)
            f = t5(ids[None])[0]
            f64 = t64(ids[None])[0]
            out[f'input.ids.p{i}'] = ids.to(torch.int32)
            out[f'expect.features.p{i}'] = f
            noise[f'expect.features.p{i}'] = _max_err(f, f64)
    c = t5.cfg
    config = dict(vocab_size=c.vocab_size, d_model=c.d_model, d_kv=c.d_kv, num_heads=c.num_heads, d_ff=c.d_ff,
                  num_layers=c.num_layers, feed_forward_proj='gated-gelu',
                  relative_attention_num_buckets=c.relative_attention_num_buckets,
                  relative_attention_max_distance=c.relative_attention_max_distance,
                  layer_norm_epsilon=c.layer_norm_epsilon)
    meta = {'kind': 't5-encoder', 'config': json.dumps(config),
            'fp32_vs_fp64_max_abs_err': json.dumps({k: float('%.3g' % v) for k, v in noise.items()}),
            'generator': 'tools/train/make_golden.py (PyTorch training code, not the official reference)'}
    write_safetensors(path, out, meta)
    return path


# ---- driver -------------------------------------------------------------------------------------

def random_models():
    """Shapes chosen to exercise what the official goldens do not: flat block names, 3 blocks
    per chunk, d = 32 (code normalisation), 3 heads, a non-square RoPE template, a 3-level
    VAE at stride 4 with 24-group norms, a T5 with 2 heads."""
    torch.manual_seed(0)
    inf_flat = randomize_(Infinity(InfinityConfig(depth=3, embed_dim=96, num_heads=3, bits=32, text_channels=256,
                                                  text_maxlen=12, block_chunks=1)), 11)
    inf_chunk = randomize_(Infinity(InfinityConfig(depth=6, embed_dim=64, num_heads=2, bits=12, text_channels=128,
                                                   text_maxlen=16, block_chunks=2)), 12)
    vae = randomize_(BsqVae(VaeConfig(bits=12, base_ch=24, ch_mult=(1, 2, 2), num_res_blocks=1, patch=4)), 13)
    t5 = randomize_(T5Encoder(T5Config(vocab_size=128, d_model=48, d_kv=24, num_heads=2, d_ff=80, num_layers=2,
                                       relative_attention_num_buckets=16, relative_attention_max_distance=64)), 14)
    return inf_flat, inf_chunk, vae, t5


def main():
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--random', action='store_true', help='random models of unusual shapes')
    ap.add_argument('--infinity', help='exported transformer (.safetensors)')
    ap.add_argument('--vae', help='exported BSQ-VAE (.safetensors)')
    ap.add_argument('--t5', help='exported T5 encoder (.safetensors)')
    ap.add_argument('--pn', default='0.06M', help='resolution key of the transformer schedule')
    ap.add_argument('--h-div-w', type=float, default=1.0)
    ap.add_argument('--scales', type=int, default=0, help='use only the first N scales (0 = all)')
    ap.add_argument('--out', default='/tmp/train_golden')
    ap.add_argument('--check', metavar='INFINODE', help='run `INFINODE golden` on the files written')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    files = []
    if a.random:
        inf_flat, inf_chunk, vae, t5 = random_models()
        files.append(transformer_golden(inf_flat, os.path.join(a.out, 'train_infinity_flat.safetensors'),
                                        template_schedule(1.333, '0.06M'), [4, 9], cfg=[4, 3, 3, 2.5, 2, 1.5, 1.5],
                                        tau=0.7, seed=21))
        files.append(transformer_golden(inf_chunk, os.path.join(a.out, 'train_infinity_chunked.safetensors'),
                                        template_schedule(1.0, '0.06M'), [6], cfg=3.0, tau=0.5, seed=22))
        files.append(vae_golden(vae, os.path.join(a.out, 'train_vae.safetensors'),
                                [(1, 1), (2, 2), (3, 3), (5, 5), (8, 8)]))
        ids = [[1], [5, 17, 3, 99, 1], list(range(2, 40)) + [1], [7] * 150 + [1]]
        files.append(t5_golden(t5, os.path.join(a.out, 'train_t5.safetensors'), ids))
    if a.infinity:
        m = load_infinity(a.infinity)
        s = template_schedule(a.h_div_w, a.pn)
        if a.scales:
            s.grids = s.grids[:a.scales]
        files.append(transformer_golden(m, os.path.join(a.out, 'export_infinity.safetensors'), s, [5, 8],
                                        cfg=3.0, tau=0.5, seed=31))
    if a.vae:
        v = load_vae(a.vae)
        s = template_schedule(a.h_div_w, a.pn)
        if a.scales:
            s.grids = s.grids[:a.scales]
        files.append(vae_golden(v, os.path.join(a.out, 'export_vae.safetensors'), s.grids))
    if a.t5:
        t = load_t5(a.t5)
        V = t.cfg.vocab_size
        ids = [[1], [min(5, V - 1), min(17, V - 1), 1], [i % (V - 2) + 2 for i in range(30)] + [1]]
        files.append(t5_golden(t, os.path.join(a.out, 'export_t5.safetensors'), ids))
    for f in files:
        print('wrote', f, f'({os.path.getsize(f) / 1e6:.1f} MB)')
    if a.check and files:
        r = subprocess.run([a.check, 'golden', *files])
        return r.returncode
    return 0


if __name__ == '__main__':
    sys.exit(main())
