"""Agent-Protocol runs: create (background), stream (SSE), wait, get, list, join, cancel.

A run request either starts the assistant's workflow on a thread (``input``) or resumes the
thread's open interrupt (``command: {"resume": ...}``, applied as a HITL decision, exactly once).
Streams, ``wait`` and ``join`` show the run's content, so they answer 404 to a reader who may not
see it (``server.auth.run_visibility``); getting and listing runs shows metadata only.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from checkpoints import TERMINAL_STATUSES
from eawe.errors import ConflictError, NotFoundError
from server.agent_protocol.encoding import jsonable
from server.agent_protocol.launch import Launched, launch
from server.agent_protocol.run_stream import final_body, follow_run
from server.agent_protocol.schemas import SUPPORTED_STREAM_MODES, RunRequest
from server.agent_protocol.thread_directory import ResolvedThread, readable_thread, resolve_thread
from server.agent_protocol.views import ap_runs
from server.deps import Principal, Requires, ResourcesDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(tags=["agent-protocol"])
_SSE_PING_SECONDS = 10


def _location(launched: Launched) -> dict[str, str]:
    return {"Content-Location": f"/threads/{launched.thread.thread_id}/runs/{launched.run_id}"}


def _sse(name: str, data: Any) -> dict[str, str]:
    return {"event": name, "data": json.dumps(jsonable(data))}


async def _content_readable(resources: ServerResources, principal: Principal, thread: ResolvedThread) -> None:
    """404 unless ``principal`` may read the content of the thread's run."""
    async with resources.database.session() as session:
        await readable_thread(session, principal, thread)


async def _stream(
    resources: ServerResources,
    principal: Principal,
    thread_id: str | None,
    body: RunRequest,
    request: Request,
) -> EventSourceResponse:
    stack = AsyncExitStack()
    # Subscribe before starting or resuming, so no event of the run can slip by.
    events = await stack.enter_async_context(resources.engine.subscribe(principal.tenant_id))
    try:
        launched = await launch(resources, principal, thread_id, body)
        await _content_readable(resources, principal, launched.thread)
    except BaseException:
        await stack.aclose()
        raise
    run = launched.thread.run
    assert run is not None

    async def parts() -> Any:
        try:
            yield _sse(
                "metadata", {"run_id": launched.run_id, "thread_id": launched.thread.thread_id, "attempt": 1}
            )
            async for name, data in follow_run(
                resources, events, run, body.modes(), launched=True, is_disconnected=request.is_disconnected
            ):
                yield _sse(name, data)
        finally:
            await stack.aclose()

    return EventSourceResponse(
        parts(), headers=_location(launched), ping=_SSE_PING_SECONDS, background=BackgroundTask(stack.aclose)
    )


async def _wait(
    resources: ServerResources,
    principal: Principal,
    thread_id: str | None,
    body: RunRequest,
    request: Request,
) -> JSONResponse:
    async with resources.engine.subscribe(principal.tenant_id) as events:
        launched = await launch(resources, principal, thread_id, body)
        await _content_readable(resources, principal, launched.thread)
        assert launched.thread.run is not None
        async for _ in follow_run(
            resources,
            events,
            launched.thread.run,
            {"values"},
            launched=True,
            is_disconnected=request.is_disconnected,
        ):
            pass
    return JSONResponse(await final_body(resources, launched.thread.run), headers=_location(launched))


async def _create(
    resources: ServerResources, principal: Principal, thread_id: str | None, body: RunRequest
) -> JSONResponse:
    launched = await launch(resources, principal, thread_id, body)
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, launched.thread.thread_id)
        runs = await ap_runs(session, thread)
    view = next(r for r in runs if r["run_id"] == launched.run_id)
    return JSONResponse(view, headers=_location(launched))


@router.post("/threads/{thread_id}/runs/stream", summary="Start or resume a run and stream it (SSE)")
async def stream_run(
    thread_id: str,
    body: RunRequest,
    request: Request,
    principal: Requires.RUNS_CREATE,
    resources: ResourcesDep,
) -> EventSourceResponse:
    return await _stream(resources, principal, thread_id, body, request)


@router.post("/runs/stream", summary="Start a run on a new thread and stream it (SSE)")
async def stream_run_stateless(
    body: RunRequest, request: Request, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> EventSourceResponse:
    return await _stream(resources, principal, None, body, request)


@router.post("/threads/{thread_id}/runs/wait", summary="Start or resume a run and wait for it to settle")
async def wait_run(
    thread_id: str,
    body: RunRequest,
    request: Request,
    principal: Requires.RUNS_CREATE,
    resources: ResourcesDep,
) -> JSONResponse:
    return await _wait(resources, principal, thread_id, body, request)


@router.post("/runs/wait", summary="Start a run on a new thread and wait for it to settle")
async def wait_run_stateless(
    body: RunRequest, request: Request, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    return await _wait(resources, principal, None, body, request)


@router.post("/threads/{thread_id}/runs", summary="Start or resume a run in the background")
async def create_run(
    thread_id: str, body: RunRequest, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    return await _create(resources, principal, thread_id, body)


@router.post("/runs", summary="Start a run on a new thread in the background")
async def create_run_stateless(
    body: RunRequest, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    return await _create(resources, principal, None, body)


async def _thread_and_run(
    resources: ServerResources, principal: Principal, thread_id: str, run_id: str
) -> tuple[ResolvedThread, dict[str, Any], bool]:
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, thread_id)
        runs = await ap_runs(session, thread)
    for index, view in enumerate(runs):
        if view["run_id"] == run_id:
            return thread, view, index == len(runs) - 1
    raise NotFoundError("run", run_id)


@router.get("/threads/{thread_id}/runs", summary="Runs of a thread, newest first")
async def list_runs(
    thread_id: str,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> list[dict[str, Any]]:
    async with resources.database.session() as session:
        runs = await ap_runs(session, await resolve_thread(session, principal.tenant_id, thread_id))
    newest_first = [r for r in reversed(runs) if status is None or r["status"] == status]
    return newest_first[offset : offset + min(limit, resources.settings.page_size_max)]


@router.get("/threads/{thread_id}/runs/{run_id}", summary="Get a run")
async def get_run(
    thread_id: str, run_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    return (await _thread_and_run(resources, principal, thread_id, run_id))[1]


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run to settle; returns the state")
async def join_run(
    thread_id: str, run_id: str, request: Request, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> JSONResponse:
    async with resources.engine.subscribe(principal.tenant_id) as events:
        thread, _view, latest = await _thread_and_run(resources, principal, thread_id, run_id)
        await _content_readable(resources, principal, thread)
        assert thread.run is not None
        if latest:
            async for _ in follow_run(
                resources,
                events,
                thread.run,
                {"values"},
                launched=False,
                is_disconnected=request.is_disconnected,
            ):
                pass
    return JSONResponse(await final_body(resources, thread.run))


@router.get("/threads/{thread_id}/runs/{run_id}/stream", summary="Join a run's stream (SSE)")
async def join_run_stream(
    thread_id: str,
    run_id: str,
    request: Request,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
) -> EventSourceResponse:
    stack = AsyncExitStack()
    events = await stack.enter_async_context(resources.engine.subscribe(principal.tenant_id))
    try:
        thread, _view, latest = await _thread_and_run(resources, principal, thread_id, run_id)
        await _content_readable(resources, principal, thread)
    except BaseException:
        await stack.aclose()
        raise
    modes = {m for m in (stream_mode or ["values"]) if m in SUPPORTED_STREAM_MODES} or {"values"}
    run = thread.run
    assert run is not None

    async def parts() -> Any:
        try:
            if latest:
                async for name, data in follow_run(
                    resources, events, run, modes, launched=False, is_disconnected=request.is_disconnected
                ):
                    yield _sse(name, data)
        finally:
            await stack.aclose()

    return EventSourceResponse(parts(), ping=_SSE_PING_SECONDS, background=BackgroundTask(stack.aclose))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202, summary="Cancel a run")
async def cancel_run(
    thread_id: str, run_id: str, principal: Requires.RUNS_CONTROL, resources: ResourcesDep
) -> Response:
    thread, _view, latest = await _thread_and_run(resources, principal, thread_id, run_id)
    assert thread.run is not None
    if not latest or thread.run.status in TERMINAL_STATUSES:
        raise ConflictError(f"run {run_id} has already finished", field="run_id")
    await resources.engine.cancel(principal.tenant_id, thread.run.id, actor_id=principal.user_id)
    return Response(status_code=202)
