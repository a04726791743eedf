#!/usr/bin/python3
"""Score a trained model on the held-out benchmark prompts with the PyTorch sampler, or score
the VAE's reconstructions of the prompts' reference scenes (the ceiling for any transformer).

    # images from a model directory (model.json) or a run directory (+ --vae)
    sample_eval.py model --model models/default --out /tmp/ev [--cfg 3 --tau 0.5 --top-p 0.97]
    # VAE reconstructions of the 200 reference scenes
    sample_eval.py vae --vae runs/vae/vae.safetensors --out /tmp/ev_vae
    # the same prompts and seed through the C++ engine's CLI
    sample_eval.py cpp --model models/default --out /tmp/ev_cpp
Writes OUT/{index:04d}.png, OUT/summary.json, OUT/grid.png (first 20) and prints the
tools/shapes_eval scoring table.  Bits are drawn with the C++ engine's Philox stream (image i
of the list uses seed --seed and first_image 0 within its batch of 1, i.e. the CLI's
`generate PROMPT --seed S`), so C++ and PyTorch should agree up to float noise at bit
decision boundaries.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, 'shapes'))
sys.path.insert(0, os.path.join(_ROOT, 'shapes_eval'))
import scenes  # noqa: E402
from pngio import write_png  # noqa: E402
from export import load_infinity, load_t5, load_vae, read_safetensors  # noqa: E402
from infinity_model import Schedule  # noqa: E402
import data  # noqa: E402


def resolve_model(model_dir, vae=None):
    """-> dict of file paths and defaults from a model directory (model.json or run dir)."""
    mj = os.path.join(model_dir, 'model.json')
    if os.path.exists(mj):
        with open(mj) as f:
            m = json.load(f)
        p = lambda k: os.path.join(model_dir, m[k])
        return dict(transformer=p('transformer'), vae=p('vae'), t5=p('t5'), spiece=p('spiece'),
                    defaults=m.get('defaults', {}))
    return dict(transformer=os.path.join(model_dir, 'infinity.safetensors'), vae=vae,
                t5=os.path.join(model_dir, 't5.safetensors'), spiece=os.path.join(model_dir, 'spiece.model'),
                defaults={})


def score(out_dir, prompts_path, count):
    """The first `count` prompts' images in out_dir: grid.png of the first 20 (when there are
    that many), the scoring table and out_dir/summary.json.  Returns eval_images' exit status."""
    if count >= 20:
        grid_png(out_dir)
    import eval_images
    return eval_images.main(['--prompts', prompts_path, '--images', out_dir, '--limit', str(count),
                             '--out', os.path.join(out_dir, 'summary.json')])


def vae_image_size(vae_path):
    """The side the VAE was trained at (train_vae.py's 'image_size' metadata), else 128."""
    return int(read_safetensors(vae_path)[1].get('image_size', scenes.DEFAULT_IMAGE_SIZE))


def write_prompts(out_dir, image_size=scenes.DEFAULT_IMAGE_SIZE, split='heldout', limit=0):
    """The 200 benchmark prompts (split 'train': 200 prompts drawn the same way from training
    combinations, to tell 'cannot draw' from 'cannot compose'); their reference scenes render at
    image_size (the geometry is in fractions of the side, so captions and scoring do not depend on it)."""
    path = os.path.join(out_dir, 'prompts.json')
    scenes.save_eval_prompts(path, scenes.make_eval_prompts(200, image_size=image_size, split=split))
    prompts = scenes.load_eval_prompts(path)
    return path, prompts[:limit] if limit else prompts


def save_images(out_dir, imgs, start):
    for i, im in enumerate(imgs):
        write_png(os.path.join(out_dir, f'{start + i:04d}.png'), im)


def grid_png(out_dir, n=20, cols=10):
    from pngio import read_png
    ims = [read_png(os.path.join(out_dir, f'{i:04d}.png')) for i in range(n)]
    rows = [np.concatenate(ims[r * cols:(r + 1) * cols], 1) for r in range(n // cols)]
    write_png(os.path.join(out_dir, 'grid.png'), np.concatenate(rows, 0))


def cmd_vae(a):
    vae = load_vae(a.vae).eval()
    grids = [(int(g), int(g)) for g in a.schedule.split(',')]
    prompts_path, prompts = write_prompts(a.out, vae_image_size(a.vae))
    psnrs = []
    with torch.no_grad():
        for s in range(0, len(prompts), 20):
            specs = [p['spec'] for p in prompts[s:s + 20]]
            x = torch.from_numpy(np.stack([scenes.render(sp) for sp in specs])).permute(0, 3, 1, 2).float() / 127.5 - 1
            bits, summed = vae.tokenize(x, grids)
            rec = vae.decode(summed)
            psnrs += [10 * math.log10(4.0 / F.mse_loss(rec[i], x[i]).item()) for i in range(len(specs))]
            save_images(a.out, data.to_uint8(rec), s)
    print(f'VAE reconstruction PSNR over {len(psnrs)} held-out reference scenes: mean {np.mean(psnrs):.2f} dB, '
          f'min {np.min(psnrs):.2f} dB')
    return score(a.out, prompts_path, len(prompts))


def cmd_model(a):
    files = resolve_model(a.model, a.vae)
    dfl = files['defaults']
    cfg = a.cfg if a.cfg is not None else dfl.get('cfg', 3.0)
    tau = a.tau if a.tau is not None else dfl.get('tau', 0.5)
    top_p = a.top_p if a.top_p is not None else dfl.get('top_p', 0.97)
    top_k = a.top_k if a.top_k is not None else dfl.get('top_k', 0)
    model, t5, vae = load_infinity(files['transformer']).eval(), load_t5(files['t5']).eval(), \
        load_vae(files['vae']).eval()
    if 'schedule' in dfl:
        sched = Schedule([tuple(g) for g in dfl['schedule']['grids']], tuple(dfl['schedule']['rope_grid']))
    else:
        grids = [(int(g), int(g)) for g in a.schedule.split(',')]
        sched = Schedule(grids, grids[-1])
    tok = data.Tokenizer(files['spiece'], max_length=model.cfg.text_maxlen)
    prompts_path, prompts = write_prompts(a.out, split=a.split, limit=a.limit)
    t0 = time.time()
    with torch.no_grad():
        for i, p in enumerate(prompts):  # one prompt at a time: batch-of-1 Philox stream, as the CLI
            ids, lens = tok.batch([p['caption']])
            _, summed = model.generate(t5(ids, lens), lens, sched, cfg=cfg, tau=tau, top_k=top_k, top_p=top_p,
                                       seed=a.seed)
            save_images(a.out, data.to_uint8(vae.decode(summed)), i)
    print(f'{len(prompts)} images in {time.time() - t0:.0f}s (cfg {cfg}, tau {tau}, top_k {top_k}, '
          f'top_p {top_p}, seed {a.seed})', flush=True)
    return score(a.out, prompts_path, len(prompts))


def cmd_cpp(a):
    """The same prompts and seed through the C++ CLI, one process per prompt (batch of 1)."""
    import subprocess
    prompts_path, prompts = write_prompts(a.out, split=a.split, limit=a.limit)
    t0, gen = time.time(), 0.0
    for i, p in enumerate(prompts):
        out = os.path.join(a.out, f'{i:04d}.png')
        r = subprocess.run([a.cli, 'generate', p['caption'], '--model', a.model, '--seed', str(a.seed), '-o', out],
                           capture_output=True, text=True, check=True)
        for line in (r.stdout + r.stderr).splitlines():  # "... in 0.28 s"
            if line.startswith('infinode generate:') and line.rstrip().endswith(' s'):
                gen += float(line.rsplit(' in ', 1)[1].split()[0])
    print(f'{len(prompts)} images through {a.cli} in {time.time() - t0:.0f}s wall '
          f'(engine-reported generate time {gen:.1f}s, {gen / max(1, len(prompts)):.2f} s/image)', flush=True)
    return score(a.out, prompts_path, len(prompts))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('model')
    m.add_argument('--model', required=True, help='model directory (model.json) or training run directory')
    m.add_argument('--vae', help='VAE file for a run directory')
    m.add_argument('--cfg', type=float)
    m.add_argument('--tau', type=float)
    m.add_argument('--top-p', type=float)
    m.add_argument('--top-k', type=int)
    m.add_argument('--seed', type=int, default=0)
    m.add_argument('--limit', type=int, default=0)
    c = sub.add_parser('cpp')
    c.add_argument('--model', required=True, help='model directory for the CLI')
    c.add_argument('--cli', default=os.path.join(os.path.dirname(_ROOT), 'build', 'examples', 'infinode'))
    c.add_argument('--seed', type=int, default=0)
    c.add_argument('--limit', type=int, default=0)
    v = sub.add_parser('vae')
    v.add_argument('--vae', required=True)
    for p in (m, c):
        p.add_argument('--split', default='heldout', choices=('heldout', 'train'),
                       help='prompt combinations: the held-out benchmark (default) or training ones')
    for p in (m, v, c):
        p.add_argument('--schedule', default='1,2,4,8,16')
        p.add_argument('--out', required=True)
        p.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    sys.exit({'vae': cmd_vae, 'model': cmd_model, 'cpp': cmd_cpp}[a.cmd](a))


if __name__ == '__main__':
    main()
