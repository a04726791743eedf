#!/usr/bin/python3
"""Safetensors I/O and export of the three networks under the official names (f32).

  write_safetensors(path, tensors, metadata)   a small writer of our own (no dependency):
                                               8-byte LE header length, JSON header, raw bytes
  read_safetensors(path) -> (tensors, metadata)
  export_infinity / export_vae / export_t5     state_dict() -> f32 safetensors (integer
                                               buffers such as quantizer.lfq.mask keep their
                                               dtype), with a JSON config in the metadata
  load_infinity / load_vae / load_t5           rebuild a module from such a file (config read
                                               off the tensor shapes, as the C++ loaders do)

Run it to test: exports random small models, reloads them, and checks that the keys, the
tensors and a forward pass are identical:  /usr/bin/python3 tools/train/export.py
"""
import json
import math
import os
import struct
import sys
import tempfile
from dataclasses import asdict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infinity_model import Infinity, InfinityConfig, template_schedule  # noqa: E402
from bsq_vae import BsqVae, VaeConfig  # noqa: E402
from t5_encoder import T5Encoder, T5Config  # noqa: E402

_DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
           torch.int32: 'I32', torch.uint8: 'U8', torch.float64: 'F64'}
_NP = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8, 'F64': np.float64}


def write_safetensors(path, tensors: dict, metadata: dict = None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dtype = _DTYPES[t.dtype]
        raw = (t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes())
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * (-len(h) % 8)  # align the data section to 8 bytes
    tmp = str(path) + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for name, e in header.items():
        a, b = e['data_offsets']
        if e['dtype'] == 'BF16':
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype=_NP[e['dtype']]).copy())
        out[name] = t.reshape(e['shape'])
    return out, meta


def _f32_state(module):
    return {k: (v.float() if v.is_floating_point() else v) for k, v in module.state_dict().items()}


def export_infinity(model: Infinity, path, extra_meta: dict = None):
    meta = {'kind': 'infinity-transformer', 'config': json.dumps(asdict(model.cfg))}
    meta.update(extra_meta or {})
    write_safetensors(path, _f32_state(model), meta)


def export_vae(vae: BsqVae, path, extra_meta: dict = None):
    cfg = asdict(vae.cfg)
    cfg['ch_mult'] = list(cfg['ch_mult'])
    meta = {'kind': 'bsq-vae', 'config': json.dumps(cfg)}
    meta.update(extra_meta or {})
    write_safetensors(path, _f32_state(vae), meta)


def export_t5(t5: T5Encoder, path, extra_meta: dict = None):
    meta = {'kind': 't5-encoder', 'config': json.dumps(asdict(t5.cfg))}
    meta.update(extra_meta or {})
    write_safetensors(path, _f32_state(t5), meta)


# ---- config from weights (what the C++ from_weights functions read) --------------------------

def infinity_config_from_weights(w: dict) -> InfinityConfig:
    chunks = {int(k.split('.')[1]) for k in w if k.startswith('block_chunks.')}
    if chunks:
        per = len({int(k.split('.')[3]) for k in w if k.startswith('block_chunks.0.module.')})
        depth, block_chunks, first = len(chunks) * per, len(chunks), 'block_chunks.0.module.0.'
    else:
        depth = len({int(k.split('.')[1]) for k in w if k.startswith('blocks.')})
        block_chunks, first = 1, 'blocks.0.'
    return InfinityConfig(depth=depth, embed_dim=w['pos_start'].shape[2],
                          num_heads=w[first + 'sa.scale_mul_1H11'].shape[1], bits=w['word_embed.weight'].shape[1],
                          text_channels=w['text_norm.weight'].shape[0], text_maxlen=w['cfg_uncond'].shape[0],
                          mlp_hidden=w[first + 'ffn.fc1.weight'].shape[0], block_chunks=block_chunks,
                          pool_heads=w['text_proj_for_sos.ca.mat_q'].shape[1],
                          scale_levels=w['lvl_embed.weight'].shape[0])


def vae_config_from_weights(w: dict) -> VaeConfig:
    w = {k: v for k, v in w.items() if not k.startswith('quantize.')}
    bits = w['decoder.conv_in.conv.weight'].shape[1]
    levels = len({int(k.split('.')[2]) for k in w if k.startswith('decoder.up.')})
    widths = [w[f'decoder.up.{l}.block.0.conv1.conv.weight'].shape[0] for l in range(levels)]
    # base = the encoder's conv_in width (ch_mult[0] may be > 1); decoder-only: the widths' gcd
    base = w['encoder.conv_in.conv.weight'].shape[0] if 'encoder.conv_in.conv.weight' in w else math.gcd(*widths)
    ch_mult = tuple(c // base for c in widths)
    dec_blocks = len({int(k.split('.')[4]) for k in w if k.startswith('decoder.up.0.block.')})
    ups = sum(1 for l in range(levels) if f'decoder.up.{l}.upsample.conv.conv.weight' in w)
    return VaeConfig(bits=bits, base_ch=base, ch_mult=ch_mult, num_res_blocks=dec_blocks - 1, patch=2 ** ups,
                     encoder='encoder.conv_in.conv.weight' in w)


def t5_config_from_weights(w: dict, max_distance: int = 128) -> T5Config:
    emb = w.get('shared.weight', w.get('encoder.embed_tokens.weight'))
    bias = w['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight']
    layers = len({int(k.split('.')[2]) for k in w if k.startswith('encoder.block.')})
    heads = bias.shape[1]
    return T5Config(vocab_size=emb.shape[0], d_model=emb.shape[1],
                    d_kv=w['encoder.block.0.layer.0.SelfAttention.q.weight'].shape[0] // heads, num_heads=heads,
                    d_ff=w['encoder.block.0.layer.1.DenseReluDense.wi_0.weight'].shape[0], num_layers=layers,
                    relative_attention_num_buckets=bias.shape[0], relative_attention_max_distance=max_distance)


def load_strict(module: torch.nn.Module, w: dict, ignore_prefixes=()):
    """Load with exact key-set equality (apart from ignored alias prefixes); returns module."""
    w = {k: v for k, v in w.items() if not any(k.startswith(p) for p in ignore_prefixes)}
    if 'encoder.embed_tokens.weight' in w and 'shared.weight' not in w:
        w['shared.weight'] = w.pop('encoder.embed_tokens.weight')
    w.pop('encoder.embed_tokens.weight', None)
    mine = set(module.state_dict().keys())
    theirs = set(w.keys())
    if mine != theirs:
        raise KeyError(f'key mismatch: missing {sorted(mine - theirs)[:10]}, unexpected {sorted(theirs - mine)[:10]}')
    module.load_state_dict(w, strict=True)
    return module


def load_infinity(path) -> Infinity:
    w, _ = read_safetensors(path)
    return load_strict(Infinity(infinity_config_from_weights(w)), w).eval()


def load_vae(path) -> BsqVae:
    w, _ = read_safetensors(path)
    return load_strict(BsqVae(vae_config_from_weights(w)), w, ignore_prefixes=('quantize.',)).eval()


def load_t5(path) -> T5Encoder:
    w, _ = read_safetensors(path)
    return load_strict(T5Encoder(t5_config_from_weights(w)), w).eval()


# ---- self test ---------------------------------------------------------------------------------

def _selftest():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # transformer, chunked and flat
        for chunks in (2, 1):
            cfg = InfinityConfig(depth=2, embed_dim=64, num_heads=2, bits=8, text_channels=128, text_maxlen=8,
                                 block_chunks=chunks)
            m = Infinity(cfg).init_weights().eval()
            p = os.path.join(tmp, f'inf{chunks}.safetensors')
            export_infinity(m, p)
            r = load_infinity(p)
            sched = template_schedule(1.0, '0.06M')
            sched.grids = sched.grids[:4]
            text = torch.randn(2, 5, 128)
            lens = torch.tensor([3, 5])
            b1, s1 = m.generate(text, lens, sched, cfg=3.0, tau=1.0, seed=7)
            b2, s2 = r.generate(text, lens, sched, cfg=3.0, tau=1.0, seed=7)
            same = all(torch.equal(a, b) for a, b in zip(b1, b2)) and torch.equal(s1, s2)
            keys = sorted(m.state_dict()) == sorted(read_safetensors(p)[0])
            prefix = 'block_chunks.1.module.0.' if chunks > 1 else 'blocks.1.'
            named = any(k.startswith(prefix) for k in read_safetensors(p)[0])
            print(f'infinity block_chunks={chunks}: keys {keys}, block names {named}, generate identical {same}')
            ok &= keys and same and named
        # VAE
        vcfg = VaeConfig(bits=8, base_ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, patch=4)
        v = BsqVae(vcfg).eval()
        p = os.path.join(tmp, 'vae.safetensors')
        export_vae(v, p)
        rv = load_vae(p)
        w, _ = read_safetensors(p)
        img = torch.rand(1, 3, 32, 32) * 2 - 1
        grids = [(1, 1), (2, 2), (4, 4), (8, 8)]
        b1, s1 = v.tokenize(img, grids)
        b2, s2 = rv.tokenize(img, grids)
        same = all(torch.equal(a, b) for a, b in zip(b1, b2)) and torch.equal(v.decode(s1), rv.decode(s2))
        mask_ok = w['quantizer.lfq.mask'].dtype == torch.int64 and w['quantizer.lfq.mask'][0].item() == 128
        print(f'vae: config {vae_config_from_weights(w) == vcfg}, mask i64 {mask_ok}, round trip {same}')
        ok &= same and mask_ok and vae_config_from_weights(w) == vcfg
        # T5
        tcfg = T5Config(vocab_size=100, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2)
        t = T5Encoder(tcfg).init_weights().eval()
        p = os.path.join(tmp, 't5.safetensors')
        export_t5(t, p)
        rt = load_t5(p)
        ids = torch.randint(0, 100, (2, 6))
        same = torch.equal(t(ids), rt(ids))
        print(f't5: config {t5_config_from_weights(read_safetensors(p)[0]) == tcfg}, round trip {same}')
        ok &= same
        # writer against the safetensors package when it is installed
        try:
            from safetensors.torch import load_file
            ref = load_file(p)
            mine, _ = read_safetensors(p)
            same = set(ref) == set(mine) and all(torch.equal(ref[k], mine[k]) for k in ref)
            print(f'safetensors package reads our file: {same}')
            ok &= same
        except ImportError:
            print('safetensors package not installed; skipped the cross-read')
    print('export self-test', 'PASSED' if ok else 'FAILED')
    return ok


if __name__ == '__main__':
    sys.exit(0 if _selftest() else 1)
