"""infinode: Python bindings for libinfinode's plugin ABI (plugin_abi/infinode.h) through ctypes.

    import infinode
    with infinode.Engine(manifest={"random": "tiny"}) as engine:
        encode = engine.create_node("org.infinode.text.encode")
        generate = engine.create_node("org.infinode.sampler.generate", seed=7)
        decode = engine.create_node("org.infinode.image.decode")
        embedding = encode.run({"text": "a red cube"})["embedding"]
        tokens = generate.run({"positive": embedding}, on_progress=print)["tokens"]
        image = decode.run(tokens)["image"].read_image()   # 8-bit sRGB RGB

The library is found through the INFINODE_LIBRARY environment variable, else as
"libinfinode.so.1"; Library(path) loads another one (pass library= to Engine and the Value
constructors). No compiled extension; numpy is optional.
"""

from ._abi import (
    ABI_VERSION,
    IMAGE_MAX_SIDE,
    Alpha,
    Channels,
    JobState,
    LogLevel,
    ParamType,
    Scalar,
    Status,
    Transfer,
    ValueType,
)
from .data import BitTokens, Image, ImageInfo, TextEmbedding
from .descriptors import NodeDescriptor, ParamDescriptor, PortDescriptor
from .engine import Engine
from .errors import (
    AlreadyExistsError,
    CallbackError,
    CancelledError,
    InfinodeError,
    InfinodeIOError,
    InternalError,
    InvalidArgumentError,
    InvalidDataError,
    InvalidHandleError,
    JobTimeoutError,
    NotFoundError,
    NotReadyError,
    OutOfMemoryError,
    TypeMismatchError,
    UnsupportedError,
    WouldDeadlockError,
)
from .jobs import Job, Progress
from .library import Library, default_library
from .nodes import Node, run
from .values import Value

__all__ = [
    "ABI_VERSION", "IMAGE_MAX_SIDE", "Alpha", "Channels", "JobState", "LogLevel", "ParamType",
    "Scalar", "Status", "Transfer", "ValueType", "BitTokens", "Image", "ImageInfo",
    "TextEmbedding", "NodeDescriptor", "ParamDescriptor", "PortDescriptor", "Engine",
    "AlreadyExistsError", "CallbackError", "CancelledError", "InfinodeError", "InfinodeIOError",
    "InternalError", "InvalidArgumentError", "InvalidDataError", "InvalidHandleError",
    "JobTimeoutError", "NotFoundError", "NotReadyError", "OutOfMemoryError", "TypeMismatchError",
    "UnsupportedError", "WouldDeadlockError", "Job", "Progress", "Library", "default_library",
    "Node", "run", "Value",
]
