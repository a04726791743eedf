#!/usr/bin/python3
"""Train the bitwise transformer and the T5 encoder jointly on procedural scenes (sketch).

Per step (spec §7.6):
  1. scenes -> images -> frozen BSQ-VAE encoder -> raw features z [B, d, h, w]
  2. bitwise self-correction: per scale, quantise the area-downsampled residual against the
     running sum; labels are those bits; with probability p ~ U{0, .01, .., flip} per scale the
     bits are flipped and the FLIPPED codes enter the running sum, so later labels teach the
     model to correct earlier mistakes; inputs = bilinear down-sample of the running sum
  3. captions -> SentencePiece ids (+EOS) -> T5 encoder (trained jointly) -> features
  4. condition dropout (10%): a prompt's features become cfg_uncond[:len] (learned), for CFG
  5. teacher-forced forward over all scales with the block-causal mask; loss = per-bit
     cross-entropy, mean over bits, tokens weighted by sqrt(area_last / area_k)
     (reweight_loss_by_scale); AdamW betas (0.9, 0.97), grad clip

    /usr/bin/python3 tools/train/train_transformer.py --vae runs/vae/vae.safetensors --out runs/t2i --steps 4000
Writes OUT/infinity.safetensors, OUT/t5.safetensors, OUT/spiece.model (official names and
formats), OUT/transformer.pt, OUT/transformer_log.json and OUT/samples.png (held-out prompts).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_env  # noqa: E402
cpu_env.reexec_with_malloc_env()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from infinity_model import Infinity, InfinityConfig, Schedule, scale_loss_weights  # noqa: E402
from bsq_vae import bitwise_self_correction  # noqa: E402
from t5_encoder import T5Encoder, T5Config  # noqa: E402
from export import export_infinity, export_t5, load_vae  # noqa: E402
import data  # noqa: E402


def bit_loss(logits, gt_bits, weights):
    """logits [B, L, 2d], gt_bits [B, L, d] (0/1) -> weighted mean CE, bit accuracy per token."""
    B, L, d2 = logits.shape
    lg = logits.view(B, L, d2 // 2, 2)
    ce = F.cross_entropy(lg.permute(0, 3, 1, 2), gt_bits.long(), reduction='none').mean(-1)  # [B, L]
    acc = (lg.argmax(-1) == gt_bits.long()).float().mean(-1)
    return (ce * weights[None]).mean(), acc


def sample_grid(model, t5, tok, vae, sched, prompts, cfg=3.0, tau=0.5, seed=0):
    """Generate one image per prompt (Philox sampler, as the C++ engine) -> uint8 [N, S, S, 3]."""
    ids, lens = tok.batch(prompts)
    with torch.no_grad():
        text = t5(ids, lens)
        _, summed = model.generate(text, lens, sched, cfg=cfg, tau=tau, seed=seed)
        return data.to_uint8(vae.decode(summed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vae', required=True, help='exported BSQ-VAE (train_vae.py)')
    ap.add_argument('--out', default='runs/t2i')
    ap.add_argument('--spm', help='SentencePiece model (default: train one on captions)')
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--depth', type=int, default=6)
    ap.add_argument('--width', type=int, default=192)
    ap.add_argument('--heads', type=int, default=3)
    ap.add_argument('--block-chunks', type=int, default=2)
    ap.add_argument('--t5-width', type=int, default=128, help='Ct5 (the pool uses Ct5 // 128 heads)')
    ap.add_argument('--t5-layers', type=int, default=2)
    ap.add_argument('--t5-heads', type=int, default=4)
    ap.add_argument('--text-maxlen', type=int, default=32)
    ap.add_argument('--flip', type=float, default=0.3, help='bitwise self-correction strength (0 = off)')
    ap.add_argument('--cond-drop', type=float, default=0.1)
    ap.add_argument('--image-size', type=int, default=128)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--log-every', type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    vae = load_vae(a.vae)
    for p in vae.parameters():
        p.requires_grad_(False)
    latent = a.image_size // vae.cfg.patch
    grids = [(g, g) for g in (1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64) if g < latent] + [(latent, latent)]
    sched = Schedule(grids, (64, 64))  # 1:1 template: RoPE positions on the 1M grid

    spm_path = os.path.join(a.out, 'spiece.model')
    if a.spm:
        if os.path.abspath(a.spm) != os.path.abspath(spm_path):
            shutil.copy(a.spm, spm_path)
    elif not os.path.exists(spm_path):
        data.train_spm(os.path.join(a.out, 'spiece'))
    tok = data.Tokenizer(spm_path, max_length=a.text_maxlen)

    t5 = T5Encoder(T5Config(vocab_size=data.t5_vocab_rows(tok.pieces), d_model=a.t5_width,
                            d_kv=a.t5_width // a.t5_heads, num_heads=a.t5_heads, d_ff=2 * a.t5_width,
                            num_layers=a.t5_layers)).init_weights()
    model = Infinity(InfinityConfig(depth=a.depth, embed_dim=a.width, num_heads=a.heads, bits=vae.cfg.bits,
                                    text_channels=a.t5_width, text_maxlen=a.text_maxlen,
                                    block_chunks=a.block_chunks)).init_weights()
    n = lambda m: sum(p.numel() for p in m.parameters()) / 1e6
    print(f'transformer {n(model):.2f} M, T5 {n(t5):.2f} M, VAE {n(vae):.2f} M; schedule {grids} '
          f'({sched.total} tokens); spm {tok.pieces} pieces', flush=True)

    params = list(model.parameters()) + list(t5.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.97))
    warm = max(1, a.steps // 20)
    lr_at = lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps))))
    schedl = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    weights = scale_loss_weights(sched)
    offsets = sched.offsets() + [sched.total]
    log, t0 = [], time.time()
    for step in range(a.steps):
        x, caps, _ = data.scene_batch(rng, a.batch, 'train', a.image_size)
        with torch.no_grad():
            z = vae.encode(x)
            gt, x_wo = bitwise_self_correction(z, grids, a.flip, rng=rng, generator=gen)
        ids, lens = tok.batch(caps)
        text = t5(ids, lens)
        drop = torch.from_numpy(rng.random(a.batch) < a.cond_drop)
        logits = model(text, lens, x_wo, sched, drop=drop)
        loss, acc = bit_loss(logits, torch.cat(gt, 1), weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 2.0)
        opt.step()
        schedl.step()
        acc_k = [acc[:, offsets[k]:offsets[k + 1]].mean().item() for k in range(len(grids))]
        log.append(dict(step=step, loss=loss.item(), grad_norm=float(gn), bit_acc=acc_k, sec=time.time() - t0))
        if step % a.log_every == 0 or step == a.steps - 1:
            print(f'step {step:5d}  loss {loss.item():.4f}  bit acc/scale ' +
                  ' '.join(f'{v:.2f}' for v in acc_k) + f'  |g| {float(gn):.2f}  {time.time() - t0:.0f}s', flush=True)

    model.eval(), t5.eval()
    meta = {'schedule': json.dumps(grids), 'rope_grid': '[64, 64]', 'image_size': str(a.image_size),
            'steps': str(a.steps), 'flip': str(a.flip), 'cond_drop': str(a.cond_drop)}
    export_infinity(model, os.path.join(a.out, 'infinity.safetensors'), meta)
    export_t5(t5, os.path.join(a.out, 't5.safetensors'))
    torch.save({'model': model.state_dict(), 't5': t5.state_dict(), 'opt': opt.state_dict(), 'args': vars(a)},
               os.path.join(a.out, 'transformer.pt'))
    with open(os.path.join(a.out, 'transformer_log.json'), 'w') as f:
        json.dump(log, f)
    prompts = [p['caption'] for p in data.scenes.make_eval_prompts(8)]
    imgs = sample_grid(model, t5, tok, vae, sched, prompts)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'shapes'))
    from pngio import write_png
    write_png(os.path.join(a.out, 'samples.png'), np.concatenate(list(imgs), 1))
    print('held-out prompts (left to right):', *prompts, sep='\n  ')


if __name__ == '__main__':
    main()
