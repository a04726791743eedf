#!/usr/bin/python3
"""Train the BSQ-VAE tokenizer on procedural scenes, sized for a 2-core CPU.

The VAE is fully convolutional, so most steps see random crops (default 64x64 of 128x128
scenes: 4x the optimizer steps for the same pixels); the last `--full-frac` of the steps see
whole 128x128 scenes so the multi-scale quantiser trains on the exact schedule used at
inference (1,2,4,8,16 at stride 8; crops use the grids that fit their latent: 1,2,4,8).

Widths: base 24, ch_mult 3,3,4,4 (72 channels at full resolution).  GroupNorm groups are fixed
by the C++ loader's rule (32, or 24 when 32 does not divide), so the decoder's last norm_out over
32 channels would be one channel per group, an instance norm: it erases the absolute level of a
flat region, and a 32-channel decoder (tried: 700 steps) painted only grey backgrounds keyed by
zero-padding artefacts at the borders.  72 channels = 3 per group keeps a flat colour.

Loss = L1 + MSE reconstruction (object pixels weighted 1 + fg_w) of the full multi-scale quantised latent
     + commit_w * commitment (||u - q||^2 per token, u the normalised residual)
     + commit_z_w * ||z - summed codes||^2 (bounds the encoder output; see bsq_vae.quantize_train)
     + entropy_w * (per-sample bit entropy - codebook (batch) bit entropy)   [BSQ-style]
With probability reg_prob a step keeps only the first k scales (k random), the regularisation
of the released "_reg" tokenizers: early scales learn to reconstruct on their own, which makes
the transformer's job at coarse scales meaningful.

    /usr/bin/python3 tools/train/train_vae.py --out runs/vae --steps 4000 --threads 2
Writes OUT/vae.safetensors (official names, f32; re-written every --ckpt-every steps so a run
can be used early), OUT/vae.pt, OUT/vae_log.json (losses per step), OUT/vae_recon.png.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_env  # noqa: E402
cpu_env.reexec_with_malloc_env()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bsq_vae import BsqVae, VaeConfig  # noqa: E402
from export import export_vae  # noqa: E402
import data  # noqa: E402
from run_budget import RunBudget  # noqa: E402


def parse_grids(text: str):
    return [(int(g), int(g)) for g in text.split(',')]


def save_grid(path, rows):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'shapes'))
    from pngio import write_png
    img = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    write_png(path, img)


def random_crops(x: torch.Tensor, crop: int, rng) -> torch.Tensor:
    """x [B, 3, S, S] -> [B, 3, crop, crop], crop origins on the stride grid's multiples of 8."""
    S = x.shape[-1]
    out = []
    for i in range(x.shape[0]):
        oy, ox = (int(rng.integers(0, (S - crop) // 8 + 1)) * 8 for _ in range(2))
        out.append(x[i, :, oy:oy + crop, ox:ox + crop])
    return torch.stack(out)


def export(vae, a, grids, step):
    vae.eval()
    export_vae(vae, os.path.join(a.out, 'vae.safetensors'),
               {'schedule': json.dumps(grids), 'image_size': str(a.image_size), 'steps': str(step)})
    vae.train()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/vae')
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--minutes', type=float, default=0,
                    help='wall-clock budget: progress = max(step/steps, time/budget) drives the LR, the '
                         'crop->full switch and the end (0 = steps only); for a shared, busy CPU')
    ap.add_argument('--batch', type=int, default=16, help='crops per step')
    ap.add_argument('--full-batch', type=int, default=8, help='whole scenes per step in the full-size phase')
    ap.add_argument('--crop', type=int, default=64)
    ap.add_argument('--full-frac', type=float, default=0.3, help='last fraction of steps on whole scenes')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--bits', type=int, default=16)
    ap.add_argument('--base-ch', type=int, default=24)
    ap.add_argument('--ch-mult', default='3,3,4,4')
    ap.add_argument('--res-blocks', type=int, default=1)
    ap.add_argument('--patch', type=int, default=8)
    ap.add_argument('--schedule', default='1,2,4,8,16', help='square grids at image_size')
    ap.add_argument('--image-size', type=int, default=128)
    ap.add_argument('--commit-w', type=float, default=0.25)
    ap.add_argument('--commit-z-w', type=float, default=1.0, help='weight of ||z - summed codes||^2')
    ap.add_argument('--fg-w', type=float, default=4.0, help='extra loss weight of object pixels')
    ap.add_argument('--edge-w', type=float, default=0.0,
                    help='weight of the L1 difference of horizontal and vertical pixel gradients (object-weighted '
                         'as the pixels): sharp corners are what tells a small diamond or square from a circle')
    ap.add_argument('--stop-after', type=int, default=-1, help='stop after N steps (schedule unchanged)')
    ap.add_argument('--freeze-encoder', action='store_true', help='train the decoder only')
    ap.add_argument('--init', help='start from these exported VAE weights')
    ap.add_argument('--entropy-w', type=float, default=0.05)
    ap.add_argument('--reg-prob', type=float, default=0.25, help='probability of dropping late scales')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--ckpt-every', type=int, default=500)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # denormal activations/moments can slow CPU steps many-fold
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    cfg = VaeConfig(bits=a.bits, base_ch=a.base_ch, ch_mult=tuple(int(c) for c in a.ch_mult.split(',')),
                    num_res_blocks=a.res_blocks, patch=a.patch)
    vae = BsqVae(cfg)
    if a.init:  # continue from exported weights (a fresh optimizer and LR schedule)
        from export import load_vae
        vae.load_state_dict(load_vae(a.init).state_dict())
    grids = parse_grids(a.schedule)
    assert grids[-1][0] == a.image_size // a.patch, 'the last grid must be the latent size'
    crop_grids = [g for g in grids if g[0] <= a.crop // a.patch]
    full_from = 1 - a.full_frac  # progress at which whole scenes start
    print(f'vae {sum(p.numel() for p in vae.parameters()) / 1e6:.2f} M params, schedule {grids}, '
          f'crops {a.crop} ({crop_grids}) until progress {full_from:.2f}', flush=True)
    if a.freeze_encoder:  # decoder-only fine-tuning: the latents (and a transformer trained on them) stay valid
        for p in vae.encoder.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=a.lr, betas=(0.9, 0.95), weight_decay=1e-4)
    log, budget = [], RunBudget(a.steps, a.minutes, a.stop_after)
    step = 0
    while True:
        prog = budget.progress(step)
        if budget.finished(step, prog):
            break
        for gr in opt.param_groups:
            gr['lr'] = a.lr * budget.lr_factor(step, prog)
        full = prog >= full_from
        if full:
            x, _, _ = data.scene_batch(rng, a.full_batch, 'train', a.image_size)
            g = grids
        else:
            x, _, _ = data.scene_batch(rng, a.batch, 'train', a.image_size)
            x, g = random_crops(x, a.crop, rng), crop_grids
        drop = None
        if rng.random() < a.reg_prob:
            drop = int(rng.integers(1, len(g)))  # keep the first `drop` scales
        rec, stats, _ = vae.forward_train(x, g, scale_drop=drop)
        # object pixels weigh 1 + fg_w: objects cover a few % of a scene and the plain loss first
        # learns backgrounds only.  Background = the per-image, per-channel median.
        bg = x.flatten(2).median(dim=2).values[:, :, None, None]
        wpix = 1 + a.fg_w * ((x - bg).abs().amax(1, keepdim=True) > 0.1).float()  # [B, 1, H, W]
        l1 = ((rec - x).abs() * wpix).mean() / wpix.mean()
        l2 = ((rec - x) ** 2 * wpix).mean() / wpix.mean()
        ent = stats['entropy_sample'] - stats['entropy_codebook']
        edge = rec.new_zeros(())
        if a.edge_w > 0:
            for dim in (2, 3):  # vertical, horizontal finite differences [B, 3, H-1, W] / [B, 3, H, W-1]
                d_rec, d_x = rec.diff(dim=dim), x.diff(dim=dim)
                w = torch.maximum(wpix.narrow(dim, 0, wpix.shape[dim] - 1), wpix.narrow(dim, 1, wpix.shape[dim] - 1))
                edge = edge + ((d_rec - d_x).abs() * w).mean() / w.mean()
        loss = l1 + l2 + a.edge_w * edge + a.commit_w * stats['commit'] + a.commit_z_w * stats['commit_z'] + a.entropy_w * ent
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in vae.parameters() if p.requires_grad], 1.0)
        opt.step()
        if drop is None:
            psnr = 10 * math.log10(4.0 / max(F.mse_loss(rec, x).item(), 1e-10))
            log.append(dict(step=step, full=full, lr=opt.param_groups[0]['lr'], loss=loss.item(), l1=l1.item(), mse=l2.item(), psnr=psnr,
                            commit=float(stats['commit']), commit_z=float(stats['commit_z']), ent_sample=float(stats['entropy_sample']),
                            ent_codebook=float(stats['entropy_codebook']), sec=budget.elapsed()))
            if len(log) % a.log_every == 0 or step == a.steps - 1:
                e = log[-1]
                print(f"step {step:5d}  loss {e['loss']:.4f}  psnr {e['psnr']:.2f}  commit {e['commit']:.3f}/{e['commit_z']:.3f}  "
                      f"H {e['ent_sample']:.3f}/{e['ent_codebook']:.3f}  {'full' if full else 'crop'}  "
                      f"{e['sec']:.0f}s", flush=True)
        step += 1
        if step % a.ckpt_every == 0:
            export(vae, a, grids, step)
            with open(os.path.join(a.out, 'vae_log.json'), 'w') as f:
                json.dump(log, f)
    print(f'stopped after {step} steps', flush=True)
    export(vae, a, grids, step)
    vae.eval()
    torch.save({'cfg': cfg, 'state': vae.state_dict()}, os.path.join(a.out, 'vae.pt'))
    with open(os.path.join(a.out, 'vae_log.json'), 'w') as f:
        json.dump(log, f)
    with torch.no_grad():  # inputs over exact (inference) reconstructions
        x, _, _ = data.scene_batch(np.random.default_rng(12345), 8, 'heldout', a.image_size)
        bits, summed = vae.tokenize(x, grids)
        rec = vae.decode(summed)
        psnr = 10 * math.log10(4.0 / F.mse_loss(rec, x).item())
        print(f'held-out reconstruction psnr {psnr:.2f} dB (8 scenes); train wall {budget.elapsed():.0f}s')
        save_grid(os.path.join(a.out, 'vae_recon.png'), [data.to_uint8(x), data.to_uint8(rec)])


if __name__ == '__main__':
    main()
