"""``/mcp``: EAWE as a Model Context Protocol server (Streamable HTTP, the official ``mcp`` SDK).

Stateless mode with JSON responses: every request is authenticated on its own (the same bearer
tokens and API keys as the REST API), so any API process can answer it and no MCP session lives
in one process's memory. The SDK's session manager needs a running task group: the app's
lifespan enters :meth:`McpEndpoint.running`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from eawe.db.tenant_scope import bind_tenant
from eawe.errors import EAWEError
from server.auth.principal import Principal, authenticate
from server.mcp_server.workflow_tools import call_workflow_tool, list_workflow_tools
from server.problems import problem_response
from server.resources import get_resources

__all__ = ["McpEndpoint"]

SERVER_NAME = "eawe"


def _caller(server: Server[Any, Any]) -> tuple[Request, Principal]:
    request = server.request_context.request
    if not isinstance(request, Request) or not isinstance(
        getattr(request.state, "principal", None), Principal
    ):
        raise RuntimeError("MCP request reached a handler without an authenticated principal")
    principal: Principal = request.state.principal
    # The MCP session manager runs handlers in its own tasks, outside the request's context.
    bind_tenant(principal.tenant_id)
    return request, principal


def _build_server() -> Server[Any, Any]:
    server: Server[Any, Any] = Server(
        SERVER_NAME,
        instructions=(
            "Each tool runs one published EAWE workflow as you. A run that stops for human "
            "approval returns status PAUSED_FOR_APPROVAL with its HITL task ids."
        ),
    )

    @server.list_tools()  # type: ignore[no-untyped-call, untyped-decorator]
    async def _list_tools() -> list[types.Tool]:
        # The list form (not ListToolsResult) makes the SDK replace its tool cache on each call,
        # so it only ever holds the current caller's tools.
        request, principal = _caller(server)
        return await list_workflow_tools(get_resources(request), principal)

    # The engine validates the arguments against the pinned version's state (naming the field);
    # the SDK's check would use a cached schema that may be stale after a new publish.
    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator]
    async def _call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        request, principal = _caller(server)
        try:
            return await call_workflow_tool(get_resources(request), principal, name, arguments)
        except EAWEError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{exc.title}: {exc}")], isError=True
            )

    return server


class McpEndpoint:
    """The ASGI app served at ``/mcp``: authentication, then the SDK's Streamable HTTP transport."""

    def __init__(self) -> None:
        self.server = _build_server()
        self.session_manager = StreamableHTTPSessionManager(
            app=self.server, stateless=True, json_response=True
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session manager's task group (once per app lifespan).

        The SDK's task group must be left by the task that entered it, while an app's lifespan may
        be entered and left by different tasks (pytest fixtures do), so it lives in a task of its own.
        """
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.session_manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold(), name="eawe-mcp-sessions")
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # the manager failed to start: raise its error
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            await authenticate(request)  # the principal lands in scope["state"], seen by the handlers
        except EAWEError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            response = problem_response(exc.status_code, exc.title, str(exc), headers=headers)
            await response(scope, receive, send)
            return
        await self.session_manager.handle_request(scope, receive, send)
