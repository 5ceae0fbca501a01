"""Typed building blocks for node config models.

A node type's pydantic config model uses these annotated strings so that workflow validation
understands it without node-specific code: :data:`Template` fields are checked for references to
undeclared state fields, :data:`StateKey` fields name state fields the node reads or writes,
:data:`NodeRef` fields name other nodes (router targets, reject routes, fan-out targets) and take
part in reachability analysis, and :data:`Condition` fields are parsed when the definition is
validated, not when the run reaches them.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agents.expressions import parse_condition

__all__ = [
    "IDENTIFIER_PATTERN",
    "Condition",
    "ConfigMarker",
    "NodeConfig",
    "NodeRef",
    "StateKey",
    "Template",
    "TemplateValue",
    "find_marked",
]

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


@dataclass(frozen=True)
class ConfigMarker:
    """Tags a config field for workflow validation. ``kind`` is one of the four kinds below."""

    kind: str
    extra_roots: tuple[str, ...] = ()


TEMPLATE = ConfigMarker("template")
STATE_KEY = ConfigMarker("state_key")
NODE_REF = ConfigMarker("node_ref")
CONDITION = ConfigMarker("condition")


def _check_condition(value: str) -> str:
    parse_condition(value)  # raises ValueError with the reason
    return value


Template = Annotated[
    str,
    TEMPLATE,
    Field(
        description="Text with {field} or {field.path} placeholders over state",
        json_schema_extra={"x-eawe": "template"},
    ),
]
"""A string rendered over the graph state; ``{{`` and ``}}`` are literal braces."""

TemplateValue = Annotated[Any, TEMPLATE]
"""Any JSON value whose strings (at any depth) are templates; ``"{field}"`` alone keeps the field's type."""

StateKey = Annotated[
    str,
    STATE_KEY,
    Field(
        pattern=IDENTIFIER_PATTERN,
        description="A declared state field",
        json_schema_extra={"x-eawe": "state_key"},
    ),
]
"""The name of a state field declared in the definition's ``state``."""

NodeRef = Annotated[
    str,
    NODE_REF,
    Field(
        min_length=1,
        description="A node id of this workflow, or END",
        json_schema_extra={"x-eawe": "node_ref"},
    ),
]
"""The id of another node of the same workflow (or ``END``)."""

Condition = Annotated[
    str,
    CONDITION,
    AfterValidator(_check_condition),
    Field(
        description="Boolean expression over state, e.g. amount > 1000 and vendor.country == 'US'",
        json_schema_extra={"x-eawe": "condition"},
    ),
]
"""A boolean expression over state (see :mod:`agents.expressions`)."""


class NodeConfig(BaseModel):
    """Base class for node config models: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def find_marked(config: BaseModel, kind: str) -> list[tuple[str, Any, ConfigMarker]]:
    """Every value in ``config`` tagged with a marker of ``kind``, as ``(location, value, marker)``.

    Locations read like ``routes[0].to``. For ``TemplateValue`` every string inside the value is
    reported with its own location.
    """
    found: dict[tuple[str, str], tuple[str, Any, ConfigMarker]] = {}
    for loc, value, marker in _walk_model(config, ""):
        if marker.kind == kind:
            found.setdefault((loc, repr(value)), (loc, value, marker))
    return list(found.values())


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk_model(model: BaseModel, prefix: str) -> Iterator[tuple[str, Any, ConfigMarker]]:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        loc = _join(prefix, name)
        for meta in info.metadata:
            if isinstance(meta, ConfigMarker):
                yield from _strings(value, loc, meta)
        yield from _walk_value(info.annotation, value, loc)


def _strings(value: Any, loc: str, marker: ConfigMarker) -> Iterator[tuple[str, Any, ConfigMarker]]:
    if isinstance(value, str):
        yield loc, value, marker
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{loc}.{key}", marker)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{loc}[{index}]", marker)


def _walk_value(annotation: Any, value: Any, loc: str) -> Iterator[tuple[str, Any, ConfigMarker]]:
    if value is None:
        return
    if isinstance(value, BaseModel):
        yield from _walk_model(value, loc)
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        for meta in metadata:
            if isinstance(meta, ConfigMarker):
                yield from _strings(value, loc, meta)
        yield from _walk_value(base, value, loc)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _walk_value(arg, value, loc)
    elif origin in (list, tuple, Sequence) and isinstance(value, (list, tuple)):
        args = get_args(annotation)
        for index, item in enumerate(value):
            item_type = args[min(index, len(args) - 1)] if args and args[-1] is not Ellipsis else args[0]
            yield from _walk_value(item_type, item, f"{loc}[{index}]")
    elif origin in (dict, Mapping) and isinstance(value, Mapping):
        key_type, value_type = get_args(annotation) or (Any, Any)
        for key, item in value.items():
            yield from _walk_value(key_type, key, f"{loc}.{key}")
            yield from _walk_value(value_type, item, f"{loc}.{key}")
