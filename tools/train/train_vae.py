#!/usr/bin/python3
"""Train the BSQ-VAE tokenizer on procedural scenes (sketch; defaults sized for a 2-core CPU).

Loss = L1 + MSE reconstruction of the full multi-scale quantised latent
     + commit_w * commitment (||u - q||^2 per token, u the normalised residual)
     + entropy_w * (per-sample bit entropy - codebook (batch) bit entropy)   [BSQ-style]
With probability reg_prob a step keeps only the first k scales (k random), the regularisation
of the released "_reg" tokenizers: early scales learn to reconstruct on their own, which makes
the transformer's job at coarse scales meaningful.

    /usr/bin/python3 tools/train/train_vae.py --out runs/vae --steps 3000
Writes OUT/vae.safetensors (official names, f32), OUT/vae.pt (checkpoint), OUT/vae_log.json
(losses per step), OUT/vae_recon.png (inputs over reconstructions).
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_env  # noqa: E402
cpu_env.reexec_with_malloc_env()

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bsq_vae import BsqVae, VaeConfig  # noqa: E402
from export import export_vae  # noqa: E402
import data  # noqa: E402


def schedule_for(latent: int):
    """Square schedules: the 1:1 template's grids up to the latent side (1, 2, 4, 6, 8, 12, 16...)."""
    grids = [g for g in (1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64) if g <= latent]
    if grids[-1] != latent:
        grids.append(latent)
    return [(g, g) for g in grids]


def save_grid(path, rows):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'shapes'))
    from pngio import write_png
    img = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    write_png(path, img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/vae')
    ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--bits', type=int, default=16)
    ap.add_argument('--base-ch', type=int, default=32)
    ap.add_argument('--ch-mult', default='1,1,2,2,4')
    ap.add_argument('--res-blocks', type=int, default=1)
    ap.add_argument('--patch', type=int, default=16)
    ap.add_argument('--image-size', type=int, default=128)
    ap.add_argument('--commit-w', type=float, default=0.25)
    ap.add_argument('--entropy-w', type=float, default=0.05)
    ap.add_argument('--reg-prob', type=float, default=0.25, help='probability of dropping late scales')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--log-every', type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    cfg = VaeConfig(bits=a.bits, base_ch=a.base_ch, ch_mult=tuple(int(c) for c in a.ch_mult.split(',')),
                    num_res_blocks=a.res_blocks, patch=a.patch)
    vae = BsqVae(cfg)
    grids = schedule_for(a.image_size // a.patch)
    print(f'vae {sum(p.numel() for p in vae.parameters()) / 1e6:.2f} M params, schedule {grids}')
    opt = torch.optim.AdamW(vae.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=1e-4)
    warm = max(1, a.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps))) * 0.9 + 0.1))
    log, t0 = [], time.time()
    for step in range(a.steps):
        x, _, _ = data.scene_batch(rng, a.batch, 'train', a.image_size)
        drop = None
        if rng.random() < a.reg_prob:
            drop = int(rng.integers(1, len(grids)))  # keep the first `drop` scales
        rec, stats, _ = vae.forward_train(x, grids, scale_drop=drop)
        l1 = (rec - x).abs().mean()
        l2 = F.mse_loss(rec, x)
        ent = stats['entropy_sample'] - stats['entropy_codebook']
        loss = l1 + l2 + a.commit_w * stats['commit'] + a.entropy_w * ent
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if drop is None:
            psnr = 10 * math.log10(4.0 / max(l2.item(), 1e-10))
            log.append(dict(step=step, loss=loss.item(), l1=l1.item(), mse=l2.item(), psnr=psnr,
                            commit=float(stats['commit']), ent_sample=float(stats['entropy_sample']),
                            ent_codebook=float(stats['entropy_codebook']), sec=time.time() - t0))
            if len(log) % a.log_every == 0 or step == a.steps - 1:
                e = log[-1]
                print(f"step {step:5d}  loss {e['loss']:.4f}  psnr {e['psnr']:.2f}  commit {e['commit']:.3f}  "
                      f"H {e['ent_sample']:.3f}/{e['ent_codebook']:.3f}  {e['sec']:.0f}s", flush=True)
    vae.eval()
    export_vae(vae, os.path.join(a.out, 'vae.safetensors'),
               {'schedule': json.dumps(grids), 'image_size': str(a.image_size), 'steps': str(a.steps)})
    torch.save({'cfg': cfg, 'state': vae.state_dict(), 'opt': opt.state_dict()}, os.path.join(a.out, 'vae.pt'))
    with open(os.path.join(a.out, 'vae_log.json'), 'w') as f:
        json.dump(log, f)
    with torch.no_grad():  # inputs over exact (inference) reconstructions
        x, _, _ = data.scene_batch(np.random.default_rng(12345), 8, 'heldout', a.image_size)
        bits, summed = vae.tokenize(x, grids)
        rec = vae.decode(summed)
        psnr = 10 * math.log10(4.0 / F.mse_loss(rec, x).item())
        print(f'held-out reconstruction psnr {psnr:.2f} dB')
        save_grid(os.path.join(a.out, 'vae_recon.png'), [data.to_uint8(x), data.to_uint8(rec)])


if __name__ == '__main__':
    main()
