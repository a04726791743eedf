#!/usr/bin/python3
"""Train the bitwise transformer and the T5 encoder jointly on procedural scenes.

Per step (spec §7.6):
  1. raw VAE features z [B, d, h, w] of training scenes, precomputed once by the frozen BSQ-VAE
     encoder (`--scenes` scenes, cached in OUT/latents.pt or `--cache`), so steps do not pay
     for the encoder; each step draws a fresh caption phrasing for every scene
  2. bitwise self-correction: per scale, quantise the area-downsampled residual against the
     running sum; labels are those bits; with probability p ~ U{0, .01, .., flip} per scale the
     bits are flipped and the FLIPPED codes enter the running sum, so later labels teach the
     model to correct earlier mistakes; inputs = bilinear down-sample of the running sum
  3. captions -> SentencePiece ids (+EOS) -> T5 encoder (trained jointly) -> features
  4. condition dropout (10%): a prompt's features become cfg_uncond[:len] (learned), for CFG
  5. teacher-forced forward over all scales with the block-causal mask; loss = per-bit
     cross-entropy, mean over bits, tokens weighted by sqrt(area_last / area_k)
     (reweight_loss_by_scale); AdamW betas (0.9, 0.97), cosine LR, grad clip

    /usr/bin/python3 tools/train/train_transformer.py --vae runs/vae/vae.safetensors --out runs/t2i --steps 3000
Writes OUT/infinity.safetensors, OUT/t5.safetensors, OUT/spiece.model (official names and
formats; re-written every --ckpt-every steps so a run can be used early), OUT/transformer.pt and
OUT/transformer_log.json.
"""
import argparse
import json
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
from bsq_vae import area_resize, bitwise_self_correction  # noqa: E402
from t5_encoder import T5Encoder, T5Config  # noqa: E402
from export import export_infinity, export_t5, load_vae  # noqa: E402
import data  # noqa: E402
from run_budget import RunBudget  # noqa: E402


def bit_loss(logits, gt_bits):
    """logits [B, L, 2d], gt_bits [B, L, d] (0/1) -> CE per token (mean over bits) [B, L],
    bit accuracy per token [B, L]."""
    B, L, d2 = logits.shape
    lg = logits.view(B, L, d2 // 2, 2)
    ce = F.cross_entropy(lg.permute(0, 3, 1, 2), gt_bits.long(), reduction='none').mean(-1)  # [B, L]
    acc = (lg.argmax(-1) == gt_bits.long()).float().mean(-1)
    return ce, acc


def object_token_masks(specs, grids, latent_side):
    """Where the objects are, per token: [N, L] in [0, 1] over the schedule's tokens.

    On the last grid a token counts when an object covers any of it or of its 8 neighbours
    (the one-token ring is where the edges of a shape are decided); coarser grids take the
    area average of that map.  Objects cover a few % of a scene, so without extra weight the
    loss is dominated by easy background tokens and the model learns blurred blobs."""
    maps = torch.zeros(len(specs), 1, latent_side, latent_side)
    for i, spec in enumerate(specs):
        for obj in spec.objects:
            y0, x0, cov = data.scenes._coverage(obj, latent_side, 4)
            h, w = cov.shape
            maps[i, 0, y0:y0 + h, x0:x0 + w] += torch.from_numpy(cov)
    maps = F.max_pool2d((maps > 0.02).float(), 3, stride=1, padding=1)  # [N, 1, S, S]
    return torch.cat([area_resize(maps, g).flatten(1) for g in grids], 1)  # [N, L]


@torch.no_grad()
def encode_scenes(vae, count, image_size, seed, chunk=64):
    """count training scenes -> (z [N, d, h, w] float16, specs); deterministic for a seed."""
    rng = np.random.default_rng(seed)
    zs, specs = [], []
    for s in range(0, count, chunk):
        n = min(chunk, count - s)
        x, _, sp = data.scene_batch(rng, n, 'train', image_size)
        zs.append(vae.encode(x).half())
        specs.extend(sp)
    return torch.cat(zs), specs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vae', required=True, help='exported BSQ-VAE (train_vae.py)')
    ap.add_argument('--out', default='runs/t2i')
    ap.add_argument('--spm', help='SentencePiece model (default: train one on captions)')
    ap.add_argument('--cache', help='latents cache (default OUT/latents.pt; made when missing)')
    ap.add_argument('--scenes', type=int, default=20000, help='training scenes encoded once')
    ap.add_argument('--schedule', default='1,2,4,8,16', help='square grids (the last is the latent side)')
    ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--minutes', type=float, default=0,
                    help='wall-clock budget for the steps: progress = max(step/steps, time/budget) drives the '
                         'cosine LR and the end (0 = steps only); for a shared, busy CPU')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--depth', type=int, default=4)
    ap.add_argument('--width', type=int, default=128)
    ap.add_argument('--heads', type=int, default=2)
    ap.add_argument('--block-chunks', type=int, default=2)
    ap.add_argument('--t5-width', type=int, default=128, help='Ct5 (the pool uses Ct5 // 128 heads)')
    ap.add_argument('--t5-layers', type=int, default=2)
    ap.add_argument('--t5-heads', type=int, default=4)
    ap.add_argument('--text-maxlen', type=int, default=32)
    ap.add_argument('--flip', type=float, default=0.3, help='bitwise self-correction strength (0 = off)')
    ap.add_argument('--cond-drop', type=float, default=0.1)
    ap.add_argument('--object-w', type=float, default=0.0,
                    help='extra loss weight of tokens on or next to an object (object_token_masks; 0 = off)')
    ap.add_argument('--image-size', type=int, default=128)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--stop-after', type=int, default=-1, help='stop after N steps (LR schedule unchanged)')
    ap.add_argument('--init', help='continue from this transformer.pt (model and T5 weights; a fresh optimizer and '
                                   'LR schedule; the schedule may differ: lvl_embed has a row per scale index)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--ckpt-every', type=int, default=250)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # denormal activations/moments can slow CPU steps many-fold
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()

    vae = load_vae(a.vae)
    vae.eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    grids = [(int(g), int(g)) for g in a.schedule.split(',')]
    assert grids[-1][0] == a.image_size // vae.cfg.patch, 'the last grid must be the latent side'
    sched = Schedule(grids, grids[-1])  # RoPE positions on the model's own last grid

    spm_path = os.path.join(a.out, 'spiece.model')
    if a.spm:
        if os.path.abspath(a.spm) != os.path.abspath(spm_path):
            shutil.copy(a.spm, spm_path)
    elif not os.path.exists(spm_path):
        data.train_spm(os.path.join(a.out, 'spiece'))
    tok = data.Tokenizer(spm_path, max_length=a.text_maxlen)

    cache = a.cache or os.path.join(a.out, 'latents.pt')
    if os.path.exists(cache):
        blob = torch.load(cache)
        Z, specs = blob['z'], [data.scenes.SceneSpec.from_dict(s) for s in blob['specs']]
        print(f'loaded {len(specs)} cached latents from {cache}', flush=True)
    else:
        Z, specs = encode_scenes(vae, a.scenes, a.image_size, a.seed + 1)
        torch.save({'z': Z, 'specs': [s.to_dict() for s in specs]}, cache)
        print(f'encoded {len(specs)} scenes in {time.time() - t_start:.0f}s -> {cache}', flush=True)

    t5 = T5Encoder(T5Config(vocab_size=data.t5_vocab_rows(tok.pieces), d_model=a.t5_width,
                            d_kv=a.t5_width // a.t5_heads, num_heads=a.t5_heads, d_ff=2 * a.t5_width,
                            num_layers=a.t5_layers)).init_weights()
    model = Infinity(InfinityConfig(depth=a.depth, embed_dim=a.width, num_heads=a.heads, bits=vae.cfg.bits,
                                    text_channels=a.t5_width, text_maxlen=a.text_maxlen,
                                    block_chunks=a.block_chunks)).init_weights()
    if a.init:
        state = torch.load(a.init)
        model.load_state_dict(state['model'])
        t5.load_state_dict(state['t5'])
        print(f"continuing from {a.init} (step {state['step']}, schedule {state['args']['schedule']})", flush=True)
    n = lambda m: sum(p.numel() for p in m.parameters()) / 1e6
    print(f'transformer {n(model):.2f} M, T5 {n(t5):.2f} M, VAE {n(vae):.2f} M; schedule {grids} '
          f'({sched.total} tokens); spm {tok.pieces} pieces; flip {a.flip}', flush=True)

    params = list(model.parameters()) + list(t5.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.97))
    weights = scale_loss_weights(sched)  # [L]
    object_masks = object_token_masks(specs, grids, grids[-1][0]) if a.object_w > 0 else None  # [N, L]
    offsets = sched.offsets() + [sched.total]
    meta = {'schedule': json.dumps(grids), 'rope_grid': json.dumps(list(grids[-1])),
            'image_size': str(a.image_size), 'flip': str(a.flip), 'cond_drop': str(a.cond_drop),
            'object_w': str(a.object_w)}

    def save(step):
        model.eval(), t5.eval()
        export_infinity(model, os.path.join(a.out, 'infinity.safetensors'), dict(meta, steps=str(step)))
        export_t5(t5, os.path.join(a.out, 't5.safetensors'))
        torch.save({'model': model.state_dict(), 't5': t5.state_dict(), 'args': vars(a), 'step': step},
                   os.path.join(a.out, 'transformer.pt'))
        with open(os.path.join(a.out, 'transformer_log.json'), 'w') as f:
            json.dump(log, f)
        model.train(), t5.train()

    log, budget = [], RunBudget(a.steps, a.minutes, a.stop_after)
    step = 0
    while True:
        prog = budget.progress(step)
        if budget.finished(step, prog):
            break
        for gr in opt.param_groups:
            gr['lr'] = a.lr * budget.lr_factor(step, prog)
        idx = rng.integers(0, len(specs), a.batch)
        z = Z[torch.from_numpy(idx)].float()
        caps = [data.scenes.caption(specs[i], rng) for i in idx]
        with torch.no_grad():
            gt, x_wo = bitwise_self_correction(z, grids, a.flip, rng=rng, generator=gen)
        ids, lens = tok.batch(caps)
        text = t5(ids, lens)
        drop = torch.from_numpy(rng.random(a.batch) < a.cond_drop)
        logits = model(text, lens, x_wo, sched, drop=drop)
        ce, acc = bit_loss(logits, torch.cat(gt, 1))
        loss = (ce * weights[None]).mean()  # logged: comparable across runs whatever --object-w
        if object_masks is None:
            objective = loss
        else:
            objective = (ce * weights[None] * (1 + a.object_w * object_masks[torch.from_numpy(idx)])).mean()
        opt.zero_grad(set_to_none=True)
        objective.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 2.0)
        opt.step()
        acc_k = [acc[:, offsets[k]:offsets[k + 1]].mean().item() for k in range(len(grids))]
        log.append(dict(step=step, lr=opt.param_groups[0]['lr'], loss=loss.item(), grad_norm=float(gn), bit_acc=acc_k, sec=budget.elapsed()))
        if step % a.log_every == 0:
            print(f'step {step:5d}  loss {loss.item():.4f}  bit acc/scale ' +
                  ' '.join(f'{v:.3f}' for v in acc_k) + f'  |g| {float(gn):.2f}  {budget.elapsed():.0f}s', flush=True)
        step += 1
        if step % a.ckpt_every == 0:
            save(step)
    save(step)
    print(f'done: {step} steps, train wall {budget.elapsed():.0f}s, total {time.time() - t_start:.0f}s', flush=True)


if __name__ == '__main__':
    main()
