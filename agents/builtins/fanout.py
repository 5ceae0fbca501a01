"""``fan_out`` and ``join``: run one node once per list item in parallel (LangGraph ``Send``), then join.

``fan_out`` sends a copy of the state, with ``item_field`` set to the item, to ``target`` for every
item of ``items``; the target's output field must be declared with reducer ``append`` so the
parallel results collect into one list. A ``join`` node waits for every incoming branch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from langgraph.types import Send
from pydantic import Field

from agents.config_types import NodeConfig, NodeRef, StateKey
from agents.context import NodeContext
from agents.registry import CheckContext, RouteInfo, node_type
from agents.templates import format_for_prompt

__all__ = ["FanOutConfig", "JoinConfig", "fan_out_node", "join_node"]


class FanOutConfig(NodeConfig):
    """Config of a ``fan_out`` node."""

    items: StateKey = Field(description="A list field; one branch per item")
    target: NodeRef = Field(description="The node each item is sent to")
    item_field: StateKey = Field(description="The field holding the item inside a branch")
    max_items: int = Field(default=100, ge=1, le=1000)
    on_empty: NodeRef = Field(default="END", description="Where to go when the list is empty")


class JoinConfig(NodeConfig):
    """Config of a ``join`` node."""

    input: StateKey = Field(description="The collected list (an 'append' field)")
    output: StateKey | None = None
    mode: Literal["list", "text"] = "list"
    separator: str = "\n\n"


def _items(state: Mapping[str, Any], config: FanOutConfig, node_id: str) -> list[Any]:
    items = state.get(config.items)
    if items is None:
        return []
    if not isinstance(items, list):
        raise TypeError(
            f"fan_out {node_id!r}: field {config.items!r} must be a list, got {type(items).__name__}"
        )
    if len(items) > config.max_items:
        raise ValueError(f"fan_out {node_id!r}: {len(items)} items exceed max_items={config.max_items}")
    return items


def send_items(state: Mapping[str, Any], config: FanOutConfig, info: RouteInfo) -> Any:
    items = _items(state, config, info.node_id)
    if not items:
        return config.on_empty
    return [Send(config.target, {**state, config.item_field: item}) for item in items]


def _check_fan_out(config: FanOutConfig, ctx: CheckContext) -> Iterator[tuple[str, str]]:
    """The parallel branches all write the target's output: it must collect them (reducer append)."""
    target = ctx.config_of(config.target)
    output = getattr(target, "output", None) if target is not None else None
    reducer = ctx.state_reducer(output) if isinstance(output, str) else None
    if reducer is not None and reducer != "append":
        message = f"branches of {config.target!r} all write {output!r}; declare it with reducer 'append'"
        yield "target", message


@node_type(
    "fan_out",
    config=FanOutConfig,
    description="Run a node once per list item, in parallel",
    route=send_items,
    routes_from_config=True,
    check=_check_fan_out,
    title="Fan-out",
    category="Control flow",
)
async def fan_out_node(state: Mapping[str, Any], config: FanOutConfig, ctx: NodeContext) -> None:
    """Check the list; the branches are sent by the route function."""
    _items(state, config, ctx.node_id)
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "\n".join(f"{key}: {format_for_prompt(item)}" for key, item in value.items())
    return format_for_prompt(value)


@node_type(
    "join",
    config=JoinConfig,
    description="Wait for all branches and combine",
    waits_for_all=True,
    title="Join",
    category="Control flow",
)
async def join_node(state: Mapping[str, Any], config: JoinConfig, ctx: NodeContext) -> dict[str, Any]:
    """Wait for all branches and combine their results."""
    values = list(state.get(config.input) or [])
    if config.output is None:
        return {}
    if config.mode == "text":
        return {config.output: config.separator.join(_as_text(v) for v in values)}
    return {config.output: values}
