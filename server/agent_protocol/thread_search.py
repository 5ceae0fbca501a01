"""Searching and counting a tenant's Agent-Protocol threads.

The threads of a tenant are its workflow runs (each shown as the thread it is bound to, or as
its own thread) plus the ``AgentThread`` rows no run has started on yet (status ``idle``).
Filters: ``ids`` (thread ids), ``status``, ``metadata.graph_id``/``metadata.assistant_id`` (the
run's workflow) and any other ``metadata`` keys (JSON containment in the thread's own metadata).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import AgentThread, RunStatus, WorkflowRun
from server.agent_protocol.schemas import ThreadSearch
from server.agent_protocol.thread_directory import ResolvedThread, thread_of_row

__all__ = ["count_threads", "search_threads"]

_STATUSES = {
    "busy": [RunStatus.PENDING, RunStatus.RUNNING],
    "interrupted": [RunStatus.PAUSED_FOR_APPROVAL],
    "error": [RunStatus.PAUSED_WITH_ERROR, RunStatus.FAILED],
    "idle": [RunStatus.COMPLETED, RunStatus.CANCELLED],
}
_RUN_KEYS = ("graph_id", "assistant_id")


def _threads(tenant_id: str, body: ThreadSearch) -> Any:
    """One row per matching thread: ``thread_id``, ``run_id`` (null when unbound), ``created_at``."""
    metadata = dict(body.metadata or {})
    graph_id = next((metadata[k] for k in _RUN_KEYS if metadata.get(k)), None)
    own = {k: v for k, v in metadata.items() if k not in _RUN_KEYS}

    thread_id = func.coalesce(AgentThread.id, WorkflowRun.id)
    with_runs = (
        select(
            thread_id.label("thread_id"),
            WorkflowRun.id.label("run_id"),
            func.coalesce(AgentThread.created_at, WorkflowRun.created_at).label("created_at"),
        )
        .select_from(WorkflowRun)
        .outerjoin(
            AgentThread,
            (AgentThread.workflow_run_id == WorkflowRun.id) & (AgentThread.tenant_id == tenant_id),
        )
        .where(WorkflowRun.tenant_id == tenant_id)
    )
    unbound = select(
        AgentThread.id.label("thread_id"),
        null().label("run_id"),
        AgentThread.created_at.label("created_at"),
    ).where(AgentThread.tenant_id == tenant_id, AgentThread.workflow_run_id.is_(None))

    if body.status:
        with_runs = with_runs.where(WorkflowRun.status.in_(_STATUSES[body.status]))
        if body.status != "idle":
            unbound = unbound.where(false())
    if body.ids:
        with_runs = with_runs.where(thread_id.in_(body.ids))
        unbound = unbound.where(AgentThread.id.in_(body.ids))
    if graph_id:
        with_runs = with_runs.where(WorkflowRun.workflow_definition_id == str(graph_id))
        unbound = unbound.where(false())
    if own:
        with_runs = with_runs.where(AgentThread.metadata_.contains(own))
        unbound = unbound.where(AgentThread.metadata_.contains(own))
    return union_all(with_runs, unbound).subquery("threads")


async def search_threads(
    session: AsyncSession, tenant_id: str, body: ThreadSearch, limit: int
) -> list[ResolvedThread]:
    """The tenant's threads matching ``body``, newest first, paged by ``body.offset`` and ``limit``."""
    threads = _threads(tenant_id, body)
    page = (
        await session.execute(
            select(threads.c.thread_id, threads.c.run_id)
            .order_by(threads.c.created_at.desc(), threads.c.thread_id.desc())
            .offset(body.offset)
            .limit(limit)
        )
    ).all()
    thread_ids = [thread_id for thread_id, _ in page]
    run_ids = [run_id for _, run_id in page if run_id is not None]
    rows = {
        row.id: row
        for row in await session.scalars(
            select(AgentThread).where(AgentThread.tenant_id == tenant_id, AgentThread.id.in_(thread_ids))
        )
    }
    runs = {
        run.id: run
        for run in await session.scalars(
            select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.id.in_(run_ids))
        )
    }
    out = []
    for thread_id, run_id in page:
        run = runs.get(run_id) if run_id is not None else None
        row = rows.get(thread_id)
        if row is not None:
            out.append(thread_of_row(row, run))
        elif run is not None:
            out.append(ResolvedThread(thread_id=run.id, created_at=run.created_at, run=run))
    return out


async def count_threads(session: AsyncSession, tenant_id: str, body: ThreadSearch) -> int:
    """How many of the tenant's threads match ``body`` (paging ignored)."""
    threads = _threads(tenant_id, body)
    return int(await session.scalar(select(func.count(literal(1))).select_from(threads)) or 0)
