#!/usr/bin/python3
"""Quick self-test of the training code (about 10 s on one core):

  1. golden_check.py on the official golden files (numerics = the reference)
  2. export.py round trip (keys, dtypes, reload, identical outputs)
  3. Philox4x32-10 against the Random123 known answers (the C++ sampler's stream)
  4. bitwise self-correction: without flips its labels are the quantizer's bits and its inputs
     are the teacher-forcing inputs of the sampling loop; with flips, later labels follow the
     corrupted prefix (they re-quantise the residual against the flipped codes)
  5. training forward == sampling loop logits when the loop is teacher-forced with the labels
  6. gradients reach every parameter (T5 -> transformer, incl. cfg_uncond through dropout)

    /usr/bin/python3 tools/train/selftest.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

import golden_check  # noqa: E402
import export  # noqa: E402
from infinity_model import Infinity, InfinityConfig, Schedule, philox4x32_10  # noqa: E402
from bsq_vae import BsqVae, VaeConfig, bitwise_self_correction  # noqa: E402
from t5_encoder import T5Encoder, T5Config  # noqa: E402


def check(name, ok):
    print(f'{"ok  " if ok else "FAIL"} {name}')
    return bool(ok)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results = [check('golden_check (official goldens)', golden_check.main(['golden_check']) == 0)]
    results.append(check('export round trip', export._selftest()))

    def kat(c, k):
        return [int(x[0]) for x in philox4x32_10(*[[v] for v in c], seed=k[0] | (k[1] << 32))]
    results.append(check('philox known answers',
                         kat((0, 0, 0, 0), (0, 0)) == [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] and
                         kat((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0)) ==
                         [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]))

    grids = [(1, 1), (2, 2), (4, 4), (6, 6), (8, 8)]
    vae = BsqVae(VaeConfig(bits=16, base_ch=32, ch_mult=(1, 1, 2, 2, 2), num_res_blocks=1, patch=16)).eval()
    img = torch.rand(2, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        z = vae.encode(img)
    bits, summed = vae.quantizer.quantize(z, grids)
    gt, x_wo = bitwise_self_correction(z, grids, flip_strength=0.0)
    results.append(check('BSC without flips = quantizer bits', all(torch.equal(a, b) for a, b in zip(gt, bits))))
    # with flips: scale-0 labels are unchanged; later labels differ from the clean quantizer's
    gtf, x_f = bitwise_self_correction(z, grids, flip_strength=0.3, rng=np.random.default_rng(3),
                                       generator=torch.Generator().manual_seed(3))
    results.append(check('BSC with flips: first labels clean, later labels re-quantised',
                         torch.equal(gtf[0], gt[0]) and any(not torch.equal(a, b) for a, b in zip(gtf[1:], gt[1:]))))

    cfg = InfinityConfig(depth=2, embed_dim=64, num_heads=2, bits=16, text_channels=128, text_maxlen=8)
    model = Infinity(cfg).init_weights().eval()
    sched = Schedule(grids, (64, 64))
    text, lens = torch.randn(2, 6, 128), torch.tensor([4, 6])
    trace = {}
    with torch.no_grad():
        model.generate(text, lens, sched, cfg=1.0, tau=1.0, forced_bits=gt, trace=trace)
        logits = model(text, lens, x_wo, sched)
    ref = torch.cat([trace[f'logits_cond.s{k}'] for k in range(len(grids))], 1)
    err = (logits - ref).abs().max().item()
    results.append(check(f'training forward = teacher-forced sampling loop (max err {err:.1e})', err < 1e-5))

    t5 = T5Encoder(T5Config(vocab_size=64, d_model=128, d_kv=32, num_heads=4, d_ff=256, num_layers=2)).init_weights()
    model.train()
    ids = torch.randint(2, 64, (2, 6))
    feats = t5(ids, lens)
    out = model(feats, lens, x_wo, sched, drop=torch.tensor([True, False]))
    out.square().mean().backward()
    missing = [n for n, p in list(model.named_parameters()) + list(t5.named_parameters())
               if p.grad is None or not torch.isfinite(p.grad).all()]
    results.append(check(f'gradients reach every parameter {missing[:5] if missing else ""}', not missing))
    ok = all(results)
    print('selftest', 'PASSED' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
