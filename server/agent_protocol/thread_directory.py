"""Agent-Protocol threads on top of workflow runs.

A thread *is* a WorkflowRun. ``POST /threads`` may create a thread before any run exists (the
SDK and Studio do this); such a thread is recorded as a ``THREAD_CREATED`` audit row of the
caller's tenant (so it survives restarts and is visible to every API process), and the run that
later starts on it is tied to it by a ``THREAD_BOUND`` row carrying the run id. A thread created
implicitly (``/runs/stream`` without a thread, or ``POST /v1/runs``) has the run's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import AuditLog, WorkflowRun
from eawe.errors import NotFoundError

__all__ = ["ResolvedThread", "bind_thread", "reserve_thread", "resolve_thread", "thread_ids_of"]

THREAD_CREATED = "THREAD_CREATED"
THREAD_BOUND = "THREAD_BOUND"


@dataclass(frozen=True)
class ResolvedThread:
    """A thread of the caller's tenant: its run (None until one starts) and its metadata."""

    thread_id: str
    created_at: datetime
    run: WorkflowRun | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


async def reserve_thread(
    session: AsyncSession, tenant_id: str, metadata: dict[str, Any] | None, actor_id: str
) -> ResolvedThread:
    """A new, empty thread of ``tenant_id``."""
    thread_id = new_id()
    row = await append_audit(
        session,
        tenant_id=tenant_id,
        action=THREAD_CREATED,
        actor_type=ActorType.USER,
        actor_id=actor_id,
        details={"thread_id": thread_id, "metadata": metadata or {}},
    )
    return ResolvedThread(thread_id=thread_id, created_at=row.timestamp, metadata=dict(metadata or {}))


async def bind_thread(
    session: AsyncSession, tenant_id: str, thread_id: str, run_id: str, actor_id: str
) -> None:
    """Record that the run ``run_id`` started on the reserved thread ``thread_id``."""
    await append_audit(
        session,
        tenant_id=tenant_id,
        action=THREAD_BOUND,
        actor_type=ActorType.USER,
        actor_id=actor_id,
        workflow_run_id=run_id,
        details={"thread_id": thread_id, "run_id": run_id},
    )


async def _reservation(session: AsyncSession, tenant_id: str, thread_id: str) -> AuditLog | None:
    return await session.scalar(
        select(AuditLog).where(
            AuditLog.tenant_id == tenant_id,
            AuditLog.action == THREAD_CREATED,
            AuditLog.details["thread_id"].astext == thread_id,
        )
    )


async def resolve_thread(session: AsyncSession, tenant_id: str, thread_id: str) -> ResolvedThread:
    """The thread ``thread_id`` of ``tenant_id``; another tenant's thread is not found."""
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.id == thread_id)
    )
    if run is not None:
        return ResolvedThread(thread_id=thread_id, created_at=run.created_at, run=run)
    reservation = await _reservation(session, tenant_id, thread_id)
    if reservation is None:
        raise NotFoundError("thread", thread_id)
    metadata = dict((reservation.details or {}).get("metadata") or {})
    bound_run_id = await session.scalar(
        select(AuditLog.workflow_run_id).where(
            AuditLog.tenant_id == tenant_id,
            AuditLog.action == THREAD_BOUND,
            AuditLog.details["thread_id"].astext == thread_id,
        )
    )
    bound = await session.get(WorkflowRun, bound_run_id) if bound_run_id else None
    return ResolvedThread(thread_id=thread_id, created_at=reservation.timestamp, run=bound, metadata=metadata)


async def thread_ids_of(
    session: AsyncSession, tenant_id: str, runs: list[WorkflowRun]
) -> dict[str, ResolvedThread]:
    """For each run, its thread (the reserved one it was bound to, or the run's own id)."""
    if not runs:
        return {}
    rows = (
        await session.scalars(
            select(AuditLog).where(
                AuditLog.tenant_id == tenant_id,
                AuditLog.action == THREAD_BOUND,
                AuditLog.workflow_run_id.in_([r.id for r in runs]),
            )
        )
    ).all()
    bound = {row.workflow_run_id: (row.details or {}).get("thread_id") for row in rows}
    out: dict[str, ResolvedThread] = {}
    for run in runs:
        thread_id = bound.get(run.id) or run.id
        metadata: dict[str, Any] = {}
        if thread_id != run.id:
            reservation = await _reservation(session, tenant_id, thread_id)
            metadata = dict(((reservation.details or {}) if reservation else {}).get("metadata") or {})
        out[run.id] = ResolvedThread(
            thread_id=thread_id, created_at=run.created_at, run=run, metadata=metadata
        )
    return out
