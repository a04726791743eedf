#!/usr/bin/python3
"""Checks the PyTorch training modules against the official reference's golden files.

For every golden file (tests/data/golden/*.safetensors) of a known kind, the weights are
loaded under their official names into our module with strict key-set equality, the recorded
inputs are fed, and every recorded intermediate/output is compared:

  infinity-transformer  Infinity.generate, teacher-forced with input.bits.s{k}: pooled_cond,
                        ca_src, shared_ada, scale_input, block_out, logits (cond, uncond,
                        mixed), word_embed_in, summed_codes, RoPE table; plus the training
                        forward (all scales at once with the block-causal mask) against the
                        recorded cond logits.
  bsq-vae               encoder features, quantizer bits (exact) and summed codes, decoder
                        output (clamped and raw), decoder-only case.
  t5-encoder            last_hidden_state of every prompt (unpadded), plus one padded batch.

Pass rule per tensor (as the C++ golden runner): relative error max|err| / max|ref| <= 1e-5,
or max|err| <= 4 x the file's recorded fp32-vs-fp64 error; bits and integer tensors exact.
Prints a table and exits 1 on any failure.

    /usr/bin/python3 tools/train/golden_check.py [files...]
"""
import glob
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import (read_safetensors, load_strict, infinity_config_from_weights,  # noqa: E402
                    vae_config_from_weights, t5_config_from_weights)
from infinity_model import Infinity, Schedule, pad_text, rope_table, rope_positions  # noqa: E402
from bsq_vae import BsqVae, bits_to_codes, bilinear_resize  # noqa: E402
from t5_encoder import T5Encoder  # noqa: E402

REL_TOL = 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Table:
    def __init__(self):
        self.rows = []

    def add(self, file, name, got, ref, fp64_err=None, exact=False, train=False):
        got = got.detach().float().cpu().reshape(ref.shape) if got.numel() == ref.numel() else got
        ref_f = ref.float()
        if got.shape != ref_f.shape:
            self.rows.append((file, name, float('nan'), float('nan'), False, f'shape {tuple(got.shape)}'))
            return
        err = (got.float() - ref_f).abs().max().item() if ref.numel() else 0.0
        peak = ref_f.abs().max().item() if ref.numel() else 0.0
        rel = err / peak if peak > 0 else err
        if exact:
            ok = err == 0.0
            note = 'exact' if ok else f'{int((got.float() != ref_f).sum())} differ'
        else:
            noise_ok = fp64_err is not None and err <= 4 * fp64_err
            ok = rel <= REL_TOL or noise_ok
            note = 'training forward' if train else ''
            if ok and rel > REL_TOL:
                note += ' (within 4x the reference fp32-vs-fp64 error)'
        self.rows.append((file, name, err, rel, ok, note))

    def print(self):
        print(f'{"file":<22} {"tensor":<28} {"max abs err":>12} {"rel err":>10}  result')
        for f, n, e, r, ok, note in self.rows:
            print(f'{f:<22} {n:<28} {e:12.3e} {r:10.2e}  {"ok" if ok else "FAIL"} {note}')
        bad = [r for r in self.rows if not r[4]]
        print(f'\n{len(self.rows) - len(bad)}/{len(self.rows)} tensors pass')
        return not bad


def _group(name):
    """Collapse per-scale names for a compact summary: logits_cond.s3 -> logits_cond.s*."""
    import re
    return re.sub(r'\.s\d+', '.s*', re.sub(r'\.b\d+', '.b*', re.sub(r'\.p\d+', '.p*', name)))


def check_transformer(path, tensors, meta, table: Table):
    fname = os.path.basename(path).replace('.safetensors', '')
    cfgj = json.loads(meta['config'])
    fp64 = json.loads(meta.get('fp32_vs_fp64_max_abs_err', '{}'))
    assert not cfgj.get('apply_spatial_patchify'), 'patchified goldens are not supported'
    w = {k[len('weight.'):]: v for k, v in tensors.items() if k.startswith('weight.')}
    model = load_strict(Infinity(infinity_config_from_weights(w)), w).eval()
    sched = Schedule([tuple(g) for g in cfgj['schedule']], tuple(cfgj['rope_final_grid_1M']))
    lens = tensors['input.text_lens'].long()
    text = pad_text(tensors['input.text_features'], lens.tolist())
    K = len(sched.grids)
    forced = [tensors[f'input.bits.s{k}'] for k in range(K)]
    trace = {}
    with torch.no_grad():
        model.generate(text, lens, sched, cfg=cfgj['cfg'], tau=cfgj['tau'], top_k=cfgj['top_k'],
                       top_p=cfgj['top_p'], forced_bits=forced, trace=trace)
    worst = {}
    for key in sorted(tensors):
        if not key.startswith('expect.') or key.startswith('expect.rope'):
            continue
        name = key[len('expect.'):]
        table_rows_before = len(table.rows)
        table.add(fname, name, trace[name], tensors[key], fp64.get(key))
        # keep the table short: one row per tensor family, the worst one
        row = table.rows.pop()
        g = _group(name)
        if g not in worst or (not row[4]) or (worst[g][4] and row[3] > worst[g][3]):
            if g not in worst or worst[g][4]:
                worst[g] = (row[0], g, row[2], row[3], row[4], row[5])
    table.rows.extend(worst.values())
    # RoPE table and positions
    cos, sin = rope_table(sched, model.head_dim, model.cfg.rope_theta)
    table.add(fname, 'rope_pos', rope_positions(sched), tensors['expect.rope_pos'], exact=True)
    table.add(fname, 'rope_cos/sin', torch.stack([cos, sin]),
              torch.stack([tensors['expect.rope_cos'], tensors['expect.rope_sin']]))
    # training forward: teacher-forced sequence from the same bits, cond half only
    with torch.no_grad():
        HL, WL = sched.grids[-1]
        summed = torch.zeros(lens.shape[0], model.d, HL, WL)
        xs = []
        for k, (h, w_) in enumerate(sched.grids[:-1]):
            summed = summed + bilinear_resize(bits_to_codes(forced[k], h, w_), (HL, WL))
            xs.append(bilinear_resize(summed, sched.grids[k + 1]).flatten(2).transpose(1, 2))
        logits = model(text, lens, torch.cat(xs, 1), sched)
    ref = torch.cat([tensors[f'expect.logits_cond.s{k}'] for k in range(K)], 1)
    errs = max(fp64.get(f'expect.logits_cond.s{k}', 0) for k in range(K))
    table.add(fname, 'logits_cond (train fwd)', logits, ref, errs, train=True)


def check_vae(path, tensors, meta, table: Table):
    fname = os.path.basename(path).replace('.safetensors', '')
    cfgj = json.loads(meta['config'])
    fp64 = json.loads(meta.get('fp32_vs_fp64_max_abs_err', '{}'))
    w = {k[len('weight.'):]: v for k, v in tensors.items() if k.startswith('weight.')}
    vae = load_strict(BsqVae(vae_config_from_weights(w)), w, ignore_prefixes=('quantize.',)).eval()
    grids = [tuple(g) for g in cfgj['schedule']]
    with torch.no_grad():
        z = vae.encode(tensors['input.image'])
        table.add(fname, 'encoder_features', z, tensors['expect.encoder_features'],
                  fp64.get('expect.encoder_features'))
        bits, summed = vae.quantizer.quantize(tensors['expect.encoder_features'], grids)
        for k, b in enumerate(bits):
            table.add(fname, f'bits.s{k}', b, tensors[f'expect.bits.s{k}'], exact=True)
        table.add(fname, 'summed_codes', summed, tensors['expect.summed_codes'])
        # also from our own encoder output (bits must survive fp32 noise)
        bits2, _ = vae.quantizer.quantize(z, grids)
        table.add(fname, 'bits (own encoder)', torch.cat([b.flatten() for b in bits2]),
                  torch.cat([tensors[f'expect.bits.s{k}'].flatten() for k in range(len(grids))]), exact=True)
        raw = vae.decode(tensors['expect.summed_codes'], clamp=False)
        table.add(fname, 'decoded_noclamp', raw, tensors['expect.decoded_noclamp'], fp64.get('expect.decoded_noclamp'))
        table.add(fname, 'decoded', raw.clamp(-1, 1), tensors['expect.decoded'], fp64.get('expect.decoded_noclamp'))
        dbits = [tensors[f'input.decoder_bits.s{k}'] for k in range(len(grids))]
        H, W = grids[-1]
        latent = sum(bilinear_resize(bits_to_codes(b, h, w_), (H, W)) for b, (h, w_) in zip(dbits, grids))
        table.add(fname, 'decoder_latent', latent, tensors['input.decoder_latent'])
        out = vae.decode(tensors['input.decoder_latent'], clamp=False)
        table.add(fname, 'decoder_out_noclamp', out, tensors['expect.decoder_out_noclamp'],
                  fp64.get('expect.decoder_out_noclamp'))
        table.add(fname, 'decoder_out', out.clamp(-1, 1), tensors['expect.decoder_out'],
                  fp64.get('expect.decoder_out_noclamp'))


def check_t5(path, tensors, meta, table: Table):
    fname = os.path.basename(path).replace('.safetensors', '')
    cfgj = json.loads(meta['config'])
    fp64 = json.loads(meta.get('fp32_vs_fp64_max_abs_err', '{}'))
    w = {k[len('weight.'):]: v for k, v in tensors.items() if k.startswith('weight.')}
    t5 = load_strict(T5Encoder(t5_config_from_weights(w, cfgj.get('relative_attention_max_distance', 128))), w).eval()
    n = len([k for k in tensors if k.startswith('input.ids.p')])
    worst = None
    ids_all, outs = [], []
    with torch.no_grad():
        for i in range(n):
            ids = tensors[f'input.ids.p{i}'].long()
            ref = tensors[f'expect.features.p{i}']
            got = t5(ids[None])[0]
            table.add(fname, f'features.p{i}', got, ref, fp64.get(f'expect.features.p{i}'))
            row = table.rows.pop()
            if worst is None or not row[4] or (worst[4] and row[3] > worst[3]):
                if worst is None or worst[4]:
                    worst = (row[0], f'features.p* ({n} prompts)', row[2], row[3], row[4], row[5])
            ids_all.append(ids)
            outs.append(ref)
        table.rows.append(worst)
        # one padded batch with lengths (the training path)
        sel = [i for i in range(n) if ids_all[i].numel() <= 64][:8]
        L = max(ids_all[i].numel() for i in sel)
        batch = torch.zeros(len(sel), L, dtype=torch.long)
        lens = torch.tensor([ids_all[i].numel() for i in sel])
        for r, i in enumerate(sel):
            batch[r, :lens[r]] = ids_all[i]
        got = t5(batch, lens)
        got = torch.cat([got[r, :lens[r]] for r in range(len(sel))])
        ref = torch.cat([outs[i] for i in sel])
        table.add(fname, f'features, padded batch of {len(sel)}', got, ref, 3e-6)


def main(argv):
    torch.set_num_threads(1)
    files = argv[1:] or sorted(glob.glob(os.path.join(ROOT, 'tests/data/golden/*.safetensors')))
    table = Table()
    for path in files:
        tensors, meta = read_safetensors(path)
        kind = meta.get('kind')
        if kind == 'infinity-transformer':
            check_transformer(path, tensors, meta, table)
        elif kind == 'bsq-vae':
            check_vae(path, tensors, meta, table)
        elif kind == 't5-encoder':
            check_t5(path, tensors, meta, table)
        else:
            print(f'{path}: unknown kind {kind!r}, skipped')
    ok = table.print()
    print('golden check', 'PASSED' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
