"""Values: the immutable typed data that flows along graph edges (inf_value handles).

Constructors copy what they are given (the library copies it too: nothing is shared with the
caller once they return); readers return plain Python objects (data.py). Everything the library
cannot check itself -- how long a host buffer really is -- is checked here before the call.
"""

import array
import ctypes
import os

from . import _abi
from ._abi import Alpha, Channels, Scalar, Status, Transfer, ValueType
from .data import BitTokens, Image, ImageInfo, TextEmbedding, numpy_or_none, scalar_of_numpy_dtype
from .errors import InvalidArgumentError, TypeMismatchError
from .handles import Handle
from .library import resolve



def _pointer_to(buffer):
    """(void pointer, byte count, objects to keep alive) for a bytes-like object; copies only
    read-only buffers that are not bytes."""
    if isinstance(buffer, bytes):
        chars = ctypes.c_char_p(buffer)  # points into the bytes object itself
        return ctypes.cast(chars, ctypes.c_void_p), len(buffer), (buffer, chars)
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeMismatchError(Status.TYPE_MISMATCH, "expected a bytes-like object, got %s" % type(buffer).__name__) from None
    if not view.c_contiguous:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "the buffer is not C-contiguous")
    view = view.cast("B")
    if view.readonly:
        return _pointer_to(bytes(view))
    chars = (ctypes.c_char * view.nbytes).from_buffer(view)
    return ctypes.cast(chars, ctypes.c_void_p), view.nbytes, (view, chars)


def _enum(kind, value, what):
    try:
        return kind(value)
    except ValueError:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "%s %r is not one of %s" % (
            what, value, ", ".join(member.name for member in kind))) from None


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeMismatchError(Status.TYPE_MISMATCH, "%s must be an int, got %s" % (what, type(value).__name__))
    if value < 0 or value > 0xFFFFFFFF:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "%s is %d, expected 0..2^32-1" % (what, value))
    return value


def _image_desc(pixels, width, height, channels, scalar, transfer, alpha, row_stride):
    """An ImageDesc over the caller's pixels (and what must stay alive while it is used)."""
    if isinstance(pixels, Image):
        width, height, channels, scalar = pixels.width, pixels.height, pixels.channels, pixels.scalar
        transfer, alpha, pixels = pixels.transfer, pixels.alpha, pixels.data
    elif hasattr(pixels, "shape") and hasattr(pixels, "dtype"):  # a numpy array: [height, width(, channels)]
        shape = tuple(pixels.shape)
        if len(shape) not in (2, 3):
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "an image array is [height, width(, channels)], got shape %r" % (shape,))
        height, width = shape[0], shape[1]
        channels = shape[2] if len(shape) == 3 else 1
        scalar = scalar_of_numpy_dtype(pixels.dtype)
        if scalar is None:
            raise TypeMismatchError(Status.TYPE_MISMATCH, "image arrays are uint8, uint16, float16 or float32, not %s" % pixels.dtype)
        numpy = numpy_or_none()
        pixels = numpy.ascontiguousarray(pixels)
    elif width is None or height is None:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "width and height are needed with raw pixel bytes")
    width, height = _count(width, "width"), _count(height, "height")
    channels = _enum(Channels, Channels.RGB if channels is None else channels, "channels")
    scalar = _enum(Scalar, Scalar.U8 if scalar is None else scalar, "scalar")
    transfer = _enum(Transfer, transfer, "transfer")
    alpha = _enum(Alpha, alpha, "alpha")
    pointer, size, keep = _pointer_to(pixels)
    pixel_stride = int(channels) * scalar.size
    if row_stride is None:
        row_stride = width * pixel_stride
    if 0 < width <= _abi.IMAGE_MAX_SIDE and 0 < height <= _abi.IMAGE_MAX_SIDE:
        # Sizes the library would refuse anyway are passed on for it to explain; these it
        # would read, so the buffer must hold them.
        needed = (height - 1) * abs(row_stride) + (width - 1) * pixel_stride + pixel_stride
        if abs(row_stride) < width * pixel_stride or size < needed:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, (
                "the pixels hold %d bytes; a %dx%d %s %s image with a row stride of %d needs %d") % (
                size, width, height, channels.name, scalar.name, row_stride, needed))
        if row_stride < 0:  # bottom-up rows: data points at the top row, the last in memory
            pointer = ctypes.c_void_p(pointer.value + (height - 1) * abs(row_stride))
    desc = _abi.init(_abi.ImageDesc)
    desc.width, desc.height = width, height
    desc.scalar, desc.channels, desc.transfer, desc.alpha = scalar, channels, transfer, alpha
    desc.pixel_stride, desc.row_stride = pixel_stride, row_stride
    desc.data = pointer
    return desc, keep


def _read_into(library, value_raw, width, height, channels, scalar, transfer, alpha):
    buffer = bytearray(width * height * int(channels) * scalar.size)
    chars = (ctypes.c_char * len(buffer)).from_buffer(buffer)
    desc = _abi.init(_abi.ImageDesc)
    desc.width, desc.height = width, height
    desc.scalar, desc.channels, desc.transfer, desc.alpha = scalar, channels, transfer, alpha
    desc.pixel_stride = int(channels) * scalar.size
    desc.row_stride = width * desc.pixel_stride
    desc.data = ctypes.cast(chars, ctypes.c_void_p)
    library.check(library.api.value_read_image(value_raw, ctypes.byref(desc)))
    del chars  # the bytearray may not be resized while exported
    return Image(width, height, channels, scalar, bytes(buffer), transfer, alpha)


def copy_image_desc(desc):
    """An Image copied out of an ImageDesc the library hands out (a preview), any strides."""
    channels, scalar = Channels(desc.channels), Scalar(desc.scalar)
    pixel_bytes = int(channels) * scalar.size
    rows = []
    for y in range(desc.height):
        row_address = desc.data + y * desc.row_stride
        if desc.pixel_stride == pixel_bytes:
            rows.append(ctypes.string_at(row_address, desc.width * pixel_bytes))
        else:
            rows.append(b"".join(ctypes.string_at(row_address + x * desc.pixel_stride, pixel_bytes)
                                 for x in range(desc.width)))
    return Image(desc.width, desc.height, channels, scalar, b"".join(rows), Transfer(desc.transfer), Alpha(desc.alpha))


class Value(Handle):
    """An inf_value: build one with a from_* class method, read it with a read_* method."""

    _kind = "value"

    @classmethod
    def _create(cls, library, function, *args):
        library = resolve(library)
        out = _abi.handle()
        library.check(getattr(library.api, function)(*args, ctypes.byref(out)))
        return cls(library, out.value)

    @property
    def type(self):
        out = _abi.c_enum()
        self._call("type", ctypes.byref(out))
        return ValueType(out.value)

    # ---- text ----

    @classmethod
    def from_text(cls, text, library=None):
        """str (UTF-8 encoded; lone surrogates stay invalid so the library refuses them) or
        bytes (passed as they are)."""
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogatepass")
        pointer, size, keep = _pointer_to(text)
        value = cls._create(library, "value_create_text", pointer, size)
        del keep
        return value

    def read_text(self):
        data, length = ctypes.c_void_p(), ctypes.c_size_t()
        self._call("get_text", ctypes.byref(data), ctypes.byref(length))
        return ctypes.string_at(data.value, length.value).decode("utf-8")

    # ---- token ids ----

    @classmethod
    def from_token_ids(cls, ids, library=None):
        try:
            packed = array.array("i", ids)
        except OverflowError:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "token ids must fit int32") from None
        except TypeError as error:
            raise TypeMismatchError(Status.TYPE_MISMATCH, "token ids must be ints: %s" % error) from None
        assert packed.itemsize == 4, "array('i') is 32-bit on every platform infinode ships for"
        # One spare slot keeps the pointer real for an empty list: the library then explains
        # that a count of 0 is not allowed.
        storage = (ctypes.c_int32 * (len(packed) + 1))()
        ctypes.memmove(storage, packed.tobytes(), len(packed) * 4)
        return cls._create(library, "value_create_token_ids", storage, len(packed))

    def read_token_ids(self):
        data, count = ctypes.POINTER(ctypes.c_int32)(), ctypes.c_size_t()
        self._call("get_token_ids", ctypes.byref(data), ctypes.byref(count))
        return list(data[:count.value])

    # ---- text embeddings ----

    @classmethod
    def from_text_embedding(cls, data, tokens=None, channels=None, prompt_tokens=(), library=None):
        """data: a TextEmbedding, a [tokens, channels] float32 numpy array, or tokens *
        channels floats (then tokens and channels are needed)."""
        if isinstance(data, TextEmbedding):
            tokens, channels, prompt_tokens, data = data.tokens, data.channels, data.prompt_tokens, data.data
        elif hasattr(data, "shape") and len(getattr(data, "shape")) == 2:
            tokens, channels = data.shape
            data = numpy_or_none().ascontiguousarray(data, dtype="float32").ravel()
        if tokens is None or channels is None:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "tokens and channels are needed with flat data")
        tokens, channels = _count(tokens, "tokens"), _count(channels, "channels")
        floats = array.array("f", data)
        if len(floats) != tokens * channels:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "%d floats given for %d tokens x %d channels" % (
                len(floats), tokens, channels))
        lengths = array.array("I", [_count(length, "a prompt length") for length in prompt_tokens])
        desc = _abi.init(_abi.TextEmbeddingDesc)
        desc.tokens, desc.channels, desc.prompts = tokens, channels, len(lengths)
        if len(floats):
            desc.data = ctypes.cast(ctypes.c_void_p(floats.buffer_info()[0]), ctypes.POINTER(ctypes.c_float))
        if len(lengths):
            desc.prompt_tokens = ctypes.cast(ctypes.c_void_p(lengths.buffer_info()[0]), ctypes.POINTER(ctypes.c_uint32))
        return cls._create(library, "value_create_text_embedding", ctypes.byref(desc))

    def read_text_embedding(self):
        desc = _abi.init(_abi.TextEmbeddingDesc)
        self._call("get_text_embedding", ctypes.byref(desc))
        count = desc.tokens * desc.channels
        floats = array.array("f", ctypes.string_at(ctypes.cast(desc.data, ctypes.c_void_p), count * 4)) if count else array.array("f")
        lengths = tuple(desc.prompt_tokens[k] for k in range(desc.prompts)) if desc.prompts and desc.prompt_tokens else ()
        return TextEmbedding(desc.tokens, desc.channels, floats, lengths)

    # ---- bit tokens ----

    @classmethod
    def from_bit_tokens(cls, tokens, library=None):
        if not isinstance(tokens, BitTokens):
            raise TypeMismatchError(Status.TYPE_MISMATCH, "expected BitTokens, got %s" % type(tokens).__name__)
        if len(tokens.scales) > len(tokens.grids):
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "%d stored scales but a schedule of %d" % (
                len(tokens.scales), len(tokens.grids)))
        grids = (_abi.Grid * max(1, len(tokens.grids)))()
        for k, (height, width) in enumerate(tokens.grids):
            grids[k].height, grids[k].width = _count(height, "grid height"), _count(width, "grid width")
        scale_buffers = []
        bits = (ctypes.POINTER(ctypes.c_uint8) * max(1, len(tokens.scales)))()
        for k, scale in enumerate(tokens.scales):
            buffer = bytes(scale)
            if len(buffer) != tokens.scale_bytes(k):
                raise InvalidArgumentError(Status.INVALID_ARGUMENT, "scale %d holds %d bytes; %d images of %dx%d tokens x %d bits need %d" % (
                    k, len(buffer), tokens.images, tokens.grids[k][0], tokens.grids[k][1], tokens.bits_per_token,
                    tokens.scale_bytes(k)))
            scale_buffers.append(buffer)
            bits[k] = ctypes.cast(ctypes.c_char_p(buffer), ctypes.POINTER(ctypes.c_uint8))
        desc = _abi.init(_abi.BitTokensDesc)
        desc.images = _count(tokens.images, "images")
        desc.bits_per_token = _count(tokens.bits_per_token, "bits_per_token")
        desc.spatial_patch = _count(tokens.spatial_patch, "spatial_patch")
        desc.schedule_scales, desc.stored_scales = len(tokens.grids), len(tokens.scales)
        desc.grids = grids
        desc.rope_grid.height = _count(tokens.rope_grid[0], "rope_grid height")
        desc.rope_grid.width = _count(tokens.rope_grid[1], "rope_grid width")
        desc.bits = bits
        tokenizer = tokens.tokenizer.encode() if tokens.tokenizer else None
        desc.tokenizer = tokenizer
        value = cls._create(library, "value_create_bit_tokens", ctypes.byref(desc))
        del scale_buffers
        return value

    def read_bit_tokens(self):
        desc = _abi.init(_abi.BitTokensDesc)
        self._call("get_bit_tokens", ctypes.byref(desc))
        grids = tuple((desc.grids[k].height, desc.grids[k].width) for k in range(desc.schedule_scales))
        scales = []
        for k in range(desc.stored_scales):
            height, width = grids[k]
            size = desc.images * height * width * desc.bits_per_token
            scales.append(ctypes.string_at(ctypes.cast(desc.bits[k], ctypes.c_void_p), size))
        tokenizer = desc.tokenizer.decode("utf-8", "replace") if desc.tokenizer else None
        return BitTokens(desc.images, desc.bits_per_token, grids, (desc.rope_grid.height, desc.rope_grid.width),
                         tuple(scales), desc.spatial_patch, tokenizer)

    @classmethod
    def load_bit_tokens(cls, path, library=None):
        """An infinode bit-token file (safetensors; docs/bit-tokens.md)."""
        return cls._create(library, "value_load_bit_tokens", os.fsencode(path))

    def save_bit_tokens(self, path):
        self._call("save_bit_tokens", os.fsencode(path))

    # ---- images and masks ----

    @classmethod
    def from_image(cls, pixels, width=None, height=None, channels=None, scalar=None, transfer=Transfer.SRGB,
                   alpha=Alpha.STRAIGHT, row_stride=None, library=None):
        """pixels: an Image, a numpy array [height, width(, channels)], or bytes-like pixels
        described by width, height, channels (default RGB), scalar (default U8) and
        row_stride (bytes; default tight, negative for bottom-up rows)."""
        desc, keep = _image_desc(pixels, width, height, channels, scalar, transfer, alpha, row_stride)
        value = cls._create(library, "value_create_image", ctypes.byref(desc))
        del keep
        return value

    @classmethod
    def from_mask(cls, pixels, width=None, height=None, channels=Channels.GRAY, scalar=None, row_stride=None,
                  library=None):
        """A MASK from one channel of coverage (GRAY) or an RGBA image's alpha."""
        desc, keep = _image_desc(pixels, width, height, channels, scalar, Transfer.LINEAR, Alpha.STRAIGHT, row_stride)
        value = cls._create(library, "value_create_mask", ctypes.byref(desc))
        del keep
        return value

    def image_info(self):
        """Size and native format of an IMAGE or MASK."""
        desc = _abi.init(_abi.ImageDesc)
        self._call("get_image_info", ctypes.byref(desc))
        return ImageInfo(desc.width, desc.height, Channels(desc.channels), Scalar(desc.scalar), Transfer(desc.transfer),
                         Alpha(desc.alpha))

    def read_image(self, channels=None, scalar=Scalar.U8, transfer=Transfer.SRGB, alpha=Alpha.STRAIGHT):
        """The pixels converted to the requested format (channels default: the native ones)."""
        info = self.image_info()
        channels = info.channels if channels is None else _enum(Channels, channels, "channels")
        return _read_into(self._library, self._raw, info.width, info.height, channels, _enum(Scalar, scalar, "scalar"),
                          _enum(Transfer, transfer, "transfer"), _enum(Alpha, alpha, "alpha"))

    def to_python(self):
        """The contents as the matching plain Python object (images in their native format)."""
        kind = self.type
        if kind == ValueType.TEXT:
            return self.read_text()
        if kind == ValueType.TOKEN_IDS:
            return self.read_token_ids()
        if kind == ValueType.TEXT_EMBEDDING:
            return self.read_text_embedding()
        if kind == ValueType.BIT_TOKENS:
            return self.read_bit_tokens()
        info = self.image_info()
        return self.read_image(info.channels, info.scalar, info.transfer, info.alpha)
