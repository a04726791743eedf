#!/usr/bin/python3
"""Writes the image test fixtures (deterministic; run from anywhere with Debian's python3 + numpy).

Good files, tests/data/images/ (32x24, every pixel a known function of (x, y), so a test can
check exact values and catch transposed or flipped reads):
  rgb8.png         8-bit RGB         R = 8x, G = 10y, B = 3(x + y)
  rgba16.png       16-bit RGBA       R = 2000x, G = 2500y, B = 40000, A = 2114x (straight alpha)
  grey.png         8-bit grey        V = 8x
  grey_alpha.png   8-bit grey+alpha  V = 10y, A = 255 - 8x
  rgb.jpg          rgb8.png as JPEG quality 95 (lossy: tests compare loosely)
  rgb.tif          rgb8.png as 8-bit TIFF (lossless)
  linear.exr       half-float RGB, linear light: R = 4x/31 (up to 4.0, HDR), G = 0.18, B = y/23
  rgbaz.exr        linear.exr premultiplied by A = 0.5, channels R, G, B, A, Z (Z = 3.0)

Bad files, tests/data/bad/img_*: one problem each, for the reader's clean-error tests.

PNGs are assembled here with zlib (the format is a signature plus CRC'd chunks); JPEG, TIFF and
EXR go through oiiotool (openimageio-tools), so no codec is written by hand.
"""
import os
import struct
import subprocess
import zlib

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
IMAGES = os.path.join(ROOT, "images")
BAD = os.path.join(ROOT, "bad")
WIDTH, HEIGHT = 32, 24

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def ihdr(width, height, bits, channels):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, COLOR_TYPE[channels], 0, 0, 0))


def png_bytes(pixels):
    """pixels: uint8 or uint16 array [H, W, C]; rows are stored with filter type 0 (none)."""
    height, width, channels = pixels.shape
    bits = 16 if pixels.dtype == np.uint16 else 8
    raw = pixels.astype(">u2" if bits == 16 else "u1").reshape(height, -1).tobytes()
    row_bytes = len(raw) // height
    scanlines = b"".join(b"\x00" + raw[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    return (PNG_SIGNATURE + ihdr(width, height, bits, channels)
            + chunk(b"IDAT", zlib.compress(scanlines, 9)) + chunk(b"IEND", b""))


def write(path, data):
    with open(path, "wb") as out:
        out.write(data)


def oiiotool(source, *args):
    # No Software attribute and a fixed DateTime: the files depend on neither this machine nor
    # the clock, so rerunning the script changes nothing.
    subprocess.run(["oiiotool", "--nosoftwareattrib", source,
                    "--attrib", "DateTime", "2025:01:01 00:00:00", *args], check=True)


def good_files():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb8 = np.stack([8 * x, 10 * y, 3 * (x + y)], axis=-1).astype(np.uint8)
    write(os.path.join(IMAGES, "rgb8.png"), png_bytes(rgb8))

    rgba16 = np.stack([2000 * x, 2500 * y, np.full_like(x, 40000), 2114 * x], axis=-1).astype(np.uint16)
    write(os.path.join(IMAGES, "rgba16.png"), png_bytes(rgba16))

    write(os.path.join(IMAGES, "grey.png"), png_bytes((8 * x)[..., None].astype(np.uint8)))
    grey_alpha = np.stack([10 * y, 255 - 8 * x], axis=-1).astype(np.uint8)
    write(os.path.join(IMAGES, "grey_alpha.png"), png_bytes(grey_alpha))

    source = os.path.join(IMAGES, "rgb8.png")
    oiiotool(source, "--attrib", "Compression", "jpeg:95", "-o", os.path.join(IMAGES, "rgb.jpg"))
    oiiotool(source, "-d", "uint8", "-o", os.path.join(IMAGES, "rgb.tif"))

    # Float data reaches oiiotool as a PFM (rows bottom to top, negative scale = little-endian),
    # which it converts to a half-float EXR.
    linear = np.stack([4.0 * x / (WIDTH - 1), np.full(x.shape, 0.18), y / (HEIGHT - 1)], axis=-1)
    pfm = os.path.join(IMAGES, "linear.pfm")
    with open(pfm, "wb") as out:
        out.write(b"PF\n%d %d\n-1.0\n" % (WIDTH, HEIGHT))
        out.write(linear[::-1].astype("<f4").tobytes())
    try:
        oiiotool(pfm, "-d", "half", "--compression", "zip", "-o", os.path.join(IMAGES, "linear.exr"))
        # Five channels, premultiplied (EXR's rule) by a constant alpha of 0.5, plus depth.
        oiiotool(pfm, "--mulc", "0.5", "--ch", "R,G,B,A=0.5,Z=3.0", "-d", "half", "--compression", "zip",
                 "-o", os.path.join(IMAGES, "rgbaz.exr"))
    finally:
        os.remove(pfm)


def bad_files():
    # A valid PNG cut in the middle of its (incompressible, so large) IDAT chunk.
    noise = np.random.default_rng(7).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    whole = png_bytes(noise)
    write(os.path.join(BAD, "img_truncated.png"), whole[:len(whole) // 2])

    write(os.path.join(BAD, "img_not_an_image.png"), b"this is a text file with a .png extension\n")

    # Well-formed chunks (correct CRCs) around impossible or enormous dimensions: the first
    # must be refused by the decoder, the second by infinode's size limits before any
    # pixel buffer is allocated.
    small_idat = chunk(b"IDAT", zlib.compress(b"\x00" * 301))
    write(os.path.join(BAD, "img_zero_size.png"),
          PNG_SIGNATURE + ihdr(0, 0, 8, 3) + small_idat + chunk(b"IEND", b""))
    write(os.path.join(BAD, "img_huge_dims.png"),
          PNG_SIGNATURE + ihdr(100000, 100000, 8, 3) + small_idat + chunk(b"IEND", b""))


def main():
    os.makedirs(IMAGES, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    good_files()
    bad_files()
    for folder, prefix in ((IMAGES, ""), (BAD, "img_")):
        for name in sorted(os.listdir(folder)):
            if name.startswith(prefix):
                print("%-40s %6d bytes" % (os.path.join(os.path.basename(folder), name),
                                           os.path.getsize(os.path.join(folder, name))))


if __name__ == "__main__":
    main()
