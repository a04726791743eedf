#!/usr/bin/python3
"""Minimal PNG reading and writing with zlib, so the scene tools need nothing but numpy.

Writes 8-bit RGB (colour type 2). Reads the PNGs that image tools commonly write for
8-bit pictures: grey, grey+alpha, RGB, RGBA and palette, non-interlaced, bit depth 8
(16-bit files are read too and reduced to 8 bits). Alpha is dropped (composited over black
would change colours, so the colour channels are kept as they are).
"""
import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image):
    """uint8 HxWx3 array -> PNG bytes (filter type 0 on every row; zlib does the work)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected HxWx3 uint8, got {image.shape}")
    height, width, _ = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))


def write_png(path, image):
    with open(path, "wb") as handle:
        handle.write(encode_png(image))


def _paeth(left, up, up_left):
    estimate = left + up - up_left
    dist_left, dist_up, dist_ul = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if dist_left <= dist_up and dist_left <= dist_ul:
        return left
    return up if dist_up <= dist_ul else up_left


def _unfilter(raw, height, stride, bytes_per_pixel):
    """Undoes the per-row PNG filters; rows that use filter 0/1/2 stay vectorised."""
    out = np.zeros((height, stride), np.uint8)
    previous = np.zeros(stride, np.int32)
    position = 0
    for y in range(height):
        kind = raw[position]
        line = np.frombuffer(raw, np.uint8, stride, position + 1).astype(np.int32)
        position += stride + 1
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        elif kind in (1, 3, 4):
            row = line.copy()
            for x in range(stride):
                left = row[x - bytes_per_pixel] if x >= bytes_per_pixel else 0
                up = previous[x]
                up_left = previous[x - bytes_per_pixel] if x >= bytes_per_pixel else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) >> 1
                else:
                    predictor = _paeth(left, up, up_left)
                row[x] = (row[x] + predictor) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")
        out[y] = row
        previous = row
    return out


def decode_png(data):
    """PNG bytes -> uint8 HxWx3 array."""
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    position, idat, palette = 8, [], None
    width = height = depth = colour_type = None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        payload = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", payload)
            if interlace or depth not in (8, 16) or colour_type not in CHANNELS:
                raise ValueError("unsupported PNG (interlaced, or bit depth other than 8/16)")
        elif kind == b"PLTE":
            palette = np.frombuffer(payload, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(payload)
        elif kind == b"IEND":
            break
    channels = CHANNELS[colour_type]
    sample_bytes = depth // 8
    stride = width * channels * sample_bytes
    pixels = _unfilter(zlib.decompress(b"".join(idat)), height, stride, channels * sample_bytes)
    if depth == 16:
        pixels = pixels.reshape(height, -1, 2)[:, :, 0]  # keep the most significant byte
    pixels = pixels.reshape(height, width, channels)
    if colour_type == 3:
        return palette[pixels[:, :, 0]]
    if channels <= 2:
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def read_png(path):
    with open(path, "rb") as handle:
        return decode_png(handle.read())
