"""Agent-Protocol threads on top of workflow runs.

A thread holds at most one WorkflowRun. ``POST /threads`` may create a thread before any run
exists (the SDK and Studio do this): such a thread is an ``AgentThread`` row of the caller's
tenant, and the run that later starts on it is bound to it (``AgentThread.workflowRunId``).
A thread created implicitly (``/runs/stream`` without a thread, or ``POST /v1/runs``) has no row:
its id is the run's id. Creating and binding are also audited (``THREAD_CREATED``,
``THREAD_BOUND``), but lookups only ever read the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.models import AgentThread, WorkflowRun, utcnow
from eawe.errors import NotFoundError
from server.auth.principal import Principal
from server.auth.run_visibility import can_read_run_content

__all__ = [
    "THREAD_BOUND",
    "THREAD_CREATED",
    "ResolvedThread",
    "bind_thread",
    "readable_thread",
    "reserve_thread",
    "resolve_thread",
    "thread_of_row",
    "threads_of_runs",
]

THREAD_CREATED = "THREAD_CREATED"
THREAD_BOUND = "THREAD_BOUND"


@dataclass(frozen=True)
class ResolvedThread:
    """A thread of the caller's tenant: its run (None until one starts) and its metadata."""

    thread_id: str
    created_at: datetime
    run: WorkflowRun | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def thread_of_row(row: AgentThread, run: WorkflowRun | None) -> ResolvedThread:
    """The thread an ``AgentThread`` row (and its bound run, if loaded) describes."""
    return ResolvedThread(
        thread_id=row.id, created_at=row.created_at, run=run, metadata=dict(row.metadata_ or {})
    )


async def reserve_thread(
    session: AsyncSession, tenant_id: str, metadata: dict[str, Any] | None, actor_id: str
) -> ResolvedThread:
    """Create a new thread of ``tenant_id`` with no run yet (inside the caller's transaction)."""
    row = AgentThread(tenant_id=tenant_id, created_by_id=actor_id, metadata_=dict(metadata or {}))
    session.add(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action=THREAD_CREATED,
        actor_type=ActorType.USER,
        actor_id=actor_id,
        details={"thread_id": row.id},
    )
    return thread_of_row(row, None)


async def bind_thread(
    session: AsyncSession, tenant_id: str, thread_id: str, run_id: str, actor_id: str
) -> bool:
    """Bind the run ``run_id`` to the thread ``thread_id`` unless another run got there first.

    The update is conditional, so of two runs started on one thread at once exactly one is
    bound. Returns whether this one was.
    """
    bound = await session.scalar(
        update(AgentThread)
        .where(
            AgentThread.tenant_id == tenant_id,
            AgentThread.id == thread_id,
            AgentThread.workflow_run_id.is_(None),
        )
        .values(workflow_run_id=run_id, updated_at=utcnow())
        .returning(AgentThread.id)
    )
    if bound is None:
        return False
    await append_audit(
        session,
        tenant_id=tenant_id,
        action=THREAD_BOUND,
        actor_type=ActorType.USER,
        actor_id=actor_id,
        workflow_run_id=run_id,
        details={"thread_id": thread_id},
    )
    return True


async def resolve_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> ResolvedThread:
    """The thread ``thread_id`` of ``tenant_id``.

    Raises:
        eawe.errors.NotFoundError: No such thread in this tenant (also another tenant's).
    """
    row = await session.scalar(
        select(AgentThread).where(AgentThread.tenant_id == tenant_id, AgentThread.id == thread_id)
    )
    if row is not None:
        run = (
            await session.scalar(
                select(WorkflowRun).where(
                    WorkflowRun.tenant_id == tenant_id, WorkflowRun.id == row.workflow_run_id
                )
            )
            if row.workflow_run_id
            else None
        )
        return thread_of_row(row, run)
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.id == thread_id)
    )
    if run is None:
        raise NotFoundError("thread", thread_id)
    return ResolvedThread(thread_id=thread_id, created_at=run.created_at, run=run)


async def readable_thread(
    session: AsyncSession, principal: Principal, thread: ResolvedThread
) -> ResolvedThread:
    """``thread``, for a route that exists to show its run's content (state, history, results).

    Raises:
        eawe.errors.NotFoundError: ``principal`` may not read the run's content
            (``server.auth.run_visibility``): to them the thread is not theirs, as if it did not exist.
    """
    if thread.run is not None and not await can_read_run_content(session, principal, thread.run):
        raise NotFoundError("thread", thread.thread_id)
    return thread


async def threads_of_runs(
    session: AsyncSession, tenant_id: str, runs: list[WorkflowRun]
) -> dict[str, ResolvedThread]:
    """For each run (by id), its thread: the one it is bound to, or the run's own id."""
    if not runs:
        return {}
    rows = (
        await session.scalars(
            select(AgentThread).where(
                AgentThread.tenant_id == tenant_id,
                AgentThread.workflow_run_id.in_([r.id for r in runs]),
            )
        )
    ).all()
    bound = {row.workflow_run_id: row for row in rows}
    out: dict[str, ResolvedThread] = {}
    for run in runs:
        row = bound.get(run.id)
        out[run.id] = (
            thread_of_row(row, run)
            if row is not None
            else ResolvedThread(thread_id=run.id, created_at=run.created_at, run=run)
        )
    return out
