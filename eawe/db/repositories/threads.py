"""Threads (LangGraph conversations holding many runs) and their stored stream events, by tenant.

A thread id is global (it is the checkpoints' ``thread_id``), so a client-chosen id that another
tenant already holds is refused the same way as one of the caller's own: 409, nothing more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Select, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.ids import new_id
from eawe.db.models import AgentThread, RunStatus, RunStreamEvent, WorkflowRun, utcnow
from eawe.db.unique_conflicts import conflict_on_duplicate
from eawe.errors import ConflictError, NotFoundError

__all__ = [
    "ACTIVE_STATUSES",
    "ThreadStatus",
    "active_runs",
    "append_stream_events",
    "count_threads",
    "create_thread",
    "delete_thread",
    "detach_run",
    "get_thread",
    "last_stream_seq",
    "latest_run",
    "new_thread_row",
    "next_queued_run",
    "search_threads",
    "set_thread_status",
    "stream_events_after",
    "tenant_active_runs",
    "thread_runs",
]

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
ACTIVE_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING)


def new_thread_row(
    tenant_id: str,
    *,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_by_id: str | None = None,
    graph_id: str | None = None,
    assistant_id: str | None = None,
    status: ThreadStatus = "idle",
) -> AgentThread:
    """A thread row not yet added to a session (``thread_id`` or a fresh id)."""
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # timestamp(3), as stored
    return AgentThread(
        id=thread_id or new_id(),
        tenant_id=tenant_id,
        created_by_id=created_by_id,
        metadata_=dict(metadata or {}),
        graph_id=graph_id,
        assistant_id=assistant_id,
        status=status,
        created_at=now,
        updated_at=now,
    )


async def create_thread(
    session: AsyncSession,
    tenant_id: str,
    *,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_by_id: str | None = None,
    graph_id: str | None = None,
    assistant_id: str | None = None,
    status: ThreadStatus = "idle",
    if_exists: Literal["raise", "do_nothing"] = "raise",
) -> AgentThread:
    """A new thread (``thread_id`` or a fresh id); with ``do_nothing`` an existing one is returned.

    Raises:
        eawe.errors.ConflictError: ``thread_id`` is taken (by this tenant with ``raise``, or by
            another tenant: then nothing about it is told).
    """
    if thread_id is not None:
        existing = await session.scalar(select(AgentThread).where(AgentThread.id == thread_id))
        if existing is not None:
            if existing.tenant_id == tenant_id and if_exists == "do_nothing":
                return existing
            raise ConflictError(f"thread {thread_id} already exists", field="thread_id")
    row = new_thread_row(
        tenant_id,
        thread_id=thread_id,
        metadata=metadata,
        created_by_id=created_by_id,
        graph_id=graph_id,
        assistant_id=assistant_id,
        status=status,
    )
    chosen = (  # a caller-chosen id may be another tenant's, invisible here: the insert tells
        conflict_on_duplicate(session, ConflictError(f"thread {row.id} already exists", field="thread_id"))
        if thread_id is not None
        else contextlib.nullcontext()
    )
    async with chosen:
        session.add(row)
        await session.flush()
    return row


async def get_thread(
    session: AsyncSession, tenant_id: str, thread_id: str, *, for_update: bool = False
) -> AgentThread:
    """The thread; another tenant's is not found."""
    stmt = select(AgentThread).where(AgentThread.tenant_id == tenant_id, AgentThread.id == thread_id)
    row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFoundError("thread", thread_id)
    return row


def _search(
    tenant_id: str,
    *,
    metadata: dict[str, Any] | None,
    ids: Sequence[str] | None,
    status: str | None,
) -> Select[Any]:
    stmt = select(AgentThread).where(AgentThread.tenant_id == tenant_id)
    if metadata:
        stmt = stmt.where(AgentThread.metadata_.contains(metadata))
    if ids:
        stmt = stmt.where(AgentThread.id.in_(list(ids)))
    if status:
        stmt = stmt.where(AgentThread.status == status)
    return stmt


_SORTS = {
    "thread_id": AgentThread.id,
    "status": AgentThread.status,
    "created_at": AgentThread.created_at,
    "updated_at": AgentThread.updated_at,
}


async def search_threads(
    session: AsyncSession,
    tenant_id: str,
    *,
    metadata: dict[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    status: str | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
) -> list[AgentThread]:
    column = _SORTS.get(sort_by, AgentThread.created_at)
    order = column.asc() if sort_order == "asc" else column.desc()
    stmt = _search(tenant_id, metadata=metadata, ids=ids, status=status)
    rows = await session.scalars(stmt.order_by(order, AgentThread.id.desc()).offset(offset).limit(limit))
    return list(rows.all())


async def count_threads(
    session: AsyncSession,
    tenant_id: str,
    *,
    metadata: dict[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    status: str | None = None,
) -> int:
    stmt = _search(tenant_id, metadata=metadata, ids=ids, status=status)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def set_thread_status(session: AsyncSession, thread_id: str, status: ThreadStatus) -> None:
    """Record a run's outcome on its thread; a thread with another run pending or running stays busy."""
    await session.execute(
        text(
            """UPDATE "AgentThread" SET "updatedAt" = LOCALTIMESTAMP,
                   status = CASE WHEN EXISTS (
                       SELECT 1 FROM "WorkflowRun" WHERE "threadId" = :id AND status IN ('PENDING', 'RUNNING')
                   ) THEN 'busy' ELSE :status END
               WHERE id = :id"""
        ),
        {"status": status, "id": thread_id},
    )


async def delete_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> list[str]:
    """Delete the thread and its stored stream events; its runs stay (the audit log refers to them)
    but leave the thread. Returns the ids of those runs.

    Raises:
        eawe.errors.NotFoundError: No such thread in this tenant.
    """
    await get_thread(session, tenant_id, thread_id, for_update=True)
    run_ids = list(
        (
            await session.scalars(
                select(WorkflowRun.id).where(
                    WorkflowRun.tenant_id == tenant_id, WorkflowRun.thread_id == thread_id
                )
            )
        ).all()
    )
    if run_ids:
        await session.execute(delete(RunStreamEvent).where(RunStreamEvent.run_id.in_(run_ids)))
    await session.execute(
        delete(AgentThread).where(AgentThread.tenant_id == tenant_id, AgentThread.id == thread_id)
    )
    return run_ids


async def thread_runs(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str,
    *,
    status: RunStatus | None = None,
    limit: int = 10,
    offset: int = 0,
) -> list[WorkflowRun]:
    """The thread's runs, newest first."""
    stmt = select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.thread_id == thread_id)
    if status is not None:
        stmt = stmt.where(WorkflowRun.status == status)
    rows = await session.scalars(
        stmt.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc()).offset(offset).limit(limit)
    )
    return list(rows.all())


async def active_runs(
    session: AsyncSession, tenant_id: str, thread_id: str, *, for_update: bool = False
) -> list[WorkflowRun]:
    """The thread's pending and running runs, oldest first."""
    stmt = (
        select(WorkflowRun)
        .where(
            WorkflowRun.tenant_id == tenant_id,
            WorkflowRun.thread_id == thread_id,
            WorkflowRun.status.in_(ACTIVE_STATUSES),
        )
        .order_by(WorkflowRun.created_at, WorkflowRun.id)
    )
    rows = await session.scalars(stmt.with_for_update() if for_update else stmt)
    return list(rows.all())


async def latest_run(session: AsyncSession, tenant_id: str, thread_id: str) -> WorkflowRun | None:
    runs = await thread_runs(session, tenant_id, thread_id, limit=1)
    return runs[0] if runs else None


async def append_stream_events(
    session: AsyncSession, tenant_id: str, run_id: str, first_seq: int, parts: Sequence[tuple[str, Any]]
) -> int:
    """Store ``parts`` ((event, data), in order) from ``first_seq`` on; returns the next seq."""
    if not parts:
        return first_seq
    now = utcnow()
    await session.execute(
        insert(RunStreamEvent),
        [
            {
                "run_id": run_id,
                "seq": first_seq + i,
                "tenant_id": tenant_id,
                "event": e,
                "data": d,
                "created_at": now,
            }
            for i, (e, d) in enumerate(parts)
        ],
    )
    return first_seq + len(parts)


async def last_stream_seq(session: AsyncSession, run_id: str) -> int:
    """The highest stored seq of the run (0 when none)."""
    return int(
        await session.scalar(
            select(func.coalesce(func.max(RunStreamEvent.seq), 0)).where(RunStreamEvent.run_id == run_id)
        )
        or 0
    )


async def stream_events_after(
    session: AsyncSession, tenant_id: str, run_id: str, after_seq: int, *, limit: int = 500
) -> list[RunStreamEvent]:
    rows = await session.scalars(
        select(RunStreamEvent)
        .where(
            RunStreamEvent.tenant_id == tenant_id,
            RunStreamEvent.run_id == run_id,
            RunStreamEvent.seq > after_seq,
        )
        .order_by(RunStreamEvent.seq)
        .limit(limit)
    )
    return list(rows.all())


async def next_queued_run(session: AsyncSession, thread_id: str) -> str | None:
    """The oldest PENDING run of the thread (to wake a worker for once the thread's run settles)."""
    return await session.scalar(
        select(WorkflowRun.id)
        .where(WorkflowRun.thread_id == thread_id, WorkflowRun.status == RunStatus.PENDING)
        .order_by(WorkflowRun.created_at, WorkflowRun.id)
        .limit(1)
    )


async def detach_run(session: AsyncSession, tenant_id: str, run_id: str) -> None:
    """Take a settled run off its thread and drop its stored stream (the run row stays: the audit
    log refers to it)."""
    await session.execute(delete(RunStreamEvent).where(RunStreamEvent.run_id == run_id))
    await session.execute(
        text('UPDATE "WorkflowRun" SET "threadId" = NULL WHERE id = :id AND "tenantId" = :tenant'),
        {"id": run_id, "tenant": tenant_id},
    )


async def tenant_active_runs(session: AsyncSession, tenant_id: str, status: str) -> list[WorkflowRun]:
    """The tenant's pending, running, or both ("all") runs."""
    wanted = {"pending": [RunStatus.PENDING], "running": [RunStatus.RUNNING]}.get(
        status, list(ACTIVE_STATUSES)
    )
    rows = await session.scalars(
        select(WorkflowRun)
        .where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.status.in_(wanted))
        .limit(1000)
    )
    return list(rows.all())
