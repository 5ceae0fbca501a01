"""``transform``: set fields from templates or literals, rename fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from agents.config_types import NodeConfig, StateKey, TemplateValue
from agents.context import NodeContext
from agents.registry import node_type
from agents.templates import render_value

__all__ = ["TransformConfig", "transform_node"]


class TransformConfig(NodeConfig):
    """Config of a ``transform`` node. ``set`` runs first, then ``rename`` (old name → new name)."""

    set: dict[StateKey, TemplateValue] = Field(default_factory=dict)
    rename: dict[StateKey, StateKey] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_empty(self) -> TransformConfig:
        if not self.set and not self.rename:
            raise ValueError("give at least one of 'set' or 'rename'")
        return self


@node_type(
    "transform",
    config=TransformConfig,
    description="Set or rename state fields",
    title="Transform",
    category="Data",
)
async def transform_node(
    state: Mapping[str, Any], config: TransformConfig, ctx: NodeContext
) -> dict[str, Any]:
    """Set or rename state fields."""
    update = {field: render_value(value, state) for field, value in config.set.items()}
    view = {**state, **update}
    for old, new in config.rename.items():
        update[new] = view.get(old)
        update[old] = None
    return update
