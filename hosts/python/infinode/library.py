"""Loading libinfinode and calling its function table."""

import ctypes
import os
import threading

from . import _abi
from ._abi import Status
from .errors import UnsupportedError, error_for

DEFAULT_NAME = "libinfinode.so.1"
ENV_VARIABLE = "INFINODE_LIBRARY"


class Library:
    """libinfinode, loaded with ctypes, and its ABI 1.0 function table.

    path: the shared library (a file or a name the dynamic loader finds); default: the
    INFINODE_LIBRARY environment variable, else "libinfinode.so.1". `api` is the raw table
    (an _abi.Api): every function of infinode.h, for what this binding does not wrap.
    """

    def __init__(self, path=None):
        _abi.check_layout()
        self.path = os.fspath(path) if path is not None else os.environ.get(ENV_VARIABLE) or DEFAULT_NAME
        try:
            self._dll = ctypes.CDLL(self.path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        except OSError as error:
            raise OSError("infinode: cannot load %s (set %s or pass a path): %s" % (self.path, ENV_VARIABLE, error))
        try:
            self._get_api = self._dll.inf_get_api
        except AttributeError:
            raise OSError("infinode: %s does not export inf_get_api" % self.path) from None
        self._get_api.restype = ctypes.POINTER(_abi.Api)
        self._get_api.argtypes = [ctypes.c_uint32]
        table = self._get_api(_abi.ABI_VERSION)
        if not table:
            raise UnsupportedError(Status.UNSUPPORTED, "%s cannot serve ABI %d.%d" % (self.path, _abi.ABI_MAJOR, _abi.ABI_MINOR))
        self.api = table.contents
        if self.api.struct_size < ctypes.sizeof(_abi.Api):
            raise UnsupportedError(Status.UNSUPPORTED, "%s has a %d-byte table; ABI 1.0 needs %d" % (
                self.path, self.api.struct_size, ctypes.sizeof(_abi.Api)))

    def serves(self, major, minor):
        """Whether inf_get_api hands out a table for ABI major.minor."""
        return bool(self._get_api(_abi.make_version(major, minor)))

    @property
    def version_string(self):
        return self.api.version_string().decode()

    @property
    def abi_version(self):
        """The library's (major, minor)."""
        return (self.api.abi_version >> 16, self.api.abi_version & 0xFFFF)

    def status_name(self, status):
        return self.api.status_name(int(status)).decode()

    def last_error(self):
        """The calling thread's most recent failure message ("" if none)."""
        return _decode(self.api.last_error())

    def check(self, status, context=None):
        """Raises the InfinodeError subclass of a non-OK status with the calling thread's last
        error (call it right after the failing call, on the same thread)."""
        if status != Status.OK:
            message = self.last_error()
            raise error_for(status, "%s: %s" % (context, message) if context else message)


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw is not None else ""


_default = None
_default_lock = threading.Lock()


def default_library():
    """The Library every object uses when none is given (loaded on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Library()
        return _default


def resolve(library):
    return library if library is not None else default_library()
