"""Plain Python forms of what values hold: images, text embeddings, bit tokens.

No numpy needed; to_numpy()/from numpy arrays work when numpy is importable.
"""

import array
import struct
from dataclasses import dataclass
from typing import Optional, Tuple

from ._abi import Alpha, Channels, Scalar, Transfer

_SAMPLE_FORMAT = {Scalar.U8: "B", Scalar.U16: "H", Scalar.F16: "e", Scalar.F32: "f"}
_NUMPY_DTYPE = {Scalar.U8: "uint8", Scalar.U16: "uint16", Scalar.F16: "float16", Scalar.F32: "float32"}


def numpy_or_none():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    channels: Channels
    scalar: Scalar
    transfer: Transfer
    alpha: Alpha


@dataclass(frozen=True)
class Image:
    """Tightly packed, interleaved pixels, top row first, in native byte order."""

    width: int
    height: int
    channels: Channels
    scalar: Scalar
    data: bytes
    transfer: Transfer = Transfer.SRGB
    alpha: Alpha = Alpha.STRAIGHT

    @property
    def pixel_stride(self):
        return int(self.channels) * self.scalar.size

    @property
    def row_stride(self):
        return self.width * self.pixel_stride

    def pixel(self, x, y):
        """The channel values of pixel (x, y): ints for U8/U16, floats for F16/F32."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError("pixel (%d, %d) is outside %dx%d" % (x, y, self.width, self.height))
        layout = "=%d%s" % (int(self.channels), _SAMPLE_FORMAT[self.scalar])
        return struct.unpack_from(layout, self.data, y * self.row_stride + x * self.pixel_stride)

    def to_numpy(self):
        """[height, width, channels] array (needs numpy)."""
        numpy = numpy_or_none()
        if numpy is None:
            raise ImportError("Image.to_numpy needs numpy")
        flat = numpy.frombuffer(self.data, dtype=_NUMPY_DTYPE[self.scalar])
        return flat.reshape(self.height, self.width, int(self.channels))


def scalar_of_numpy_dtype(dtype):
    for scalar, name in _NUMPY_DTYPE.items():
        if str(dtype) == name:
            return scalar
    return None


@dataclass(frozen=True)
class TextEmbedding:
    """T5 features: data[t * channels + c] (f32), t counting the tokens of all prompts;
    prompt_tokens lists each prompt's length (empty or one entry: one prompt)."""

    tokens: int
    channels: int
    data: array.array
    prompt_tokens: Tuple[int, ...] = ()

    @property
    def prompts(self):
        return max(1, len(self.prompt_tokens))

    def to_numpy(self):
        numpy = numpy_or_none()
        if numpy is None:
            raise ImportError("TextEmbedding.to_numpy needs numpy")
        return numpy.frombuffer(self.data, dtype="float32").reshape(self.tokens, self.channels)


@dataclass(frozen=True)
class BitTokens:
    """The multi-scale bits of `images` images. scales[k] holds images * h_k * w_k *
    bits_per_token bytes (each 0 or 1), laid out [image][token in raster order][bit]; only the
    first len(scales) scales of the schedule (grids) are stored."""

    images: int
    bits_per_token: int
    grids: Tuple[Tuple[int, int], ...]  # (height, width) per scale, coarse to fine
    rope_grid: Tuple[int, int]
    scales: Tuple[bytes, ...]
    spatial_patch: int = 1
    tokenizer: Optional[str] = None

    @property
    def schedule_scales(self):
        return len(self.grids)

    @property
    def stored_scales(self):
        return len(self.scales)

    def scale_bytes(self, k):
        height, width = self.grids[k]
        return self.images * height * width * self.bits_per_token
