#!/usr/bin/python3
"""Writes the PyTorch-checkpoint fixtures that tests/test_pth_reader.cpp reads.

Run with Debian's system python, which has torch installed:
    /usr/bin/python3 tools/make_torch_fixtures.py

Good fixtures go to tests/data/pth/, each with a companion <name>.expected.safetensors that
holds the same tensors, made contiguous, under their flattened names (and the non-tensor
leaves as __metadata__ text), written by hand so no safetensors package is needed. Malformed
and malicious files go to tests/data/bad/pth_*.pth; the good fixtures are also copied to the
fuzzer's seed corpus. Output is deterministic: fixed seeds, fixed zip timestamps, and torch.save
itself writes no timestamps.
"""

import collections
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import zlib
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD_DIR = os.path.join(ROOT, "tests", "data", "pth")
BAD_DIR = os.path.join(ROOT, "tests", "data", "bad")
CORPUS_DIR = os.path.join(ROOT, "tests", "fuzz", "corpus", "pth")

SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.bfloat16: "BF16",
    torch.float16: "F16",
    torch.uint8: "U8",
    torch.int32: "I32",
    torch.int64: "I64",
}


# ----------------------------------------------------------------------------------------------
# Good fixtures


def plain_state_dict():
    gen = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["encoder.weight"] = torch.randn(4, 3, generator=gen)
    sd["encoder.bias"] = torch.randn(7, generator=gen)
    sd["block.conv.weight"] = torch.randn(2, 3, 5, generator=gen)
    sd["norm.weight_bf16"] = torch.randn(3, 4, generator=gen).to(torch.bfloat16)
    sd["norm.weight_f16"] = torch.randn(5, generator=gen).to(torch.float16)
    sd["quantizer.lfq.mask"] = 2 ** torch.arange(6, dtype=torch.int64)
    sd["pixels_u8"] = torch.randint(0, 256, (8,), generator=gen, dtype=torch.uint8)
    sd["counts_i32"] = torch.tensor([[1, -2], [300000, -400000]], dtype=torch.int32)
    sd["transposed"] = torch.randn(3, 5, generator=gen).t()  # strides (1, 5)
    shared = torch.randn(10, generator=gen)
    sd["shared.full"] = shared
    sd["shared.slice"] = shared[3:8]  # same storage, storage_offset 3
    sd["shared.every_other"] = shared[1::2]  # stride 2
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=gen))
    return sd


def nested_vae():
    gen = torch.Generator().manual_seed(42)
    vae = {
        "encoder.conv_in.weight": torch.randn(3, 2, 1, 1, generator=gen),
        "encoder.conv_in.bias": torch.randn(3, generator=gen),
        "decoder.norm_out.weight": torch.randn(3, generator=gen).to(torch.bfloat16),
    }
    # A module's state_dict carries _metadata, which torch pickles through BUILD.
    torch.manual_seed(7)
    ema = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LayerNorm(3)).state_dict()
    return {"vae": vae, "ema": ema, "epoch": 3, "note": "hi", "betas": (0.9, 0.999), "done": True, "best": None}


def trainer_nested():
    gen = torch.Generator().manual_seed(99)
    gpt = collections.OrderedDict()
    gpt["blocks.0.attn.proj.weight"] = torch.randn(4, 4, generator=gen).to(torch.bfloat16)
    gpt["blocks.0.attn.proj.bias"] = torch.randn(4, generator=gen)
    gpt["word_embed.weight"] = torch.randn(6, 4, generator=gen).to(torch.float16)
    return {
        "trainer": {"gpt_fsdp": gpt, "step": 1000},
        "args_lr": 0.5,
        "milestones": [1, 2],
        "extra": [torch.arange(3, dtype=torch.int32), torch.ones(2)],
        "by_index": {0: torch.full((2,), 7, dtype=torch.int64)},
    }


def flatten(obj, prefix, tensors, metadata):
    """The names read_pth gives: dict keys joined with '.', list items by index."""

    def join(key):
        return str(key) if not prefix else prefix + "." + str(key)

    if isinstance(obj, dict):
        for key, value in obj.items():
            flatten(value, join(key), tensors, metadata)
    elif isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
    elif isinstance(obj, (list, tuple)) and any(isinstance(x, (torch.Tensor, dict)) for x in obj):
        for index, value in enumerate(obj):
            flatten(value, join(index), tensors, metadata)
    elif isinstance(obj, (list, tuple)):
        metadata[prefix] = repr(obj)
    else:
        metadata[prefix] = str(obj)


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    header = {}
    data = bytearray()
    for name, t in tensors.items():
        raw = tensor_bytes(t)
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data area 8-byte aligned, as the safetensors writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


def write_good(name, obj, **save_args):
    path = os.path.join(GOOD_DIR, name + ".pth")
    torch.save(obj, path, **save_args)
    tensors, metadata = collections.OrderedDict(), collections.OrderedDict()
    flatten(obj, "", tensors, metadata)
    write_safetensors(os.path.join(GOOD_DIR, name + ".expected.safetensors"), tensors, metadata)
    shutil.copyfile(path, os.path.join(CORPUS_DIR, name + ".pth"))
    return path


# ----------------------------------------------------------------------------------------------
# Hand-made pickles and archives for the malformed cases


def op_unicode(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_int(value):
    return b"J" + struct.pack("<i", value)


PROTO2 = b"\x80\x02"
MARK, STOP, TUPLE, TUPLE1, REDUCE = b"(", b".", b"t", b"\x85", b"R"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, SETITEM, APPEND, NEWFALSE = b"}", b"]", b")", b"s", b"a", b"\x89"


def tensor_pickle(storage_numel, size, stride, storage_offset=0):
    """{'weight': _rebuild_tensor_v2(storage '0', offset, size, stride, False, OrderedDict())}"""
    pid = MARK + op_unicode("storage") + op_global("torch", "FloatStorage") + op_unicode("0") + op_unicode("cpu")
    pid += op_int(storage_numel) + TUPLE
    args = MARK + pid + b"Q" + op_int(storage_offset)
    args += MARK + b"".join(op_int(x) for x in size) + TUPLE
    args += MARK + b"".join(op_int(x) for x in stride) + TUPLE
    args += NEWFALSE + op_global("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE
    body = op_global("torch._utils", "_rebuild_tensor_v2") + args + REDUCE
    return PROTO2 + EMPTY_DICT + op_unicode("weight") + body + SETITEM + STOP


def write_archive(path, members, compress=zipfile.ZIP_STORED):
    """A zip in torch's layout: members is [(name under archive/, bytes)]."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            info = zipfile.ZipInfo("archive/" + name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            z.writestr(info, data)


def write_zip64_archive(path, members):
    """torch-style archive with every size and offset in ZIP64 form, as miniz writes files over
    4 GiB (zipfile only does this for files that big). members is [(name, bytes)]."""
    out = bytearray()
    central = bytearray()
    dos_date = 0x21  # 1980-01-01
    for name, data in members:
        raw_name = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, dos_date, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(raw_name), len(local_extra))
        out += raw_name + local_extra + data
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, dos_date, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(raw_name), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += raw_name + central_extra
    central_offset = len(out)
    out += central
    zip64_eocd_offset = len(out)
    count = len(members)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), central_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_eocd_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def write_zip64_fixture(source_name):
    with zipfile.ZipFile(os.path.join(GOOD_DIR, source_name + ".pth")) as z:
        members = [("archive/" + info.filename.split("/", 1)[1], z.read(info)) for info in z.infolist()]
    path = os.path.join(GOOD_DIR, "zip64_state_dict.pth")
    write_zip64_archive(path, members)
    with zipfile.ZipFile(path) as z:  # both readers accept it
        assert z.testzip() is None
    torch.load(path)
    shutil.copyfile(os.path.join(GOOD_DIR, source_name + ".expected.safetensors"),
                    os.path.join(GOOD_DIR, "zip64_state_dict.expected.safetensors"))
    shutil.copyfile(path, os.path.join(CORPUS_DIR, "zip64_state_dict.pth"))


def write_bad_pickle(name, pickle_bytes, storages=(), compress=zipfile.ZIP_STORED):
    members = [("data.pkl", pickle_bytes)] + [("data/%d" % i, s) for i, s in enumerate(storages)]
    members += [("version", b"3\n"), ("byteorder", b"little")]
    write_archive(os.path.join(BAD_DIR, name), members, compress)


def write_legacy(path, obj):
    """The pre-1.6 format, with its storage keys (memory addresses) made deterministic."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    stream = io.BytesIO(data)
    unpickler = lambda: pickle.Unpickler(stream)
    for _ in range(3):  # magic number, protocol version, sys info
        unpickler().load()
    for _ in pickletools.genops(stream):  # the object itself: skipped, not loaded
        pass
    for index, key in enumerate(unpickler().load()):
        data = data.replace(op_unicode(key), op_unicode(str(index)))
    with open(path, "wb") as f:
        f.write(data)
    torch.load(path)  # still a valid legacy checkpoint


def write_bad_files(plain_path):
    call = lambda module, name, arg: PROTO2 + op_global(module, name) + op_unicode(arg) + TUPLE1 + REDUCE + STOP
    write_bad_pickle("pth_os_system.pth", call("posix", "system", "echo pwned"))
    write_bad_pickle("pth_reduce_unknown_callable.pth", call("builtins", "eval", "1+1"))
    write_bad_pickle("pth_huge_memo_index.pth", PROTO2 + EMPTY_DICT + b"j\xff\xff\xff\xff" + STOP)
    # Nested lists far deeper than any state dict: 50000 lists appended into one another.
    depth = 50000
    deep = PROTO2 + EMPTY_DICT + op_unicode("a") + EMPTY_LIST * depth + APPEND * (depth - 1) + SETITEM + STOP
    write_bad_pickle("pth_deep_nesting.pth", deep)
    write_bad_pickle("pth_deep_marks.pth", PROTO2 + MARK * 5000 + STOP)
    write_bad_pickle("pth_long_int_overflow.pth", PROTO2 + b"\x8a\x09" + b"\x01" * 9 + STOP)

    floats = struct.pack("<4f", 1, 2, 3, 4)
    write_bad_pickle("pth_storage_out_of_range.pth", tensor_pickle(100, [100], [1]), [floats])
    write_bad_pickle("pth_view_out_of_range.pth", tensor_pickle(4, [2, 3], [3, 1]), [floats])
    write_bad_pickle("pth_expanded_view.pth", tensor_pickle(4, [3, 4], [0, 1]), [floats])
    write_bad_pickle("pth_negative_stride.pth", tensor_pickle(4, [4], [-1], storage_offset=3), [floats])
    write_bad_pickle("pth_compressed_entry.pth", tensor_pickle(4, [4], [1]), [floats], zipfile.ZIP_DEFLATED)

    with zipfile.ZipFile(plain_path) as z:
        members = [(info.filename.split("/", 1)[1], z.read(info)) for info in z.infolist()]
    pickle_bytes = dict(members)["data.pkl"]
    members = [(n, d[: len(d) // 2] if n == "data.pkl" else d) for n, d in members]
    write_archive(os.path.join(BAD_DIR, "pth_truncated_pickle.pth"), members)

    with open(plain_path, "rb") as f:
        whole = f.read()
    with open(os.path.join(BAD_DIR, "pth_truncated_zip.pth"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    assert len(pickle_bytes) > 100

    write_legacy(os.path.join(BAD_DIR, "pth_legacy_format.pth"), {"w": torch.ones(2)})
    torch.save([torch.ones(2), torch.zeros(3)], os.path.join(BAD_DIR, "pth_not_a_dict.pth"))
    torch.save({"w": torch.ones(3, dtype=torch.float64)}, os.path.join(BAD_DIR, "pth_double_dtype.pth"))
    open(os.path.join(BAD_DIR, "pth_empty.pth"), "wb").close()


def main():
    for directory in (GOOD_DIR, BAD_DIR, CORPUS_DIR):
        os.makedirs(directory, exist_ok=True)
    plain = write_good("plain_state_dict", plain_state_dict())
    write_good("nested_vae", nested_vae())
    write_good("trainer_nested", trainer_nested())
    # Protocol 4 is what Hugging Face's pytorch_model.bin files use: FRAME, MEMOIZE, STACK_GLOBAL.
    write_good("protocol4_state_dict", plain_state_dict(), pickle_protocol=4)
    write_zip64_fixture("trainer_nested")
    write_bad_files(plain)


if __name__ == "__main__":
    main()
