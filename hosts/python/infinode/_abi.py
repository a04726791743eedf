"""A ctypes mirror of plugin_abi/infinode.h (ABI 1.0): enums, structs and the function table.

Every struct is laid out field for field as the header declares it, and check_layout() compares
the sizes with the ones the header pins (tests/abi/test_abi_layout.cpp) before anything is
called: a mismatch would corrupt memory, so it stops the import instead.
"""

import ctypes as C
import enum

ABI_MAJOR = 1
ABI_MINOR = 0


def make_version(major, minor):
    return (major << 16) | minor


ABI_VERSION = make_version(ABI_MAJOR, ABI_MINOR)

IMAGE_MAX_SIDE = 16384
TEXT_MAX_BYTES = 1 << 20
TOKEN_IDS_MAX = 1 << 20
TEXT_NUL_TERMINATED = C.c_size_t(-1).value
WAIT_FOREVER = -1

PORT_FLAG_OPTIONAL = 0x1
PARAM_FLAG_ADVANCED = 0x1
PARAM_FLAG_PATH = 0x2
PARAM_FLAG_MULTILINE = 0x4
NODE_FLAG_PROGRESS = 0x1
NODE_FLAG_PREVIEW = 0x2
ENGINE_FLAG_NO_BUILTIN_NODES = 0x1


class Status(enum.IntEnum):
    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_HANDLE = 2
    NOT_FOUND = 3
    TYPE_MISMATCH = 4
    ALREADY_EXISTS = 5
    UNSUPPORTED = 6
    INVALID_DATA = 7
    IO = 8
    OUT_OF_MEMORY = 9
    CANCELLED = 10
    TIMEOUT = 11
    NOT_READY = 12
    WOULD_DEADLOCK = 13
    INTERNAL = 14


class LogLevel(enum.IntEnum):
    DEBUG = 0
    INFO = 1
    WARNING = 2
    ERROR = 3


class ValueType(enum.IntEnum):
    NONE = 0
    TEXT = 1
    TOKEN_IDS = 2
    TEXT_EMBEDDING = 3
    BIT_TOKENS = 4
    IMAGE = 5
    MASK = 6


class ParamType(enum.IntEnum):
    INT = 1
    FLOAT = 2
    BOOL = 3
    STRING = 4
    ENUM = 5


class Scalar(enum.IntEnum):
    U8 = 1
    U16 = 2
    F16 = 3
    F32 = 4

    @property
    def size(self):
        return {Scalar.U8: 1, Scalar.U16: 2, Scalar.F16: 2, Scalar.F32: 4}[self]


class Channels(enum.IntEnum):
    """The value is the channel count."""

    GRAY = 1
    RGB = 3
    RGBA = 4


class Transfer(enum.IntEnum):
    SRGB = 1
    LINEAR = 2


class Alpha(enum.IntEnum):
    STRAIGHT = 0
    PREMULTIPLIED = 1


class JobState(enum.IntEnum):
    QUEUED = 1
    RUNNING = 2
    DONE = 3


# C enums are 32-bit ints (every enum has a *_FORCE32 = 0x7FFFFFFF member).
c_enum = C.c_int32
handle = C.c_void_p  # inf_engine*, inf_node*, inf_value*, inf_job*, inf_run_context*


class PortDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("type", c_enum),
        ("id", C.c_char_p),
        ("display_name", C.c_char_p),
        ("description", C.c_char_p),
        ("flags", C.c_uint32),
    ]


class ParamDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("type", c_enum),
        ("id", C.c_char_p),
        ("display_name", C.c_char_p),
        ("description", C.c_char_p),
        ("flags", C.c_uint32),
        ("choice_count", C.c_uint32),
        ("choices", C.POINTER(C.c_char_p)),
        ("int_min", C.c_int64),
        ("int_max", C.c_int64),
        ("int_default", C.c_int64),
        ("float_min", C.c_double),
        ("float_max", C.c_double),
        ("float_default", C.c_double),
        ("string_default", C.c_char_p),
    ]


class NodeDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("version_major", C.c_uint32),
        ("version_minor", C.c_uint32),
        ("flags", C.c_uint32),
        ("id", C.c_char_p),
        ("display_name", C.c_char_p),
        ("category", C.c_char_p),
        ("description", C.c_char_p),
        ("input_count", C.c_uint32),
        ("output_count", C.c_uint32),
        ("param_count", C.c_uint32),
        ("inputs", C.POINTER(C.POINTER(PortDesc))),
        ("outputs", C.POINTER(C.POINTER(PortDesc))),
        ("params", C.POINTER(C.POINTER(ParamDesc))),
    ]


class ParamValue(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("type", c_enum),
        ("int_value", C.c_int64),
        ("float_value", C.c_double),
        ("string_value", C.c_char_p),
    ]


class ImageDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("width", C.c_uint32),
        ("height", C.c_uint32),
        ("scalar", c_enum),
        ("channels", c_enum),
        ("transfer", c_enum),
        ("alpha", c_enum),
        ("reserved", C.c_uint32),
        ("pixel_stride", C.c_int64),
        ("row_stride", C.c_int64),
        ("data", C.c_void_p),
    ]


class Grid(C.Structure):
    _fields_ = [("height", C.c_uint32), ("width", C.c_uint32)]


class BitTokensDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("images", C.c_uint32),
        ("bits_per_token", C.c_uint32),
        ("spatial_patch", C.c_uint32),
        ("schedule_scales", C.c_uint32),
        ("stored_scales", C.c_uint32),
        ("grids", C.POINTER(Grid)),
        ("rope_grid", Grid),
        ("bits", C.POINTER(C.POINTER(C.c_uint8))),
        ("tokenizer", C.c_char_p),
    ]


class TextEmbeddingDesc(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("tokens", C.c_uint32),
        ("channels", C.c_uint32),
        ("data", C.POINTER(C.c_float)),
        ("prompts", C.c_uint32),
        ("prompt_tokens", C.POINTER(C.c_uint32)),
    ]


LogFn = C.CFUNCTYPE(None, C.c_void_p, c_enum, C.c_char_p)


class EngineConfig(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("log_level", c_enum),
        ("model_dir", C.c_char_p),
        ("log_callback", LogFn),
        ("log_user_data", C.c_void_p),
        ("flags", C.c_uint32),
        ("device", C.c_char_p),
        ("model_manifest", C.c_char_p),
    ]


class Progress(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("step", C.c_uint32),
        ("total_steps", C.c_uint32),
        ("step_seconds", C.c_double),
        ("stage", C.c_char_p),
    ]


ProgressFn = C.CFUNCTYPE(C.c_int32, C.c_void_p, C.POINTER(Progress))
PreviewFn = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(Progress), C.POINTER(ImageDesc))
DoneFn = C.CFUNCTYPE(None, C.c_void_p, handle, c_enum, C.c_char_p)


class JobCallbacks(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("user_data", C.c_void_p),
        ("on_progress", ProgressFn),
        ("on_preview", PreviewFn),
        ("on_done", DoneFn),
    ]


# The provider side: mirrored so the table is complete; this binding registers no providers.
class InstanceArgs(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("api", C.c_void_p), ("engine", handle)]


class RunArgs(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("input_count", C.c_uint32),
        ("param_count", C.c_uint32),
        ("output_count", C.c_uint32),
        ("api", C.c_void_p),
        ("context", handle),
        ("engine", handle),
        ("inputs", C.POINTER(handle)),
        ("params", C.POINTER(C.POINTER(ParamValue))),
        ("outputs", C.POINTER(handle)),
    ]


class NodeProvider(C.Structure):
    _fields_ = [
        ("struct_size", C.c_uint32),
        ("abi_version", C.c_uint32),
        ("provider_data", C.c_void_p),
        ("describe", C.CFUNCTYPE(C.POINTER(NodeDesc), C.c_void_p)),
        ("create_instance", C.CFUNCTYPE(c_enum, C.c_void_p, C.POINTER(InstanceArgs), C.POINTER(C.c_void_p))),
        ("run", C.CFUNCTYPE(c_enum, C.c_void_p, C.POINTER(RunArgs))),
        ("destroy_instance", C.CFUNCTYPE(None, C.c_void_p)),
        ("destroy", C.CFUNCTYPE(None, C.c_void_p)),
    ]


_out_handle = C.POINTER(handle)
_text = C.c_char_p

# inf_api in table order: (name, return type, argument types). The order is the ABI.
FUNCTIONS = [
    ("version_string", C.c_char_p, []),
    ("status_name", C.c_char_p, [c_enum]),
    ("last_error", C.c_char_p, []),
    ("engine_create", c_enum, [C.POINTER(EngineConfig), _out_handle]),
    ("engine_retain", c_enum, [handle]),
    ("engine_release", c_enum, [handle]),
    ("engine_last_error", C.c_char_p, [handle]),
    ("engine_set_log_callback", c_enum, [handle, LogFn, C.c_void_p, c_enum]),
    ("engine_model_dir", c_enum, [handle, C.POINTER(C.c_char_p)]),
    ("engine_register_provider", c_enum, [handle, C.POINTER(NodeProvider)]),
    ("engine_node_count", c_enum, [handle, C.POINTER(C.c_uint32)]),
    ("engine_node_desc", c_enum, [handle, C.c_uint32, C.POINTER(C.POINTER(NodeDesc))]),
    ("engine_find_node", c_enum, [handle, _text, C.POINTER(C.POINTER(NodeDesc))]),
    ("node_create", c_enum, [handle, _text, _out_handle]),
    ("node_retain", c_enum, [handle]),
    ("node_release", c_enum, [handle]),
    ("node_last_error", C.c_char_p, [handle]),
    ("node_desc", c_enum, [handle, C.POINTER(C.POINTER(NodeDesc))]),
    ("node_set_int", c_enum, [handle, _text, C.c_int64]),
    ("node_set_float", c_enum, [handle, _text, C.c_double]),
    ("node_set_bool", c_enum, [handle, _text, C.c_int32]),
    ("node_set_string", c_enum, [handle, _text, _text]),
    ("node_get_param", c_enum, [handle, _text, C.POINTER(ParamValue)]),
    ("node_run_async", c_enum, [handle, C.POINTER(handle), C.c_uint32, C.POINTER(JobCallbacks), _out_handle]),
    ("value_retain", c_enum, [handle]),
    ("value_release", c_enum, [handle]),
    ("value_last_error", C.c_char_p, [handle]),
    ("value_type", c_enum, [handle, C.POINTER(c_enum)]),
    ("value_create_text", c_enum, [C.c_void_p, C.c_size_t, _out_handle]),
    ("value_get_text", c_enum, [handle, C.POINTER(C.c_void_p), C.POINTER(C.c_size_t)]),
    ("value_create_token_ids", c_enum, [C.POINTER(C.c_int32), C.c_size_t, _out_handle]),
    ("value_get_token_ids", c_enum, [handle, C.POINTER(C.POINTER(C.c_int32)), C.POINTER(C.c_size_t)]),
    ("value_create_text_embedding", c_enum, [C.POINTER(TextEmbeddingDesc), _out_handle]),
    ("value_get_text_embedding", c_enum, [handle, C.POINTER(TextEmbeddingDesc)]),
    ("value_create_bit_tokens", c_enum, [C.POINTER(BitTokensDesc), _out_handle]),
    ("value_get_bit_tokens", c_enum, [handle, C.POINTER(BitTokensDesc)]),
    ("value_load_bit_tokens", c_enum, [_text, _out_handle]),
    ("value_save_bit_tokens", c_enum, [handle, _text]),
    ("value_create_image", c_enum, [C.POINTER(ImageDesc), _out_handle]),
    ("value_create_mask", c_enum, [C.POINTER(ImageDesc), _out_handle]),
    ("value_get_image_info", c_enum, [handle, C.POINTER(ImageDesc)]),
    ("value_read_image", c_enum, [handle, C.POINTER(ImageDesc)]),
    ("job_retain", c_enum, [handle]),
    ("job_release", c_enum, [handle]),
    ("job_last_error", C.c_char_p, [handle]),
    ("job_cancel", c_enum, [handle]),
    ("job_wait", c_enum, [handle, C.c_int64, C.POINTER(c_enum)]),
    ("job_status", c_enum, [handle, C.POINTER(c_enum), C.POINTER(c_enum)]),
    ("job_get_output", c_enum, [handle, C.c_uint32, _out_handle]),
    ("run_progress", c_enum, [handle, C.POINTER(Progress)]),
    ("run_preview", c_enum, [handle, C.POINTER(Progress), C.POINTER(ImageDesc)]),
    ("run_wants_preview", c_enum, [handle, C.POINTER(C.c_int32)]),
    ("run_is_cancelled", c_enum, [handle, C.POINTER(C.c_int32)]),
    ("run_log", c_enum, [handle, c_enum, _text]),
    ("run_set_error", c_enum, [handle, _text]),
    ("engine_device", c_enum, [handle, C.POINTER(C.c_char_p)]),
    ("engine_model_manifest", c_enum, [handle, C.POINTER(C.c_char_p)]),
]


class Api(C.Structure):
    """struct inf_api: struct_size, abi_version, then one function pointer per FUNCTIONS entry."""

    _fields_ = [("struct_size", C.c_uint32), ("abi_version", C.c_uint32)] + [
        (name, C.CFUNCTYPE(restype, *argtypes)) for name, restype, argtypes in FUNCTIONS
    ]


# sizeof as pinned by infinode.h's static asserts and tests/abi/test_abi_layout.cpp (LP64).
PINNED_SIZES = {
    PortDesc: 40,
    ParamDesc: 104,
    NodeDesc: 88,
    ParamValue: 32,
    ImageDesc: 56,
    Grid: 8,
    BitTokensDesc: 56,
    TextEmbeddingDesc: 40,
    EngineConfig: 56,
    Progress: 32,
    JobCallbacks: 40,
    InstanceArgs: 24,
    RunArgs: 64,
    NodeProvider: 56,
    Api: 8 + 8 * 57,
}


def layout_mismatches():
    """The structs whose size differs from the header's pins, as 'name: got N, pinned M'."""
    if C.sizeof(C.c_void_p) != 8:
        return ["the pinned layouts are LP64; this Python has %d-byte pointers" % C.sizeof(C.c_void_p)]
    problems = []
    for struct, size in PINNED_SIZES.items():
        if C.sizeof(struct) != size:
            problems.append("%s: got %d, pinned %d" % (struct.__name__, C.sizeof(struct), size))
    if len(FUNCTIONS) != 57:
        problems.append("the 1.0 table has 57 functions, FUNCTIONS lists %d" % len(FUNCTIONS))
    if ImageDesc.data.offset != 48 or BitTokensDesc.rope_grid.offset != 32 or NodeDesc.params.offset != 80:
        problems.append("field offsets differ from the header's")
    return problems


def check_layout():
    problems = layout_mismatches()
    if problems:
        raise ImportError("infinode: ctypes layouts do not match infinode.h: " + "; ".join(problems))


def init(struct_type):
    """A zeroed struct with struct_size set, as the header's INF_*_INIT macros do."""
    value = struct_type()
    value.struct_size = C.sizeof(struct_type)
    return value
