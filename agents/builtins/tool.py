"""``tool``: an HTTP call to a configured endpoint, optionally with a stored credential."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from agents.config_types import NodeConfig, StateKey, TemplateValue
from agents.context import NodeContext
from agents.http_calls import HttpRequest, perform_http_request
from agents.registry import node_type
from agents.templates import render_value

__all__ = ["ToolConfig", "tool_node"]


class ToolConfig(NodeConfig):
    """Config of a ``tool`` node: ``args`` are rendered over state and offered to ``request`` as ``args``."""

    request: HttpRequest
    args: dict[str, TemplateValue] = Field(default_factory=dict)
    output: StateKey
    output_mode: Literal["body", "response"] = Field(
        default="body", description="'body': the parsed body; 'response': {status_code, body}"
    )


@node_type(
    "tool",
    config=ToolConfig,
    description="Call an HTTP endpoint",
    default_max_attempts=3,
    title="HTTP tool",
    category="Integrations",
)
async def tool_node(state: Mapping[str, Any], config: ToolConfig, ctx: NodeContext) -> dict[str, Any]:
    """Call an HTTP endpoint."""
    args = render_value(config.args, state)
    result = await perform_http_request(config.request, {**state, "args": args}, ctx)
    return {config.output: result["body"] if config.output_mode == "body" else result}
