"""Node descriptors as Python dataclasses, copied out of the library's structs.

What a host needs to list nodes and build its UI and graph generically: ports with their value
types, parameters with their type, range, default and choices.
"""

from dataclasses import dataclass
from typing import Optional, Tuple, Union

from . import _abi
from ._abi import ParamType, ValueType


def _text(raw):
    return raw.decode("utf-8", "replace") if raw is not None else ""


@dataclass(frozen=True)
class PortDescriptor:
    id: str
    type: ValueType
    display_name: str
    description: str
    flags: int

    @property
    def optional(self):
        return bool(self.flags & _abi.PORT_FLAG_OPTIONAL)

    @classmethod
    def from_c(cls, port):
        return cls(_text(port.id), ValueType(port.type), _text(port.display_name), _text(port.description), port.flags)


Number = Union[int, float]


@dataclass(frozen=True)
class ParamDescriptor:
    """minimum/maximum: the range of an INT (ints) or FLOAT (floats), None otherwise. default:
    int, float, bool, str (STRING) or the choice id (ENUM)."""

    id: str
    type: ParamType
    display_name: str
    description: str
    flags: int
    default: Union[int, float, bool, str]
    minimum: Optional[Number] = None
    maximum: Optional[Number] = None
    choices: Tuple[str, ...] = ()

    @property
    def advanced(self):
        return bool(self.flags & _abi.PARAM_FLAG_ADVANCED)

    @property
    def is_path(self):
        return bool(self.flags & _abi.PARAM_FLAG_PATH)

    @property
    def multiline(self):
        return bool(self.flags & _abi.PARAM_FLAG_MULTILINE)

    @classmethod
    def from_c(cls, param):
        kind = ParamType(param.type)
        common = (_text(param.id), kind, _text(param.display_name), _text(param.description), param.flags)
        if kind == ParamType.INT:
            return cls(*common, default=param.int_default, minimum=param.int_min, maximum=param.int_max)
        if kind == ParamType.FLOAT:
            return cls(*common, default=param.float_default, minimum=param.float_min, maximum=param.float_max)
        if kind == ParamType.BOOL:
            return cls(*common, default=bool(param.int_default))
        if kind == ParamType.STRING:
            return cls(*common, default=_text(param.string_default))
        choices = tuple(_text(param.choices[k]) for k in range(param.choice_count))
        default = choices[param.int_default] if 0 <= param.int_default < len(choices) else ""
        return cls(*common, default=default, choices=choices)


@dataclass(frozen=True)
class NodeDescriptor:
    id: str
    version: Tuple[int, int]
    display_name: str
    category: str
    description: str
    flags: int
    inputs: Tuple[PortDescriptor, ...]
    outputs: Tuple[PortDescriptor, ...]
    params: Tuple[ParamDescriptor, ...]

    @property
    def reports_progress(self):
        return bool(self.flags & _abi.NODE_FLAG_PROGRESS)

    @property
    def sends_previews(self):
        return bool(self.flags & _abi.NODE_FLAG_PREVIEW)

    def input(self, port_id):
        return _by_id(self.inputs, port_id)

    def output(self, port_id):
        return _by_id(self.outputs, port_id)

    def param(self, param_id):
        return _by_id(self.params, param_id)

    @classmethod
    def from_c(cls, desc):
        """desc: an _abi.NodeDesc (library-owned; everything is copied)."""
        return cls(
            id=_text(desc.id),
            version=(desc.version_major, desc.version_minor),
            display_name=_text(desc.display_name),
            category=_text(desc.category),
            description=_text(desc.description),
            flags=desc.flags,
            inputs=tuple(PortDescriptor.from_c(desc.inputs[k].contents) for k in range(desc.input_count)),
            outputs=tuple(PortDescriptor.from_c(desc.outputs[k].contents) for k in range(desc.output_count)),
            params=tuple(ParamDescriptor.from_c(desc.params[k].contents) for k in range(desc.param_count)),
        )


def _by_id(items, item_id):
    """The item with that id, or None."""
    for item in items:
        if item.id == item_id:
            return item
    return None
