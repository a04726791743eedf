#!/usr/bin/python3
"""Which scales does a model fail at?  Teacher-force the true bits of the first K scales and
sample the rest, for several K, and score the pictures with tools/shapes_eval.

    forced_scales.py --model models/default --forced 0,4,5,6,7 [--count 40 --split train]

For each training (or held-out) scene: the VAE encodes the rendered scene, the multi-scale
quantiser gives its true bits on the model's schedule, the transformer samples the scales after
the first K given the canonical caption, and the VAE decodes.  K = number of scales gives the
VAE's own reconstruction (the ceiling); K = 0 is plain generation.  A large jump between K and
K+1 says scale K+1 is where sampling breaks.  Sampling settings default to the model's.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, 'shapes'))
sys.path.insert(0, os.path.join(_ROOT, 'shapes_eval'))
import scenes  # noqa: E402
from detect import detect  # noqa: E402
from score import score_prompt  # noqa: E402
from bsq_vae import bitwise_self_correction  # noqa: E402
from export import load_infinity, load_t5, load_vae  # noqa: E402
from infinity_model import Schedule  # noqa: E402
from sample_eval import resolve_model, vae_image_size  # noqa: E402
import data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True, help='model directory (model.json)')
    ap.add_argument('--forced', default='0', help='comma-separated numbers of forced scales')
    ap.add_argument('--count', type=int, default=40, help='scenes')
    ap.add_argument('--split', default='train', choices=('train', 'heldout'))
    ap.add_argument('--seed', type=int, default=7, help='scene sampling seed (image i is sampled with seed i)')
    ap.add_argument('--cfg', type=float)
    ap.add_argument('--tau', type=float)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = resolve_model(a.model)
    defaults = files['defaults']
    cfg = a.cfg if a.cfg is not None else defaults.get('cfg', 3.0)
    tau = a.tau if a.tau is not None else defaults.get('tau', 0.5)
    top_p, top_k = defaults.get('top_p', 0.97), defaults.get('top_k', 0)
    model, t5, vae = load_infinity(files['transformer']).eval(), load_t5(files['t5']).eval(), load_vae(files['vae']).eval()
    grids = [tuple(g) for g in defaults['schedule']['grids']]
    schedule = Schedule(grids, tuple(defaults['schedule']['rope_grid']))
    tokenizer = data.Tokenizer(files['spiece'], max_length=model.cfg.text_maxlen)
    size = vae_image_size(files['vae'])
    rng = np.random.default_rng(a.seed)
    specs = [scenes.sample_scene(rng, a.split, image_size=size) for _ in range(a.count)]
    x = torch.from_numpy(np.stack([scenes.render(s) for s in specs])).permute(0, 3, 1, 2).float() / 127.5 - 1
    print(f'{a.count} {a.split} scenes at {size}x{size}, schedule {grids}, cfg {cfg}, tau {tau}')
    with torch.no_grad():
        true_bits, _ = bitwise_self_correction(vae.encode(x), grids, 0.0)  # no flips: the quantiser's bits
        for forced in [int(k) for k in a.forced.split(',')]:
            passed = 0
            for i, spec in enumerate(specs):
                ids, lens = tokenizer.batch([scenes.canonical_caption(spec)])
                _, summed = model.generate(t5(ids, lens), lens, schedule, cfg=cfg, tau=tau, top_k=top_k, top_p=top_p,
                                           seed=i, forced_bits=[bits[i:i + 1] for bits in true_bits[:forced]])
                picture = data.to_uint8(vae.decode(summed))[0]
                passed += score_prompt(spec.to_dict(), detect(picture))['passed']
            label = 'plain generation' if forced == 0 else (
                'all scales forced: the VAE alone' if forced == len(grids) else f'sampled from grid {grids[forced][0]}')
            print(f'forced scales {forced} ({label}): {passed}/{a.count} pass', flush=True)


if __name__ == '__main__':
    main()
