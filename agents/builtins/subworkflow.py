"""``subworkflow``: run another workflow definition as a subgraph.

The referenced definition is compiled with this one (``prepare``), pinned to a published version
(the newest when ``version`` is unset) or given inline. Approvals inside the subworkflow pause the
parent run like its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import Field, model_validator

from agents.config_types import NodeConfig, StateKey, TemplateValue
from agents.context import NodeContext
from agents.registry import BuildContext, CheckContext, node_type
from agents.templates import render_value

__all__ = ["SubworkflowConfig", "subworkflow_node"]


class SubworkflowConfig(NodeConfig):
    """Config of a ``subworkflow`` node."""

    workflow_id: str | None = Field(default=None, description="A workflow of the same tenant")
    version: int | None = Field(default=None, ge=1, description="Published version; default the newest")
    definition: dict[str, Any] | None = Field(default=None, description="An inline definition instead")
    input: dict[str, TemplateValue] = Field(default_factory=dict, description="Subworkflow field → value")
    output: dict[StateKey, str] = Field(
        default_factory=dict, description="Parent field → subworkflow field path"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SubworkflowConfig:
        if (self.workflow_id is None) == (self.definition is None):
            raise ValueError("give exactly one of 'workflow_id' or 'definition'")
        if self.definition is not None and self.version is not None:
            raise ValueError("'version' applies to 'workflow_id' only")
        return self


def _prepare(config: SubworkflowConfig, build: BuildContext) -> Any:
    return build.compile_subworkflow(
        workflow_id=config.workflow_id, version=config.version, definition=config.definition
    )


def _check(config: SubworkflowConfig, ctx: CheckContext) -> Iterator[tuple[str, str]]:
    """The nested workflow is valid, and the fields mapped in and out exist in it."""
    child = ctx.check_child(
        "definition" if config.definition is not None else "workflow_id",
        workflow_id=config.workflow_id,
        version=config.version,
        definition=config.definition,
    )
    if child is None:
        return
    child_state = set(child.get("state") or {})
    for key in config.input:
        if key not in child_state:
            yield f"input.{key}", f"the subworkflow declares no state field {key!r}"
    for parent, path in config.output.items():
        if path.split(".", 1)[0] not in child_state:
            yield f"output.{parent}", f"the subworkflow declares no state field {path!r}"


def _lookup(values: Mapping[str, Any], path: str) -> Any:
    value: Any = values
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


@node_type(
    "subworkflow",
    config=SubworkflowConfig,
    description="Run another workflow",
    prepare=_prepare,
    check=_check,
    title="Subworkflow",
    category="Control flow",
)
async def subworkflow_node(
    state: Mapping[str, Any], config: SubworkflowConfig, ctx: NodeContext
) -> dict[str, Any]:
    """Run another workflow as a subgraph."""
    child_input = render_value(config.input, state)
    result = await ctx.prepared.ainvoke(child_input, context=ctx.run)
    return {parent: _lookup(result, path) for parent, path in config.output.items()}
