"""A small MCP server for the ``mcp_tool`` tests, on 127.0.0.1, that demands a bearer token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from mcp.server.fastmcp import Context, FastMCP
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class StubMcpServer:
    url: str
    calls: list[str] = field(default_factory=list)
    keys: list[tuple[str | None, str | None]] = field(default_factory=list)
    """Per ``place_order`` call: the idempotency key in ``_meta`` and in the HTTP header."""


def _build(token: str, calls: list[str], keys: list[tuple[str | None, str | None]]) -> ASGIApp:
    mcp = FastMCP("stub-orders", stateless_http=True, json_response=True)

    @mcp.tool()
    async def place_order(item: str, ctx: Context) -> dict[str, str]:
        """Places an order (a side effect). The first call hangs, so the caller times out and retries."""
        meta = ctx.request_context.meta
        request = ctx.request_context.request
        keys.append(
            (
                (meta.model_extra or {}).get("idempotencyKey") if meta is not None else None,
                request.headers.get("idempotency-key") if request is not None else None,
            )
        )
        calls.append(f"place_order:{item}")
        if len(keys) == 1:
            await asyncio.sleep(5)
        return {"item": item, "status": "placed"}

    @mcp.tool()
    def lookup_order(order_id: str) -> dict[str, str]:
        """The status of an order."""
        calls.append(f"lookup_order:{order_id}")
        return {"order_id": order_id, "status": "shipped"}

    @mcp.tool()
    def whoami(ctx: Context) -> str:
        """Echoes the Authorization header it received (a server that reflects secrets)."""
        calls.append("whoami")
        request = ctx.request_context.request
        return f"you sent {request.headers.get('authorization') if request else None}"

    @mcp.tool()
    def delete_everything() -> str:
        """A tool no tenant allows."""
        calls.append("delete_everything")
        return "deleted"

    inner = mcp.streamable_http_app()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                calls.append("unauthorized")
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
        await inner(scope, receive, send)

    return guarded


@asynccontextmanager
async def running_stub_mcp_server(token: str) -> AsyncIterator[StubMcpServer]:
    calls: list[str] = []
    keys: list[tuple[str | None, str | None]] = []
    server = uvicorn.Server(
        uvicorn.Config(
            _build(token, calls, keys), host="127.0.0.1", port=0, lifespan="on", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield StubMcpServer(url=f"http://127.0.0.1:{port}/mcp", calls=calls, keys=keys)
    finally:
        server.should_exit = True
        await task
