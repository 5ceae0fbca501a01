"""The protocol events of a thread: the ``protocol`` parts its runs stored (``RunStreamEvent``),
read by their thread-wide ``seq`` (``checkpoints.protocol_log``)."""

from __future__ import annotations

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunStreamEvent, WorkflowRun

__all__ = ["PROTOCOL_EVENT", "last_protocol_seq", "protocol_events_after"]

PROTOCOL_EVENT = "protocol"
_SEQ = RunStreamEvent.data["seq"].astext.cast(Integer)


async def last_protocol_seq(session: AsyncSession, thread_id: str) -> int:
    """The highest protocol ``seq`` stored by the thread's runs (0 when none)."""
    value = await session.scalar(
        select(func.coalesce(func.max(_SEQ), 0))
        .join(WorkflowRun, WorkflowRun.id == RunStreamEvent.run_id)
        .where(WorkflowRun.thread_id == thread_id, RunStreamEvent.event == PROTOCOL_EVENT)
    )
    return int(value or 0)


async def protocol_events_after(
    session: AsyncSession, tenant_id: str, thread_id: str, after_seq: int, *, limit: int = 500
) -> list[dict]:
    """The thread's protocol events after ``after_seq``, in order (the tenant's thread only)."""
    rows = await session.scalars(
        select(RunStreamEvent.data)
        .join(WorkflowRun, WorkflowRun.id == RunStreamEvent.run_id)
        .where(
            RunStreamEvent.tenant_id == tenant_id,
            WorkflowRun.tenant_id == tenant_id,
            WorkflowRun.thread_id == thread_id,
            RunStreamEvent.event == PROTOCOL_EVENT,
            _SEQ > after_seq,
        )
        .order_by(_SEQ)
        .limit(limit)
    )
    return [row for row in rows.all() if isinstance(row, dict)]
