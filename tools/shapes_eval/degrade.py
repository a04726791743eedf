#!/usr/bin/python3
"""Degradations that imitate a generator's output (blur, compression, colour drift, low detail),
used by check_detector.py to show the detector survives them. numpy only; uint8 HxWx3 in and out.
"""
import math

import numpy as np


def _to_uint8(image):
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def gaussian_blur(image, sigma):
    """Separable Gaussian blur with edge replication."""
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image.astype(np.float32)
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in range(3)], mode="edge")
        length = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(k, k + length), axis=axis) for k, w in enumerate(taps))
    return _to_uint8(out)


def colour_shift(image, rng, offset=12, gain=0.1):
    """Per-channel offset in [-offset, offset] and a global gain in [1 - gain, 1 + gain]."""
    shifted = image.astype(np.float32) * rng.uniform(1 - gain, 1 + gain) + rng.uniform(-offset, offset, 3)
    return _to_uint8(shifted)


def add_noise(image, rng, sigma):
    return _to_uint8(image.astype(np.float32) + rng.normal(0, sigma, image.shape))


def down_up(image, factor=2):
    """Averages factor x factor blocks, then scales back up bilinearly: detail lost, size kept."""
    height, width, _ = image.shape
    small = image.astype(np.float32).reshape(height // factor, factor, width // factor, factor, 3).mean(axis=(1, 3))

    def resample(values, length, axis):
        source = (np.arange(length) + 0.5) / factor - 0.5
        low = np.clip(np.floor(source).astype(int), 0, values.shape[axis] - 1)
        high = np.clip(low + 1, 0, values.shape[axis] - 1)
        weight = np.clip(source - np.floor(source), 0, 1)
        shape = [1, 1, 1]
        shape[axis] = length
        weight = weight.reshape(shape)
        return np.take(values, low, axis=axis) * (1 - weight) + np.take(values, high, axis=axis) * weight

    return _to_uint8(resample(resample(small, height, 0), width, 1))


# JPEG-like compression: YCbCr, 2x2 chroma subsampling, 8x8 DCT, the baseline quantisation tables
# (ITU T.81 Annex K) scaled by quality as libjpeg does. No entropy coding: it changes nothing.
_LUMA_TABLE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float32).reshape(8, 8)
_CHROMA_TABLE = np.full((8, 8), 99, np.float32)
_CHROMA_TABLE[:4, :4] = np.array([17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99]).reshape(4, 4)


def _dct_matrix():
    k = np.arange(8)[:, None]
    n = np.arange(8)[None, :]
    matrix = np.cos(math.pi * (2 * n + 1) * k / 16) * math.sqrt(2 / 8)
    matrix[0] /= math.sqrt(2)
    return matrix.astype(np.float32)


_DCT = _dct_matrix()


def _quantise_plane(plane, table):
    height, width = plane.shape
    blocks = (plane - 128).reshape(height // 8, 8, width // 8, 8).transpose(0, 2, 1, 3)
    coefficients = _DCT @ blocks @ _DCT.T
    coefficients = np.round(coefficients / table) * table
    blocks = _DCT.T @ coefficients @ _DCT
    return blocks.transpose(0, 2, 1, 3).reshape(height, width) + 128


def jpeg_like(image, quality=60):
    """Blockwise DCT quantisation at a JPEG quality (sides must be multiples of 16)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    luma_table = np.clip(np.floor((_LUMA_TABLE * scale + 50) / 100), 1, 255)
    chroma_table = np.clip(np.floor((_CHROMA_TABLE * scale + 50) / 100), 1, 255)
    rgb = image.astype(np.float32)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    cb = 128 - 0.168736 * rgb[..., 0] - 0.331264 * rgb[..., 1] + 0.5 * rgb[..., 2]
    cr = 128 + 0.5 * rgb[..., 0] - 0.418688 * rgb[..., 1] - 0.081312 * rgb[..., 2]
    height, width = y.shape
    y = _quantise_plane(y, luma_table)
    chroma = []
    for plane in (cb, cr):
        small = plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        small = _quantise_plane(small, chroma_table)
        chroma.append(np.repeat(np.repeat(small, 2, axis=0), 2, axis=1))
    cb, cr = chroma
    out = np.stack([y + 1.402 * (cr - 128),
                    y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                    y + 1.772 * (cb - 128)], axis=-1)
    return _to_uint8(out)
