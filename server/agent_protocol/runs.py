"""Agent-Protocol runs: create (background), stream (SSE), wait, get, list, join, cancel, delete.

Streams, ``wait`` and ``join`` show the run's content, so they answer 404 to a reader who may not
see it (``server.auth.run_visibility``); getting and listing runs shows metadata only. Every
stream is read from the run's stored parts, so ``Last-Event-ID`` resumes it where it stopped.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from eawe.db.models import RunStatus, WorkflowRun
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories.runs import get_run as get_run_row
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError
from server.agent_protocol.launch import launch
from server.agent_protocol.run_stream import final_body, follow_stream, settled, wait_settled
from server.agent_protocol.schemas import RunRequest, RunsCancel
from server.agent_protocol.views import run_view
from server.auth.run_visibility import can_read_run_content
from server.deps import Principal, Requires, ResourcesDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(tags=["agent-protocol"])
_SSE_PING_SECONDS = 10
_STATUS_FILTER = {
    "pending": [RunStatus.PENDING],
    "running": [RunStatus.RUNNING],
    "success": [RunStatus.COMPLETED, RunStatus.PAUSED_FOR_APPROVAL],
    "error": [RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR],
    "interrupted": [RunStatus.CANCELLED],
}


def _run_modes(run: WorkflowRun) -> list[str]:
    mode = (run.kwargs or {}).get("stream_mode") or ["values"]
    return [mode] if isinstance(mode, str) else list(mode)


def _location(run: WorkflowRun) -> dict[str, str]:
    return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.id}"}


async def _thread_run(
    resources: ServerResources, principal: Principal, thread_id: str, run_id: str, *, content: bool = False
) -> WorkflowRun:
    async with resources.database.session() as session:
        run = await get_run_row(session, principal.tenant_id, run_id)
        if run.thread_id != thread_id:
            raise NotFoundError("run", run_id)
        if content and not await can_read_run_content(session, principal, run):
            raise NotFoundError("run", run_id)
    return run


def _sse(
    resources: ServerResources,
    principal: Principal,
    run: WorkflowRun,
    request: Request,
    after_seq: int = 0,
    cancel_on_disconnect: bool = False,
    modes: list[str] | None = None,
) -> EventSourceResponse:
    wanted = set(modes or _run_modes(run))

    async def parts() -> Any:
        try:
            async for seq, event, data in follow_stream(
                resources,
                principal.tenant_id,
                run.id,
                after_seq=after_seq,
                modes=wanted,
                is_disconnected=request.is_disconnected,
            ):
                yield {"event": event, "data": json.dumps(data), "id": str(seq)}
        finally:
            if cancel_on_disconnect and await request.is_disconnected():
                await _cancel_quietly(resources, principal, run.id)

    return EventSourceResponse(parts(), headers=_location(run), ping=_SSE_PING_SECONDS)


async def _cancel_quietly(resources: ServerResources, principal: Principal, run_id: str) -> None:
    try:
        await resources.engine.cancel(principal.tenant_id, run_id, actor_id=principal.user_id)
    except ConflictError:
        pass  # it finished meanwhile


async def _wait_settled(
    resources: ServerResources, principal: Principal, run_id: str, request: Request | None
) -> None:
    await wait_settled(
        resources, principal.tenant_id, run_id, is_disconnected=request.is_disconnected if request else None
    )


async def _start_stream(
    resources: ServerResources,
    principal: Principal,
    thread_id: str | None,
    body: RunRequest,
    request: Request,
) -> EventSourceResponse:
    # A decision continues the thread's paused workflow run: stream its parts from here on.
    # Read where its stream stands before deciding, so the worker cannot get ahead of us.
    before: WorkflowRun | None = None
    if thread_id is not None:
        async with resources.database.session() as session:
            before = await thread_repo.latest_run(session, principal.tenant_id, thread_id)
            seq = await thread_repo.last_stream_seq(session, before.id) if before is not None else 0
    run = await launch(resources, principal, thread_id, body)
    return _sse(
        resources,
        principal,
        run,
        request,
        after_seq=seq if before is not None and before.id == run.id else 0,
        cancel_on_disconnect=body.on_disconnect == "cancel",
        modes=body.modes(),
    )


async def _start_wait(
    resources: ServerResources,
    principal: Principal,
    thread_id: str | None,
    body: RunRequest,
    request: Request,
) -> JSONResponse:
    run = await launch(resources, principal, thread_id, body)
    await _wait_settled(resources, principal, run.id, request)
    if body.on_disconnect == "cancel" and await request.is_disconnected():
        await _cancel_quietly(resources, principal, run.id)
    return JSONResponse(await final_body(resources, principal.tenant_id, run.id), headers=_location(run))


@router.post("/threads/{thread_id}/runs/stream", summary="Start a run on a thread and stream it (SSE)")
async def stream_run(
    thread_id: str,
    body: RunRequest,
    request: Request,
    principal: Requires.RUNS_CREATE,
    resources: ResourcesDep,
) -> EventSourceResponse:
    return await _start_stream(resources, principal, thread_id, body, request)


@router.post("/runs/stream", summary="Start a run on a new thread and stream it (SSE)")
async def stream_run_stateless(
    body: RunRequest, request: Request, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> EventSourceResponse:
    return await _start_stream(resources, principal, None, body, request)


@router.post("/threads/{thread_id}/runs/wait", summary="Start a run on a thread and wait for it to settle")
async def wait_run(
    thread_id: str,
    body: RunRequest,
    request: Request,
    principal: Requires.RUNS_CREATE,
    resources: ResourcesDep,
) -> JSONResponse:
    return await _start_wait(resources, principal, thread_id, body, request)


@router.post("/runs/wait", summary="Start a run on a new thread and wait for it to settle")
async def wait_run_stateless(
    body: RunRequest, request: Request, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    return await _start_wait(resources, principal, None, body, request)


@router.post("/threads/{thread_id}/runs", summary="Start a run on a thread in the background")
async def create_run(
    thread_id: str, body: RunRequest, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    run = await launch(resources, principal, thread_id, body)
    return JSONResponse(run_view(run), headers=_location(run))


@router.post("/runs", summary="Start a run on a new thread in the background")
async def create_run_stateless(
    body: RunRequest, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> JSONResponse:
    run = await launch(resources, principal, None, body)
    return JSONResponse(run_view(run), headers=_location(run))


@router.post("/runs/batch", summary="Start several runs on new threads in the background")
async def create_runs_batch(
    bodies: list[RunRequest], principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> list[dict[str, Any]]:
    if len(bodies) > 100:
        raise ValidationError(Problem("body", "at most 100 runs per batch"))
    return [run_view(await launch(resources, principal, None, body)) for body in bodies]


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
        await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        runs = await thread_repo.thread_runs(session, principal.tenant_id, thread_id, limit=1000)
    wanted = _STATUS_FILTER.get(status or "", None)
    views = [run_view(r) for r in runs if wanted is None or r.status in wanted]
    return views[offset : offset + min(limit, resources.settings.page_size_max)]


@router.get("/threads/{thread_id}/runs/{run_id}", summary="Get a run")
async def get_run(
    thread_id: str, run_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    return run_view(await _thread_run(resources, principal, thread_id, run_id))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204, summary="Delete a settled run's stream")
async def delete_run(
    thread_id: str, run_id: str, principal: Requires.RUNS_CONTROL, resources: ResourcesDep
) -> Response:
    run = await _thread_run(resources, principal, thread_id, run_id)
    if not settled(run):
        raise ConflictError(f"run {run_id} is still {run.status.value}; cancel it first", field="run_id")
    async with resources.database.transaction() as session:
        await thread_repo.detach_run(session, principal.tenant_id, run_id)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run to settle; returns the state")
async def join_run(
    thread_id: str, run_id: str, request: Request, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> JSONResponse:
    run = await _thread_run(resources, principal, thread_id, run_id, content=True)
    await _wait_settled(resources, principal, run.id, request)
    return JSONResponse(await final_body(resources, principal.tenant_id, run.id))


@router.get("/threads/{thread_id}/runs/{run_id}/stream", summary="Join a run's stream (SSE)")
async def join_run_stream(
    thread_id: str,
    run_id: str,
    request: Request,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    cancel_on_disconnect: Annotated[bool, Query()] = False,
    stream_mode: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> EventSourceResponse:
    run = await _thread_run(resources, principal, thread_id, run_id, content=True)
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return _sse(
        resources,
        principal,
        run,
        request,
        after_seq=after,
        cancel_on_disconnect=cancel_on_disconnect,
        modes=stream_mode,
    )


async def _cancel(
    resources: ServerResources,
    principal: Principal,
    run: WorkflowRun,
    action: Literal["interrupt", "rollback"],
    wait: bool,
) -> None:
    if settled(run) and run.status != RunStatus.PAUSED_FOR_APPROVAL:
        raise ConflictError(f"run {run.id} has already finished", field="run_id")
    await resources.engine.cancel(principal.tenant_id, run.id, actor_id=principal.user_id, action=action)
    if wait:
        await asyncio.wait_for(_wait_settled(resources, principal, run.id, None), timeout=60)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202, summary="Cancel a run")
async def cancel_run(
    thread_id: str,
    run_id: str,
    principal: Requires.RUNS_CONTROL,
    resources: ResourcesDep,
    wait: Annotated[bool, Query()] = False,
    action: Annotated[Literal["interrupt", "rollback"], Query()] = "interrupt",
) -> Response:
    run = await _thread_run(resources, principal, thread_id, run_id)
    await _cancel(resources, principal, run, action, wait)
    return Response(status_code=204 if wait else 202)


@router.post("/runs/cancel", status_code=204, summary="Cancel runs by id, by thread or by status")
async def cancel_runs(
    body: RunsCancel,
    principal: Requires.RUNS_CONTROL,
    resources: ResourcesDep,
    action: Annotated[Literal["interrupt", "rollback"], Query()] = "interrupt",
) -> Response:
    async with resources.database.session() as session:
        if body.run_ids:
            runs = [await get_run_row(session, principal.tenant_id, rid) for rid in body.run_ids]
            if body.thread_id and any(r.thread_id != body.thread_id for r in runs):
                raise NotFoundError("run")
        elif body.thread_id:
            runs = await thread_repo.active_runs(session, principal.tenant_id, body.thread_id)
        elif body.status:
            runs = await thread_repo.tenant_active_runs(session, principal.tenant_id, body.status)
        else:
            raise ValidationError(Problem("run_ids", "give run_ids, thread_id or status"))
    for run in runs:
        await _cancel(resources, principal, run, action, wait=False)
    return Response(status_code=204)
