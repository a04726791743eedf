"""Engines: the node registry, the models every node of the engine shares, and the log target."""

import atexit
import ctypes
import itertools
import json
import os
import sys
import threading

from . import _abi
from ._abi import LogLevel
from .descriptors import NodeDescriptor
from .handles import Handle
from .library import resolve
from .nodes import Node

# Log callbacks, by the integer the library passes back as user_data. As with job callbacks
# (jobs.py), the C function pointer is one module-level thunk that is never freed.
_log_targets = {}
_log_lock = threading.Lock()
_log_tokens = itertools.count(1)
_engines_with_logs = {}  # token -> (library, raw engine handle), to detach them at exit


def _on_log(user_data, level, message):
    with _log_lock:
        target = _log_targets.get(user_data)
    if target is None:
        return
    try:
        target(LogLevel(level) if level in LogLevel._value2member_map_ else level,
               message.decode("utf-8", "replace") if message else "")
    except BaseException as error:  # noqa: BLE001 -- nothing may unwind into C
        try:
            sys.stderr.write("infinode: the log callback raised %s: %s\n" % (type(error).__name__, error))
        except Exception:  # noqa: BLE001
            pass


_LOG_THUNK = _abi.LogFn(_on_log)


def _manifest_json(manifest):
    if manifest is None:
        return None
    if isinstance(manifest, dict):
        return json.dumps(manifest).encode()
    if isinstance(manifest, str):
        return manifest.encode("utf-8", "surrogatepass")
    return bytes(manifest)


class Engine(Handle):
    """An inf_engine.

    model_dir: a model directory (model.json or default file names); manifest: inline manifest
    JSON as a dict or str ({"random": "tiny"} runs everything on random weights). With neither
    (both None) the engine takes the library's default model: the directory in the environment
    variable INFINODE_MODEL_DIR (set but empty: none), else the library's built-in one when it is
    installed; model_dir tells which ("" if none). model_dir="" asks for no model. device:
    "cpu", "cuda" or "cuda:N"; log: log(level, message), called on any thread (it must not
    call into infinode) for messages at log_level or above; builtin_nodes=False starts empty.
    """

    _kind = "engine"

    def __init__(self, model_dir=None, manifest=None, device="cpu", log=None, log_level=LogLevel.INFO,
                 builtin_nodes=True, library=None):
        library = resolve(library)
        config = _abi.init(_abi.EngineConfig)
        config.log_level = int(log_level)
        config.model_dir = os.fsencode(model_dir) if model_dir is not None else None
        config.device = device.encode() if device else None
        config.model_manifest = _manifest_json(manifest)
        config.flags = 0 if builtin_nodes else _abi.ENGINE_FLAG_NO_BUILTIN_NODES
        token = None
        if log is not None:
            token = self._register_log(log)
            config.log_callback = _LOG_THUNK
            config.log_user_data = token
        out = _abi.handle()
        status = library.api.engine_create(ctypes.byref(config), ctypes.byref(out))
        if status != 0:
            self._unregister_log(token)
            library.check(status)
        super().__init__(library, out.value)
        self._log_token = token
        if token is not None:
            with _log_lock:
                _engines_with_logs[token] = (library, out.value)

    @staticmethod
    def _register_log(log):
        if not callable(log):
            raise TypeError("log must be callable as log(level, message)")
        token = next(_log_tokens)
        with _log_lock:
            _log_targets[token] = log
        return token

    @staticmethod
    def _unregister_log(token):
        if token is not None:
            with _log_lock:
                _log_targets.pop(token, None)
                _engines_with_logs.pop(token, None)

    def set_log(self, log, level=LogLevel.INFO):
        """Replaces the log callback; None restores stderr for warnings and errors."""
        token = self._register_log(log) if log is not None else None
        status = self._library.api.engine_set_log_callback(
            self._raw, _LOG_THUNK if token is not None else _abi.LogFn(), token, int(level))
        if status != 0:
            self._unregister_log(token)
            self._raise(status)
        self._unregister_log(self._log_token)
        self._log_token = token
        if token is not None:
            with _log_lock:
                _engines_with_logs[token] = (self._library, self._raw)

    def _on_release(self):
        # Jobs may keep the engine alive after this; their messages then find no target.
        self._unregister_log(getattr(self, "_log_token", None))

    def _string(self, function):
        out = ctypes.c_char_p()
        self._call(function, ctypes.byref(out))
        return out.value.decode("utf-8", "replace") if out.value is not None else ""

    @property
    def model_dir(self):
        return self._string("model_dir")

    @property
    def device(self):
        return self._string("device")

    @property
    def manifest(self):
        """The inline manifest JSON ("" if none)."""
        return self._string("model_manifest")

    def nodes(self):
        """Every node type, as NodeDescriptors, in the engine's (stable) order."""
        count = ctypes.c_uint32()
        self._call("node_count", ctypes.byref(count))
        descriptors = []
        for index in range(count.value):
            desc = ctypes.POINTER(_abi.NodeDesc)()
            self._call("node_desc", index, ctypes.byref(desc))
            descriptors.append(NodeDescriptor.from_c(desc.contents))
        return descriptors

    def find_node(self, node_id):
        """The NodeDescriptor of node_id; NotFoundError if the engine has no such node."""
        desc = ctypes.POINTER(_abi.NodeDesc)()
        self._call("find_node", node_id.encode(), ctypes.byref(desc))
        return NodeDescriptor.from_c(desc.contents)

    def create_node(self, node_id, **params):
        """A Node of type node_id with its default parameters, then `params` set."""
        node = Node(self, node_id)
        try:
            node.set(**params)
        except BaseException:
            node.close()
            raise
        return node

    node = create_node


@atexit.register
def _detach_logs():
    """The library may outlive the interpreter's objects at exit: stop it calling Python."""
    with _log_lock:
        engines = list(_engines_with_logs.values())
        _log_targets.clear()
        _engines_with_logs.clear()
    for library, raw in engines:
        try:
            library.api.engine_set_log_callback(raw, _abi.LogFn(), None, int(LogLevel.ERROR))
        except Exception:  # noqa: BLE001
            pass
