"""The thread-centric event stream of ``langgraph-sdk``'s ``threads.stream``: a thread's protocol
events (``checkpoints.protocol_log``) filtered by ``SubscribeParams`` (channels, namespace prefixes,
depth) from ``since`` on, over SSE (``POST /threads/{id}/stream/events``) or a websocket (the same
path), where each frame is a command (``subscription.subscribe`` sets the filter).

Events are read from the runs' stored streams, so any API process serves them and a reconnect
with ``since`` replays what it missed. The SDK opens its stream as it enters ``threads.stream``,
just before its first ``run.start`` creates the thread, so the answer to a thread id that names
no thread of the caller's tenant waits a few seconds for it to appear before it is a 404; another
tenant's thread is answered exactly so (nothing of another tenant is ever read: every query is
scoped to the caller's tenant).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from eawe.db.models import AgentThread
from eawe.db.repositories.protocol_events import protocol_events_after
from eawe.errors import EAWEError, NotFoundError, PermissionDeniedError
from server.agent_protocol.protocol_commands import dispatch, error_reply
from server.auth.permissions import Permission
from server.auth.principal import Principal, authenticate
from server.auth.run_visibility import can_read_thread_content
from server.deps import Requires, ResourcesDep
from server.problems import eawe_error_response
from server.resources import ServerResources

__all__ = ["SubscribeParams", "router"]

router = APIRouter(prefix="/threads", tags=["agent-protocol"])

_WAIT_SECONDS = 1.0
_APPEAR_SECONDS = 3.0  # below the SDK's 5 s wait for the stream's headers; it retries a 404
_APPEAR_POLL_SECONDS = 0.05
_PING_SECONDS = 15
_DIRECT = {"values", "checkpoints", "updates", "messages", "tools", "lifecycle", "tasks"}


class SubscribeParams(BaseModel):
    """Which events a subscriber wants (the protocol's ``SubscribeParams``)."""

    model_config = ConfigDict(extra="ignore")

    channels: list[str] = Field(min_length=1, max_length=50)
    namespaces: list[list[str]] | None = Field(default=None, max_length=100)
    depth: int | None = Field(default=None, ge=0, le=100)
    since: int | None = Field(default=None, ge=0)


def _channel(event: dict[str, Any]) -> str | None:
    method = event.get("method")
    if method in _DIRECT:
        return str(method)
    if method == "input.requested":
        return "input"
    if method == "custom":
        data = (event.get("params") or {}).get("data")
        name = data.get("name") if isinstance(data, dict) else None
        return f"custom:{name}" if isinstance(name, str) and name else "custom"
    return None


def _prefix_matches(namespace: list[str], prefix: list[str]) -> bool:
    """``prefix`` segments match literally, or (a segment without ``:``) the name before ``:``."""
    if len(prefix) > len(namespace):
        return False
    for want, have in zip(prefix, namespace, strict=False):
        if want != have and (":" in want or have.split(":", 1)[0] != want):
            return False
    return True


def matches(event: dict[str, Any], params: SubscribeParams) -> bool:
    channel = _channel(event)
    if channel is None:
        return False
    if channel not in params.channels and not (channel.startswith("custom:") and "custom" in params.channels):
        return False
    if not params.namespaces:
        return True
    namespace = list((event.get("params") or {}).get("namespace") or [])
    return any(
        _prefix_matches(namespace, prefix)
        and (params.depth is None or len(namespace) - len(prefix) <= params.depth)
        for prefix in params.namespaces
    )


async def _readable_thread(resources: ServerResources, principal: Principal, thread_id: str) -> None:
    """Wait (bounded) for the caller's thread to exist; 404 if it does not, or if the caller may
    not see its content."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _APPEAR_SECONDS
    while True:
        async with resources.database.session() as session:
            thread = await session.get(AgentThread, thread_id)
            if thread is not None and thread.tenant_id == principal.tenant_id:
                if await can_read_thread_content(session, principal, thread):
                    return
                raise NotFoundError("thread", thread_id)
        if loop.time() >= deadline:
            raise NotFoundError("thread", thread_id)
        await asyncio.sleep(_APPEAR_POLL_SECONDS)


async def follow_thread(
    resources: ServerResources,
    tenant_id: str,
    thread_id: str,
    params: SubscribeParams,
    is_disconnected: Callable[[], Any],
) -> AsyncIterator[dict[str, Any]]:
    """The thread's matching events after ``params.since`` (all when None), then new ones, until
    the subscriber goes away."""
    after = params.since or 0
    async with resources.engine.subscribe(tenant_id) as wakeups:
        while True:
            async with resources.database.session() as session:
                rows = await protocol_events_after(session, tenant_id, thread_id, after)
            for event in rows:
                after = int(event.get("seq") or after)
                if matches(event, params):
                    yield event
            if rows:
                continue
            if await is_disconnected():
                return
            await wakeups.next(wait_seconds=_WAIT_SECONDS)


@router.post("/{thread_id}/stream/events", summary="Follow a thread's protocol events (SSE)")
async def stream_events(
    thread_id: str,
    body: SubscribeParams,
    request: Request,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
) -> EventSourceResponse:
    await _readable_thread(resources, principal, thread_id)

    async def frames() -> AsyncIterator[dict[str, Any]]:
        async for event in follow_thread(
            resources, principal.tenant_id, thread_id, body, request.is_disconnected
        ):
            yield {"event": event.get("method"), "data": json.dumps(event), "id": str(event.get("seq"))}

    return EventSourceResponse(
        frames(), ping=_PING_SECONDS, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.websocket("/{thread_id}/stream/events")
async def stream_events_ws(websocket: WebSocket, thread_id: str) -> None:
    """Commands in, events out: ``subscription.subscribe`` (re)sets the filter the events follow;
    any other command is answered as ``POST /threads/{id}/commands`` answers it."""
    resources: ServerResources = websocket.app.state.resources
    try:
        principal = await authenticate(websocket)  # type: ignore[arg-type]  # headers and app only
        if not principal.allows(Permission.RUNS_READ):
            raise PermissionDeniedError(
                f"role {principal.role.value} may not perform {Permission.RUNS_READ.value}"
            )
        await _readable_thread(resources, principal, thread_id)
    except EAWEError as exc:  # refused at the handshake, with the status and problem a request gets
        await websocket.send_denial_response(eawe_error_response(exc))
        return
    await websocket.accept()
    closed = asyncio.Event()
    pump: asyncio.Task[None] | None = None
    send_lock = asyncio.Lock()

    async def send(payload: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(payload))

    async def gone() -> bool:
        return closed.is_set()

    async def follow(params: SubscribeParams) -> None:
        async for event in follow_thread(resources, principal.tenant_id, thread_id, params, gone):
            await send(event)

    try:
        while True:
            command = json.loads(await websocket.receive_text())
            if not isinstance(command, dict):
                await send(error_reply(None, "invalid_argument", "a command is a JSON object"))
                continue
            if command.get("method") == "subscription.subscribe":
                try:
                    params = SubscribeParams.model_validate(command.get("params") or {})
                except ValueError as exc:
                    await send(error_reply(command.get("id"), "invalid_argument", str(exc)[:500]))
                    continue
                if pump is not None:
                    pump.cancel()
                await send({"type": "success", "id": command.get("id"), "result": {"subscription_id": "1"}})
                pump = asyncio.create_task(follow(params))
            elif command.get("method") == "subscription.unsubscribe":
                if pump is not None:
                    pump.cancel()
                    pump = None
                await send({"type": "success", "id": command.get("id"), "result": {}})
            else:
                await send(await dispatch(resources, principal, thread_id, command))
    except (WebSocketDisconnect, json.JSONDecodeError):
        pass
    finally:
        closed.set()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
