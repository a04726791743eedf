#!/usr/bin/python3
"""Assemble a C++ engine model directory (docs/model-manifest.md) from a training run.

    make_model_dir.py --vae RUN/vae_b/vae.safetensors --t2i RUN/t2i --out models/default \
        --bf16 --cfg 10 --tau 0.7 --top-p 0.97
Copies the exported files under the names below and writes model.json with the sampling
defaults and the token schedule the transformer was trained on (its 'schedule' metadata); the
model draws at one size only, the VAE's image_size."""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from export import read_safetensors, write_safetensors  # noqa: E402

FILES = {'transformer': 'transformer.safetensors', 'vae': 'vae.safetensors', 't5': 't5_encoder.safetensors',
         'spiece': 'spiece.model'}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vae', required=True)
    ap.add_argument('--t2i', required=True, help='train_transformer.py output directory')
    ap.add_argument('--out', required=True)
    ap.add_argument('--name', default='infinode-shapes-64')
    ap.add_argument('--cfg', type=float, default=3.0)
    ap.add_argument('--tau', type=float, default=0.5)
    ap.add_argument('--top-k', type=int, default=0)
    ap.add_argument('--top-p', type=float, default=0.97)
    ap.add_argument('--bf16', action='store_true', help='store the weights as bf16')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    src = {'transformer': os.path.join(a.t2i, 'infinity.safetensors'), 'vae': a.vae,
           't5': os.path.join(a.t2i, 't5.safetensors'), 'spiece': os.path.join(a.t2i, 'spiece.model')}
    for part, path in src.items():
        dst = os.path.join(a.out, FILES[part])
        if a.bf16 and path.endswith('.safetensors'):  # halves the files; the C++ loaders read bf16
            w, meta = read_safetensors(path)
            write_safetensors(dst, {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in w.items()},
                              meta)
        else:
            shutil.copy(path, dst)
    meta = read_safetensors(src['transformer'])[1]
    grids = [list(g) for g in json.loads(meta['schedule'])]
    manifest = {'format': 'infinode.model', 'version': 1, 'name': a.name, **FILES,
                'defaults': {'cfg': a.cfg, 'tau': a.tau, 'top_k': a.top_k, 'top_p': a.top_p,
                             'schedule': {'grids': grids, 'rope_grid': json.loads(meta['rope_grid'])}}}
    text = json.dumps(manifest, indent=1)
    text = text.replace(json.dumps(manifest['defaults']['schedule'], indent=1).replace('\n', '\n  '),
                        json.dumps(manifest['defaults']['schedule']))  # the schedule on one line
    with open(os.path.join(a.out, 'model.json'), 'w') as f:
        f.write(text + '\n')
    print(f'wrote {a.out}: ' + ', '.join(f'{n} {os.path.getsize(os.path.join(a.out, n)) / 1e6:.2f} MB'
                                          for n in FILES.values()))


if __name__ == '__main__':
    main()
