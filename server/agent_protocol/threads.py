"""Agent-Protocol threads: create, get, search, count, state and history (see ``thread_directory``).

A reader who may not see a run's content (``server.auth.run_visibility``) gets threads without
``values`` from get and search, and 404 from state and history, which exist only to show content.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from langchain_core.runnables import RunnableConfig

from eawe.errors import Problem, ValidationError
from server.agent_protocol import thread_search
from server.agent_protocol.run_stream import load_graph
from server.agent_protocol.schemas import HistoryRequest, ThreadCreate, ThreadSearch
from server.agent_protocol.thread_directory import (
    ResolvedThread,
    readable_thread,
    reserve_thread,
    resolve_thread,
)
from server.agent_protocol.views import empty_state_view, snapshot_view, thread_view
from server.auth.run_visibility import can_read_run_content, runs_with_readable_content
from server.deps import Principal, Requires, ResourcesDep, SessionDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(prefix="/threads", tags=["agent-protocol"])


async def _readable(resources: ServerResources, principal: Principal, thread_id: str) -> ResolvedThread:
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, thread_id)
        return await readable_thread(session, principal, thread)


def _config(thread: ResolvedThread, checkpoint_id: str | None = None) -> RunnableConfig:
    assert thread.run is not None
    configurable: dict[str, Any] = {"thread_id": thread.run.id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


@router.post("", summary="Create a thread")
async def create_thread(
    body: ThreadCreate, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    if body.thread_id:
        raise ValidationError(Problem("thread_id", "EAWE assigns thread ids; omit thread_id"))
    async with resources.database.transaction() as session:
        thread = await reserve_thread(session, principal.tenant_id, body.metadata, principal.user_id)
    return thread_view(thread)


@router.post("/search", summary="Search threads, newest first")
async def search_threads(
    body: ThreadSearch, principal: Requires.RUNS_READ, session: SessionDep, resources: ResourcesDep
) -> list[dict[str, Any]]:
    limit = min(body.limit, resources.settings.page_size_max)
    threads = await thread_search.search_threads(session, principal.tenant_id, body, limit)
    readable = await runs_with_readable_content(session, principal, [t.run for t in threads if t.run])
    return [thread_view(t, content=t.run is None or t.run.id in readable) for t in threads]


@router.post("/count", summary="Count threads")
async def count_threads(body: ThreadSearch, principal: Requires.RUNS_READ, session: SessionDep) -> int:
    return await thread_search.count_threads(session, principal.tenant_id, body)


@router.get("/{thread_id}", summary="Get a thread")
async def get_thread(
    thread_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, thread_id)
        content = thread.run is not None and await can_read_run_content(session, principal, thread.run)
    if thread.run is None or not content:
        return thread_view(thread, content=content)
    snapshot = await (await load_graph(resources, thread.run)).aget_state(_config(thread))
    return thread_view(thread, snapshot)


@router.get("/{thread_id}/state", summary="The thread's current state")
async def get_thread_state(
    thread_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    thread = await _readable(resources, principal, thread_id)
    if thread.run is None:
        return empty_state_view()
    snapshot = await (await load_graph(resources, thread.run)).aget_state(_config(thread))
    return snapshot_view(snapshot, thread.thread_id)


@router.get("/{thread_id}/state/{checkpoint_id}", summary="The thread's state at a checkpoint")
async def get_thread_state_at(
    thread_id: str, checkpoint_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    thread = await _readable(resources, principal, thread_id)
    if thread.run is None:
        return empty_state_view()
    snapshot = await (await load_graph(resources, thread.run)).aget_state(_config(thread, checkpoint_id))
    return snapshot_view(snapshot, thread.thread_id)


async def _history(
    resources: ServerResources, principal: Principal, thread_id: str, limit: int, before: Any
) -> list[dict[str, Any]]:
    thread = await _readable(resources, principal, thread_id)
    if thread.run is None:
        return []
    before_id = before.get("checkpoint_id") if isinstance(before, dict) else before
    graph = await load_graph(resources, thread.run)
    limit = min(limit, resources.settings.page_size_max)
    return [
        snapshot_view(snapshot, thread.thread_id)
        async for snapshot in graph.aget_state_history(
            _config(thread), limit=limit, before=_config(thread, before_id) if before_id else None
        )
    ]


@router.post("/{thread_id}/history", summary="The thread's checkpoints, newest first")
async def thread_history(
    thread_id: str, body: HistoryRequest, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> list[dict[str, Any]]:
    return await _history(resources, principal, thread_id, body.limit, body.before)


@router.get("/{thread_id}/history", summary="The thread's checkpoints, newest first")
async def thread_history_get(
    thread_id: str,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    return await _history(resources, principal, thread_id, limit, before)
