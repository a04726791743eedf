#!/usr/bin/python3
"""Loss curves of a training run as PNGs (matplotlib; `apt-get install python3-matplotlib`).

    plot_curves.py --vae-log RUN/vae/vae_log.json --t2i-log RUN/t2i/transformer_log.json \
        [--t2i-log-noflip RUN/t2i_noflip/transformer_log.json] --out docs/training
Writes OUT/vae_curves.png (reconstruction loss and PSNR) and OUT/transformer_curves.png (loss and
bit accuracy of the last scale), smoothed with a moving average."""
import argparse
import json
import os

import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def smooth(y, n=25):
    y = np.asarray(y, dtype=np.float64)
    if len(y) < n:
        return y
    k = np.ones(n) / n
    return np.convolve(np.pad(y, (n // 2, n - 1 - n // 2), mode='edge'), k, mode='valid')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vae-log', nargs='*', help='VAE logs of consecutive phases')
    ap.add_argument('--t2i-log', nargs='*', help='transformer logs of consecutive stages')
    ap.add_argument('--t2i-log-noflip', nargs='*')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.vae_log:
        log, offset, starts = [], 0, []
        for path in a.vae_log:  # consecutive phases: steps continue
            part = json.load(open(path))
            starts.append(offset)
            log += [dict(r, step=r['step'] + offset) for r in part]
            offset = log[-1]['step'] + 1
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
        for full, lab in ((False, 'random crops'), (True, 'whole scenes')):
            e = [r for r in log if r.get('full', False) == full]
            if e:
                ax[0].plot([r['step'] for r in e], smooth([r['l1'] + r['mse'] for r in e]), label=lab)
                ax[1].plot([r['step'] for r in e], smooth([r['psnr'] for r in e]), label=lab)
        for x in ax:
            for k, st in enumerate(starts[1:]):  # phase boundaries (B adds the object weighting)
                x.axvline(st, color='grey', ls=':', lw=1)
                x.text(st, 1, ' phase ' + 'ABCDEF'[k + 1], transform=x.get_xaxis_transform(), va='top', fontsize=8)
        ax[0].set_yscale('log'), ax[0].set_title('BSQ-VAE: L1 + MSE (train batch, object-weighted)')
        ax[0].set_xlabel('step')
        ax[1].set_title('BSQ-VAE: PSNR dB (train batch, all scales)'), ax[1].set_xlabel('step')
        for x in ax:
            x.grid(alpha=.3), x.legend()
        fig.tight_layout(), fig.savefig(os.path.join(a.out, 'vae_curves.png'), dpi=90), plt.close(fig)
    if a.t2i_log:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
        runs = [(a.t2i_log, 'self-correction on (flip 0.3)')]
        if a.t2i_log_noflip:
            runs.append((a.t2i_log_noflip, 'self-correction off'))
        for paths, lab in runs:
            log, offset = [], 0
            for path in paths:  # consecutive stages: steps continue
                part = json.load(open(path))
                log += [dict(r, step=r['step'] + offset) for r in part]
                offset = log[-1]['step'] + 1
            steps = [r['step'] for r in log]
            ax[0].plot(steps, smooth([r['loss'] for r in log], 50), label=lab)
            ax[1].plot(steps, smooth([np.mean(r['bit_acc']) for r in log], 50), label=lab + ' (mean of scales)')
        ax[0].set_title('transformer + T5: weighted bit CE (train)'), ax[0].set_xlabel('step')
        ax[1].set_title('bit accuracy, teacher-forced (train)'), ax[1].set_xlabel('step')
        for x in ax:
            x.grid(alpha=.3), x.legend(fontsize=8)
        fig.tight_layout(), fig.savefig(os.path.join(a.out, 'transformer_curves.png'), dpi=90), plt.close(fig)


if __name__ == '__main__':
    main()
