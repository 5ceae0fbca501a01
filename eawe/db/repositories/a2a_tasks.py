"""A2A tasks (``A2ATask``): which A2A context each run started through ``/a2a`` belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import A2ATask, WorkflowRun

__all__ = ["context_of_run", "record_a2a_task", "thread_of_context"]


async def record_a2a_task(session: AsyncSession, *, tenant_id: str, run_id: str, context_id: str) -> A2ATask:
    row = A2ATask(tenant_id=tenant_id, workflow_run_id=run_id, context_id=context_id)
    session.add(row)
    await session.flush()
    return row


async def context_of_run(session: AsyncSession, tenant_id: str, run_id: str) -> str | None:
    """The A2A context of a run, or None when the run was not started through A2A."""
    return await session.scalar(
        select(A2ATask.context_id).where(A2ATask.tenant_id == tenant_id, A2ATask.workflow_run_id == run_id)
    )


async def thread_of_context(session: AsyncSession, tenant_id: str, context_id: str) -> str | None:
    """The thread of the context's newest run (the one its next message continues), if any."""
    return await session.scalar(
        select(WorkflowRun.thread_id)
        .join(A2ATask, A2ATask.workflow_run_id == WorkflowRun.id)
        .where(
            A2ATask.tenant_id == tenant_id,
            A2ATask.context_id == context_id,
            WorkflowRun.tenant_id == tenant_id,
        )
        .order_by(A2ATask.created_at.desc(), A2ATask.id.desc())
        .limit(1)
    )
