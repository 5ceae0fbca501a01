"""``router``: the first route whose condition holds, else the default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from agents.config_types import Condition, NodeConfig, NodeRef
from agents.context import NodeContext
from agents.expressions import evaluate_condition
from agents.registry import RouteInfo, node_type

__all__ = ["Route", "RouterConfig", "router_node"]


class Route(NodeConfig):
    when: Condition
    to: NodeRef


class RouterConfig(NodeConfig):
    """Config of a ``router`` node."""

    routes: list[Route] = Field(min_length=1)
    default: NodeRef


def choose_route(state: Mapping[str, Any], config: RouterConfig, info: RouteInfo) -> str:
    for route in config.routes:
        if evaluate_condition(route.when, state):
            return route.to
    return config.default


@node_type(
    "router",
    config=RouterConfig,
    description="Branch on conditions over state",
    route=choose_route,
    routes_from_config=True,
    title="Router",
    category="Control flow",
)
async def router_node(state: Mapping[str, Any], config: RouterConfig, ctx: NodeContext) -> None:
    """Branch on conditions over state (the choice is made by the route function)."""
    return None
