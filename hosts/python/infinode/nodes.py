"""Nodes: configured instances of a node type, with dict-style parameters, that run as jobs."""

import ctypes
import os
from collections.abc import Mapping

from . import _abi
from ._abi import ParamType, Status, ValueType
from .descriptors import NodeDescriptor
from .errors import InvalidArgumentError, NotFoundError, TypeMismatchError
from .handles import Handle
from .jobs import submit
from .values import Value

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def _utf8(text):
    """str as UTF-8 (lone surrogates stay invalid, for the library to refuse), bytes as they
    are, paths through the file system encoding."""
    if isinstance(text, bytes):
        return text
    if isinstance(text, os.PathLike):
        return os.fsencode(text)
    return text.encode("utf-8", "surrogatepass")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Node(Handle):
    """An inf_node. Parameters read and write like a dict: node["seed"] = 3."""

    _kind = "node"

    def __init__(self, engine, node_id):
        library = engine.library
        out = _abi.handle()
        library.check(library.api.node_create(engine.handle, _utf8(node_id), ctypes.byref(out)))
        super().__init__(library, out.value)
        self._engine = engine  # the engine wrapper outlives its nodes' wrappers
        desc = ctypes.POINTER(_abi.NodeDesc)()
        self._call("desc", ctypes.byref(desc))
        self._descriptor = NodeDescriptor.from_c(desc.contents)

    @property
    def engine(self):
        return self._engine

    @property
    def descriptor(self):
        return self._descriptor

    @property
    def id(self):
        return self._descriptor.id

    # ---- parameters ----

    def __getitem__(self, param_id):
        value = _abi.init(_abi.ParamValue)
        self._call("get_param", _utf8(param_id), ctypes.byref(value))
        kind = ParamType(value.type)
        if kind == ParamType.INT:
            return value.int_value
        if kind == ParamType.FLOAT:
            return value.float_value
        if kind == ParamType.BOOL:
            return bool(value.int_value)
        return value.string_value.decode("utf-8", "replace") if value.string_value is not None else ""

    def __setitem__(self, param_id, value):
        param = self._descriptor.param(param_id)
        kind = param.type if param is not None else self._kind_of_python_value(param_id, value)
        name = _utf8(param_id)
        if kind in (ParamType.INT, ParamType.ENUM) and _is_int(value):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise InvalidArgumentError(Status.INVALID_ARGUMENT, "parameter %s: %d does not fit int64" % (param_id, value))
            self._call("set_int", name, value)
        elif kind == ParamType.FLOAT and (_is_int(value) or isinstance(value, float)):
            self._call("set_float", name, float(value))
        elif kind == ParamType.BOOL and (isinstance(value, bool) or _is_int(value)):
            if not _INT32_MIN <= value <= _INT32_MAX:
                raise InvalidArgumentError(Status.INVALID_ARGUMENT, "parameter %s: %d is not 0 or 1" % (param_id, value))
            self._call("set_bool", name, int(value))
        elif kind in (ParamType.STRING, ParamType.ENUM) and isinstance(value, (str, bytes, os.PathLike)):
            self._call("set_string", name, _utf8(value))
        else:
            raise TypeMismatchError(Status.TYPE_MISMATCH, "parameter %s of %s is %s; got %s %r" % (
                param_id, self.id, kind.name, type(value).__name__, value))

    def _kind_of_python_value(self, param_id, value):
        """For ids the descriptor lacks: the setter matching the Python type, so that the
        library itself answers NOT_FOUND with its message."""
        if isinstance(value, bool):
            return ParamType.BOOL
        if _is_int(value):
            return ParamType.INT
        if isinstance(value, float):
            return ParamType.FLOAT
        if isinstance(value, (str, bytes, os.PathLike)):
            return ParamType.STRING
        raise NotFoundError(Status.NOT_FOUND, "node %s has no parameter '%s'" % (self.id, param_id))

    def __contains__(self, param_id):
        return self._descriptor.param(param_id) is not None

    def keys(self):
        return [param.id for param in self._descriptor.params]

    def set(self, **params):
        """Sets several parameters: node.set(seed=3, cfg=4.0). Returns the node."""
        for param_id, value in params.items():
            self[param_id] = value
        return self

    def update(self, params):
        for param_id, value in dict(params).items():
            self[param_id] = value

    def params(self):
        """{parameter id: current value} in descriptor order."""
        return {param_id: self[param_id] for param_id in self.keys()}

    # ---- running ----

    def _ordered_inputs(self, inputs):
        """Values in descriptor order (None: unconnected), and temporary values to release.
        inputs: None, one Value (for the first input; the others stay unconnected), a sequence
        in descriptor order, or a mapping {port id: Value or None}. A str or bytes on a TEXT port
        becomes a text value."""
        ports = self._descriptor.inputs
        if inputs is None:
            given = [None] * len(ports)
        elif isinstance(inputs, (Value, str, bytes)):
            given = [inputs] + [None] * max(0, len(ports) - 1)
        elif isinstance(inputs, Mapping):
            given = [None] * len(ports)
            ids = [port.id for port in ports]
            for port_id, value in inputs.items():
                if port_id not in ids:
                    raise NotFoundError(Status.NOT_FOUND, "node %s has no input '%s' (inputs: %s)" % (
                        self.id, port_id, ", ".join(ids)))
                given[ids.index(port_id)] = value
        else:
            given = list(inputs)
        if len(given) != len(ports):
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "node %s has %d inputs (%s), %d given" % (
                self.id, len(ports), ", ".join(port.id for port in ports), len(given)))
        ordered, temporary = [], []
        for port, value in zip(ports, given):
            if isinstance(value, (str, bytes)) and port.type == ValueType.TEXT:
                value = Value.from_text(value, library=self._library)
                temporary.append(value)
            elif value is not None and not isinstance(value, Value):
                raise TypeMismatchError(Status.TYPE_MISMATCH, "input %s of %s takes a %s Value, got %s" % (
                    port.id, self.id, port.type.name, type(value).__name__))
            ordered.append(value)
        return ordered, temporary

    def run_async(self, inputs=None, on_progress=None, on_preview=None, on_done=None):
        """Starts a job (see _ordered_inputs for `inputs`). Callbacks run on a library thread:
        on_progress(Progress) once per step, return True to cancel; on_preview(Progress, Image)
        per step, only if given; on_done(job, status, message) once, when the result is final."""
        ordered, temporary = self._ordered_inputs(inputs)
        try:
            return submit(self, ordered, on_progress, on_preview, on_done)
        finally:
            for value in temporary:  # the job holds its own references to its inputs
                value.close()

    def run(self, inputs=None, timeout=None, on_progress=None, on_preview=None):
        """Runs a job to the end and returns {output port id: Value}; raises its failure."""
        with self.run_async(inputs, on_progress, on_preview) as job:
            try:
                return job.outputs(timeout)
            except BaseException:
                job.cancel()  # a timeout or Ctrl-C: nobody will take the outputs
                raise


def run(node, inputs=None, **options):
    """node.run(inputs, ...): {output port id: Value}."""
    return node.run(inputs, **options)
