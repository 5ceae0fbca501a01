"""Workflow runs, always scoped by tenant (worker lease bookkeeping lives in ``checkpoints.leases``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import AuditLog, RunStatus, WorkflowRun
from eawe.db.pagination import Page, paginate
from eawe.errors import NotFoundError

__all__ = ["get_run", "list_run_audit", "list_runs", "run_public"]


async def get_run(
    session: AsyncSession, tenant_id: str, run_id: str, *, for_update: bool = False
) -> WorkflowRun:
    """The run; another tenant's id is not found."""
    stmt = select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.id == run_id)
    row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFoundError("run", run_id)
    return row


async def list_runs(
    session: AsyncSession,
    tenant_id: str,
    *,
    status: RunStatus | None = None,
    workflow_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[WorkflowRun]:
    stmt = select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(WorkflowRun.status == status)
    if workflow_id is not None:
        stmt = stmt.where(WorkflowRun.workflow_definition_id == workflow_id)
    return await paginate(session, stmt, WorkflowRun.id, limit=limit, cursor=cursor)


async def list_run_audit(session: AsyncSession, tenant_id: str, run_id: str) -> list[AuditLog]:
    """The run's audit rows in order (another tenant's run is not found)."""
    await get_run(session, tenant_id, run_id)
    rows = await session.scalars(
        select(AuditLog)
        .where(AuditLog.tenant_id == tenant_id, AuditLog.workflow_run_id == run_id)
        .order_by(AuditLog.seq)
    )
    return list(rows.all())


def run_public(row: WorkflowRun) -> dict[str, Any]:
    """The API view of a run (no lease internals)."""
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "workflow_id": row.workflow_definition_id,
        "thread_id": row.thread_id,
        "graph_id": row.graph_id,
        "assistant_id": row.assistant_id,
        "workflow_version": row.workflow_version,
        "graph_hash": row.graph_hash,
        "status": row.status.value,
        "input": row.input,
        "payload": row.payload,
        "state": row.state,
        "error": row.error,
        "started_by_id": row.started_by_id,
        "attempts": row.attempts,
        "cancel_requested": row.cancel_requested,
        "started_at": row.started_at,
        "completed_at": row.completed_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
