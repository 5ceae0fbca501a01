"""``mcp_tool``: call one tool of an MCP server the tenant configured (``/v1/mcp-servers``).

The server's URL, transport, credential and allowed tools come from the tenant's configuration
through the run context — never from the definition or graph state — so a workflow can reach
only servers its own tenant set up, and only the tools listed there. The credential is sent as a
bearer token; its value is added to the run's scrubber before use, and the tool's result is
scrubbed before it goes into state.

Every ``tools/call`` carries the call's idempotency key (``agents.http_calls.idempotency_key``:
thread, task and call number, stable when the task is re-executed after a crash, a retry or a
recovery) twice: in the request's ``_meta`` (``idempotencyKey``, for the MCP server itself) and
as the ``Idempotency-Key`` header of the HTTP request that carries it (for a gateway in front).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
from mcp import ClientSession, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import Field

from agents.config_types import NodeConfig, StateKey, TemplateValue
from agents.context import McpServerSpec, NodeContext
from agents.http_calls import IDEMPOTENCY_HEADER, ToolCallError, idempotency_key
from agents.registry import node_type
from agents.templates import render_value

__all__ = [
    "IDEMPOTENCY_META",
    "McpToolCallError",
    "McpToolConfig",
    "call_mcp_tool",
    "list_mcp_tools",
    "mcp_tool_node",
]

IDEMPOTENCY_META = "idempotencyKey"
"""The ``_meta`` field of a ``tools/call`` request that holds its idempotency key."""


class McpToolCallError(ToolCallError):
    """The MCP server could not be reached, timed out (retryable), or refused the call (not)."""


class McpToolConfig(NodeConfig):
    """Config of an ``mcp_tool`` node: ``arguments`` are rendered over state and sent to ``tool``."""

    server: str = Field(min_length=1, description="Name or id of one of the tenant's MCP servers")
    tool: str = Field(min_length=1, max_length=128, description="A tool the server's configuration allows")
    arguments: dict[str, TemplateValue] = Field(default_factory=dict)
    output: StateKey
    timeout_s: float = Field(default=30.0, gt=0, le=300, description="Bound on connecting and the call")


def _result_value(result: types.CallToolResult) -> Any:
    if result.structuredContent is not None:
        return result.structuredContent
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    return texts[0] if len(texts) == 1 else texts


class _IdempotencyHeader(httpx.Auth):
    """Adds ``Idempotency-Key`` to the HTTP request carrying the ``tools/call`` — not to the
    session's other requests (``initialize``, notifications), which would share the key."""

    requires_request_body = True

    def __init__(self, key: str) -> None:
        self.key = key

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if request.method == "POST" and _is_tool_call(request.content):
            request.headers[IDEMPOTENCY_HEADER] = self.key
        yield request


def _is_tool_call(content: bytes) -> bool:
    try:
        message = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(message, dict) and message.get("method") == "tools/call"


async def _open_session(
    stack: AsyncExitStack,
    spec: McpServerSpec,
    headers: dict[str, str],
    timeout_s: float,
    idempotency: httpx.Auth | None = None,
) -> ClientSession:
    if spec.transport == "sse":
        read, write = await stack.enter_async_context(
            sse_client(spec.url, headers=headers, timeout=timeout_s, auth=idempotency)
        )
    else:
        http = await stack.enter_async_context(
            httpx.AsyncClient(headers=headers, timeout=timeout_s, auth=idempotency)
        )
        read, write, _ = await stack.enter_async_context(streamable_http_client(spec.url, http_client=http))
    session = await stack.enter_async_context(
        ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout_s))
    )
    await session.initialize()
    return session


async def list_mcp_tools(
    spec: McpServerSpec, names: Sequence[str], ctx: NodeContext, *, timeout_s: float
) -> list[types.Tool]:
    """The server's tools named in ``names`` (all allowed ones if empty), as the server describes them.

    Raises:
        McpToolCallError: A name the configuration does not allow, or the server failed.
    """
    where = f"MCP server {spec.name!r}"
    wanted = list(names) or list(spec.allowed_tools)
    refused = [name for name in wanted if name not in spec.allowed_tools]
    if refused:
        raise McpToolCallError(f"{where}: {', '.join(refused)} not in the allowed tools", status_code=403)
    try:
        async with asyncio.timeout(timeout_s), AsyncExitStack() as stack:
            session = await _open_session(stack, spec, await _auth_headers(spec, ctx), timeout_s)
            listed = (await session.list_tools()).tools
    except TimeoutError:
        raise McpToolCallError(f"{where}: listing tools timed out after {timeout_s:g} s") from None
    except Exception as exc:  # see call_mcp_tool
        raise McpToolCallError(f"{where}: listing tools failed ({type(exc).__name__})") from None
    return [tool for tool in listed if tool.name in wanted]


async def _auth_headers(spec: McpServerSpec, ctx: NodeContext) -> dict[str, str]:
    if not spec.credential_id:
        return {}
    # The credential is revealed for the configured server only (its allowed hosts must name it).
    return {"Authorization": f"Bearer {await ctx.secret(spec.credential_id, url=spec.url, method='POST')}"}


async def call_mcp_tool(
    spec: McpServerSpec, tool: str, arguments: Mapping[str, Any], ctx: NodeContext, *, timeout_s: float
) -> Any:
    """Call ``tool`` on the configured server and return its (scrubbed) result.

    Raises:
        McpToolCallError: Not an allowed tool, the tool answered with an error, or the server
            failed or timed out (the message names the server and tool, never a secret).
    """
    where = f"MCP server {spec.name!r}, tool {tool!r}"
    if tool not in spec.allowed_tools:
        raise McpToolCallError(f"{where}: not in the server's allowed tools", status_code=403)
    headers = await _auth_headers(spec, ctx)
    key = idempotency_key(ctx)
    try:
        async with asyncio.timeout(timeout_s), AsyncExitStack() as stack:
            session = await _open_session(stack, spec, headers, timeout_s, _IdempotencyHeader(key))
            result = await session.call_tool(tool, dict(arguments), meta={IDEMPOTENCY_META: key})
    except TimeoutError:
        raise McpToolCallError(f"{where}: timed out after {timeout_s:g} s") from None
    except Exception as exc:  # transport errors arrive wrapped in task-group exception groups
        raise McpToolCallError(f"{where}: call failed ({type(exc).__name__})") from None
    value = ctx.run.scrubber.scrub_value(_result_value(result))
    if result.isError:
        raise McpToolCallError(f"{where}: the tool answered with an error: {value}"[:500], status_code=422)
    return value


@node_type(
    "mcp_tool",
    config=McpToolConfig,
    description="Call a tool of a configured MCP server",
    default_max_attempts=3,
    title="MCP tool",
    category="Integrations",
)
async def mcp_tool_node(state: Mapping[str, Any], config: McpToolConfig, ctx: NodeContext) -> dict[str, Any]:
    """Call a tool of a configured MCP server."""
    if ctx.run.mcp_servers is None:
        raise LookupError(f"node {ctx.node_id!r}: this run has no MCP server configuration")
    spec = await ctx.run.mcp_servers.get(config.server)
    arguments = render_value(config.arguments, state)
    value = await call_mcp_tool(spec, config.tool, arguments, ctx, timeout_s=config.timeout_s)
    return {config.output: value}
