#!/usr/bin/env python3
"""Writes the safetensors test fixtures under tests/data/ (deterministic; run from anywhere).

Good files: a small single file, and a two-shard checkpoint with its
model.safetensors.index.json, in the layout Hugging Face and the official Infinity-8B use.
Bad files (tests/data/bad/st_*.safetensors, idx_*.json): one malformation each, for the
reader's clean-error tests and the CLI tests.

The format is simple enough to write by hand (8-byte little-endian header length, JSON
header, raw little-endian bytes), so no safetensors package is needed.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")


def header_bytes(header):
    text = json.dumps(header, separators=(",", ":")).encode()
    return text + b" " * ((8 - len(text) % 8) % 8)


def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header, offset, data = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = header_bytes(header)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def write(relative, content):
    path = os.path.join(ROOT, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(content)


def raw_file(header_text, data=b""):
    return struct.pack("<Q", len(header_text)) + header_text + data


def main():
    # A small file: known values so tests can check bytes, every supported dtype.
    small = [
        ("linear.weight", "F32", [2, 3], f32([1, 2, 3, 4, 5, 6])),
        ("linear.bias", "F32", [2], f32([0.5, -0.5])),
        ("embed.bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC000)),  # 1.0, -2.0
        ("embed.f16", "F16", [2], struct.pack("<2H", 0x3C00, 0x4200)),  # 1.0, 3.0
        ("mask.i64", "I64", [3], struct.pack("<3q", 1, -2, 1 << 40)),
        ("lens.i32", "I32", [2], struct.pack("<2i", 5, 11)),
        ("bits.u8", "U8", [4], bytes([0, 1, 1, 0])),
        ("scalar", "F32", [], f32([7.0])),
        ("empty", "F32", [0, 4], b""),
    ]
    write("st/small.safetensors", safetensors_bytes(small, {"kind": "test", "note": "hand-written"}))

    # Two shards and an index, as sharded Hugging Face / Infinity-8B checkpoints are laid out.
    shard1 = [("blocks.0.weight", "F32", [2, 2], f32([1, 2, 3, 4])), ("blocks.0.bias", "F32", [2], f32([9, 8]))]
    shard2 = [("blocks.1.weight", "F32", [3], f32([5, 6, 7]))]
    write("sharded/model-00001-of-00002.safetensors", safetensors_bytes(shard1))
    write("sharded/model-00002-of-00002.safetensors", safetensors_bytes(shard2))
    index = {"metadata": {"total_size": 36},
             "weight_map": {"blocks.0.weight": "model-00001-of-00002.safetensors",
                            "blocks.0.bias": "model-00001-of-00002.safetensors",
                            "blocks.1.weight": "model-00002-of-00002.safetensors"}}
    write("sharded/model.safetensors.index.json", json.dumps(index, indent=1).encode())

    good = safetensors_bytes([("w", "F32", [2, 2], f32([1, 2, 3, 4]))])
    bad = {
        "st_empty": b"",
        "st_short_length": b"\x10\x00\x00",
        "st_header_past_eof": struct.pack("<Q", 1000) + b'{"w":{}}',
        "st_absurd_header": struct.pack("<Q", 1 << 60) + b"{}",
        "st_invalid_json": raw_file(b'{"w": {"dtype": "F32", '),
        "st_json_not_object": raw_file(b"[1, 2, 3]"),
        "st_unknown_dtype": raw_file(b'{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "st_offsets_out_of_range": raw_file(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 8),
        "st_offsets_reversed": raw_file(b'{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}', b"\0" * 8),
        "st_size_mismatch": raw_file(b'{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}', b"\0" * 20),
        "st_overlap": raw_file(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                               b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', b"\0" * 12),
        "st_negative_dim": raw_file(b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'),
        "st_shape_overflow": raw_file(b'{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}}'),
        "st_deep_nesting": raw_file(b"[" * 100000 + b"]" * 100000),
        "st_metadata_not_string": raw_file(b'{"__metadata__":{"n":1}}'),
        "st_missing_offsets": raw_file(b'{"w":{"dtype":"F32","shape":[1]}}', b"\0" * 4),
        "st_truncated_data": good[:-5],
        "st_entry_not_object": raw_file(b'{"w":[1,2]}'),
    }
    for name, content in bad.items():
        write("bad/%s.safetensors" % name, content)

    # Broken indexes, next to the good shards they point at.
    broken_indexes = {
        "idx_path_traversal": {"weight_map": {"blocks.0.weight": "../st/small.safetensors"}},
        "idx_missing_tensor": {"weight_map": {"blocks.9.weight": "model-00001-of-00002.safetensors"}},
        "idx_missing_shard": {"weight_map": {"blocks.0.weight": "model-00009-of-00009.safetensors"}},
        "idx_no_weight_map": {"metadata": {}},
    }
    for name, content in broken_indexes.items():
        write("sharded/%s.json" % name, json.dumps(content).encode())
    write("sharded/idx_not_json.json", b"{ this is not json")


if __name__ == "__main__":
    main()
