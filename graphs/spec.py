"""The workflow definition JSON (``definitionGraph``) as pydantic v2 models.

``nodes[].id/type/config``, ``edges[].source/target`` and the ``START``/``END`` pseudo-nodes are
the public contract. Each node type owns the shape of its ``config`` (its pydantic model in the
node registry); here ``config`` is an open object, checked by :mod:`graphs.validation`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "END",
    "NODE_ID_PATTERN",
    "RESERVED_STATE_PREFIX",
    "START",
    "EdgeSpec",
    "NodeSpec",
    "RetrySpec",
    "StateField",
    "WorkflowDefinition",
    "canonical_json",
    "definition_hash",
]

START = "START"
END = "END"
NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
STATE_FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
RESERVED_STATE_PREFIX = "eawe_"
_RESERVED_NODE_IDS = {START, END, "__start__", "__end__", "__interrupt__"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateField(_Strict):
    """A field of the workflow state.

    ``reducer`` says how writes combine: ``replace`` (last write wins), ``append`` (writes are
    appended to a list — required for fields written by parallel branches) or ``merge`` (dict
    update). Writing ``null`` to an ``append`` or ``merge`` field clears it.
    """

    type: Literal["string", "number", "integer", "boolean", "object", "array", "any"] = "any"
    reducer: Literal["replace", "append", "merge"] = "replace"
    required: bool = Field(default=False, description="The run input must provide it")
    default: Any = None
    description: str | None = None


class RetrySpec(_Strict):
    """How often a failing node is attempted before the run pauses with an error."""

    max_attempts: int = Field(ge=1, le=10)
    initial_interval_s: float = Field(default=0.5, ge=0, le=60)
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    max_interval_s: float = Field(default=30.0, ge=0, le=600)


class NodeSpec(_Strict):
    """One node: a unique ``id``, a registered ``type`` and that type's ``config``."""

    id: str = Field(pattern=NODE_ID_PATTERN)
    type: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(default=None, description="Display name")
    description: str | None = None
    retry: RetrySpec | None = None
    ui: dict[str, Any] | None = Field(
        default=None, description="Designer metadata (position, colour); ignored"
    )

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in _RESERVED_NODE_IDS:
            raise ValueError(f"{value!r} is reserved")
        return value


class EdgeSpec(_Strict):
    """A static edge. ``source`` may be ``START``; ``target`` may be ``END``."""

    source: str = Field(min_length=1)
    target: str = Field(min_length=1)


class WorkflowDefinition(_Strict):
    """A workflow definition (the ``definitionGraph`` JSON of a WorkflowDefinition)."""

    schema_version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    state: dict[str, StateField] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(min_length=1)
    edges: list[EdgeSpec] = Field(default_factory=list)

    @field_validator("state")
    @classmethod
    def _field_names(cls, value: dict[str, StateField]) -> dict[str, StateField]:
        import re

        for name in value:
            if not re.match(STATE_FIELD_PATTERN, name):
                raise ValueError(f"state field {name!r} must match {STATE_FIELD_PATTERN}")
            if name.startswith(RESERVED_STATE_PREFIX):
                raise ValueError(f"state field {name!r}: the prefix {RESERVED_STATE_PREFIX!r} is reserved")
        return value

    def node(self, node_id: str) -> NodeSpec | None:
        """The node with this id, if any."""
        return next((n for n in self.nodes if n.id == node_id), None)


def canonical_json(value: Any) -> str:
    """Key-sorted, whitespace-free JSON: equal definitions give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_hash(definition: Mapping[str, Any] | WorkflowDefinition) -> str:
    """sha256 of the canonical JSON of a definition (the ``graphHash`` a run pins)."""
    raw = (
        definition.model_dump(mode="json", exclude_none=True)
        if isinstance(definition, BaseModel)
        else definition
    )
    return hashlib.sha256(canonical_json(raw).encode()).hexdigest()
