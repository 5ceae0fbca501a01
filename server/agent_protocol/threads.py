"""Agent-Protocol threads: create, get, patch, delete, search, count, copy, prune, state (get,
update, at a checkpoint), history and the thread's stream.

A reader who may not see a thread's content (``server.auth.run_visibility``) gets it without
``values`` from get and search, and 404 from state, history and stream, which exist only to show
content.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette import EventSourceResponse

from eawe.db.models import AgentThread
from eawe.db.repositories import threads as thread_repo
from eawe.errors import NotFoundError, Problem, ValidationError
from server.agent_protocol.run_stream import follow_stream
from server.agent_protocol.schemas import (
    HistoryRequest,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    ThreadStateCheckpoint,
    ThreadStateUpdate,
)
from server.agent_protocol.views import empty_state_view, snapshot_view, thread_view
from server.auth.run_visibility import can_read_thread_content
from server.deps import Principal, Requires, ResourcesDep, SessionDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(prefix="/threads", tags=["agent-protocol"])


async def _readable(resources: ServerResources, principal: Principal, thread_id: str) -> AgentThread:
    """The thread, for a route that shows its content; 404 to a reader who may not see it."""
    async with resources.database.session() as session:
        thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        if not await can_read_thread_content(session, principal, thread):
            raise NotFoundError("thread", thread_id)
    return thread


async def _view(
    resources: ServerResources, principal: Principal, thread: AgentThread, session: Any
) -> dict[str, Any]:
    content = await can_read_thread_content(session, principal, thread)
    last = await thread_repo.latest_run(session, principal.tenant_id, thread.id)
    snapshot = await resources.engine.threads.state(principal.tenant_id, thread.id) if content else None
    return thread_view(
        thread, snapshot, content=content, error=last.error if last and thread.status == "error" else None
    )


@router.post("", summary="Create a thread")
async def create_thread(
    body: ThreadCreate, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.transaction() as session:
        thread = await thread_repo.create_thread(
            session,
            principal.tenant_id,
            thread_id=body.thread_id,
            metadata=body.metadata,
            created_by_id=principal.user_id,
            graph_id=body.graph_id,
            if_exists=body.if_exists or "raise",
        )
    async with resources.database.session() as session:
        return await _view(resources, principal, thread, session)


@router.post("/search", summary="Search threads")
async def search_threads(
    body: ThreadSearch, principal: Requires.RUNS_READ, session: SessionDep, resources: ResourcesDep
) -> list[dict[str, Any]]:
    threads = await thread_repo.search_threads(
        session,
        principal.tenant_id,
        metadata=body.metadata,
        ids=body.ids,
        status=body.status,
        limit=min(body.limit, resources.settings.page_size_max),
        offset=body.offset,
        sort_by=body.sort_by or "created_at",
        sort_order=body.sort_order or "desc",
    )
    views = []
    for thread in threads:
        content = await can_read_thread_content(session, principal, thread)
        snapshot = await resources.engine.threads.state(principal.tenant_id, thread.id) if content else None
        views.append(thread_view(thread, snapshot, content=content))
    return views


@router.post("/count", summary="Count threads")
async def count_threads(body: ThreadSearch, principal: Requires.RUNS_READ, session: SessionDep) -> int:
    return await thread_repo.count_threads(
        session, principal.tenant_id, metadata=body.metadata, ids=body.ids, status=body.status
    )


@router.post("/prune", summary="Delete threads, or keep only their latest checkpoint")
async def prune_threads(
    body: ThreadPrune, principal: Requires.RUNS_CONTROL, resources: ResourcesDep
) -> dict[str, int]:
    pruned = await resources.engine.threads.prune(
        principal.tenant_id, body.thread_ids, strategy=body.strategy
    )
    return {"pruned_count": pruned}


@router.get("/{thread_id}", summary="Get a thread")
async def get_thread(
    thread_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.session() as session:
        thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        return await _view(resources, principal, thread, session)


@router.patch("/{thread_id}", summary="Update a thread's metadata (merged)")
async def patch_thread(
    thread_id: str, body: ThreadPatch, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.transaction() as session:
        thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id, for_update=True)
        if body.metadata is not None:
            thread.metadata_ = {**(thread.metadata_ or {}), **body.metadata}
            await session.flush()
    async with resources.database.session() as session:
        thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        return await _view(resources, principal, thread, session)


@router.delete("/{thread_id}", status_code=204, summary="Delete a thread and its checkpoints")
async def delete_thread(thread_id: str, principal: Requires.RUNS_CREATE, resources: ResourcesDep) -> Response:
    await _readable(resources, principal, thread_id)
    await resources.engine.threads.delete(principal.tenant_id, thread_id, actor_id=principal.user_id)
    return Response(status_code=204)


@router.post("/{thread_id}/copy", summary="Copy a thread with its checkpoints")
async def copy_thread(
    thread_id: str, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    await _readable(resources, principal, thread_id)
    copied = await resources.engine.threads.copy(principal.tenant_id, thread_id, actor_id=principal.user_id)
    async with resources.database.session() as session:
        return await _view(resources, principal, copied, session)


async def _state(
    resources: ServerResources,
    principal: Principal,
    thread_id: str,
    checkpoint_id: str | None = None,
    subgraphs: bool = False,
) -> dict[str, Any]:
    await _readable(resources, principal, thread_id)
    snapshot = await resources.engine.threads.state(
        principal.tenant_id, thread_id, checkpoint_id=checkpoint_id, subgraphs=subgraphs
    )
    return empty_state_view() if snapshot is None else snapshot_view(snapshot, thread_id)


@router.get("/{thread_id}/state", summary="The thread's current state")
async def get_thread_state(
    thread_id: str,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    subgraphs: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    return await _state(resources, principal, thread_id, subgraphs=subgraphs)


@router.post("/{thread_id}/state", summary="Update the thread's state as if a node returned the values")
async def update_thread_state(
    thread_id: str, body: ThreadStateUpdate, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    await _readable(resources, principal, thread_id)
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    config = await resources.engine.threads.update(
        principal.tenant_id,
        thread_id,
        body.values,
        as_node=body.as_node,
        checkpoint_id=checkpoint_id,
        actor_id=principal.user_id,
    )
    configurable = dict(config.get("configurable") or {})
    return {"checkpoint": {**configurable, "thread_id": thread_id}}


@router.post("/{thread_id}/state/checkpoint", summary="The thread's state at a checkpoint")
async def get_thread_state_checkpoint(
    thread_id: str, body: ThreadStateCheckpoint, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    checkpoint_id = body.checkpoint.get("checkpoint_id")
    if not isinstance(checkpoint_id, str):
        raise ValidationError(Problem("checkpoint.checkpoint_id", "is required"))
    return await _state(resources, principal, thread_id, checkpoint_id, body.subgraphs)


@router.get("/{thread_id}/state/{checkpoint_id}", summary="The thread's state at a checkpoint")
async def get_thread_state_at(
    thread_id: str,
    checkpoint_id: str,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    subgraphs: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    return await _state(resources, principal, thread_id, checkpoint_id, subgraphs)


async def _history(
    resources: ServerResources,
    principal: Principal,
    thread_id: str,
    limit: int,
    before: Any,
    metadata: dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    await _readable(resources, principal, thread_id)
    before_id = before.get("checkpoint_id") if isinstance(before, dict) else before
    snapshots = await resources.engine.threads.history(
        principal.tenant_id,
        thread_id,
        limit=min(limit, resources.settings.page_size_max),
        before=before_id,
        metadata=metadata,
        checkpoint_id=(checkpoint or {}).get("checkpoint_id"),
    )
    return [snapshot_view(s, thread_id) for s in snapshots]


@router.post("/{thread_id}/history", summary="The thread's checkpoints, newest first")
async def thread_history(
    thread_id: str, body: HistoryRequest, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> list[dict[str, Any]]:
    return await _history(
        resources, principal, thread_id, body.limit, body.before, body.metadata, body.checkpoint
    )


@router.get("/{thread_id}/history", summary="The thread's checkpoints, newest first")
async def thread_history_get(
    thread_id: str,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    return await _history(resources, principal, thread_id, limit, before)


@router.get("/{thread_id}/stream", summary="Join the thread's active run stream (SSE)")
async def join_thread_stream(
    thread_id: str,
    request: Request,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    last_event_id: Annotated[str | None, Header(max_length=80)] = None,
) -> EventSourceResponse:
    await _readable(resources, principal, thread_id)

    async def parts() -> Any:
        # Event ids are "<run id>:<seq>", so a reconnect resumes inside the right run.
        resume_run, _, resume_seq = (last_event_id or "").partition(":")
        seen: set[str] = set()
        while not await request.is_disconnected():
            async with resources.database.session() as session:
                active = await thread_repo.active_runs(session, principal.tenant_id, thread_id)
            runs = [r for r in active if r.id not in seen]
            if not runs:
                return
            run = runs[0]
            seen.add(run.id)
            after = int(resume_seq) if run.id == resume_run and resume_seq.isdigit() else 0
            async for seq, event, data in follow_stream(
                resources,
                principal.tenant_id,
                run.id,
                after_seq=after,
                is_disconnected=request.is_disconnected,
            ):
                yield {"event": event, "data": json.dumps(data), "id": f"{run.id}:{seq}"}

    return EventSourceResponse(parts(), ping=10)
