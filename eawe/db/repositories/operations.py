"""Cluster-wide operational figures for ``/metrics`` (all tenants: never exposed to one)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.telemetry.metrics import MetricsSnapshot

__all__ = ["metrics_snapshot"]


async def metrics_snapshot(session: AsyncSession) -> MetricsSnapshot:
    """Runs by status, queue depth, lease recoveries and HITL pending / overdue / escalated."""
    runs = {
        row.status: int(row.n)
        for row in await session.execute(
            text('SELECT status::text AS status, count(*) AS n FROM "WorkflowRun" GROUP BY status')
        )
    }
    hitl = (
        await session.execute(
            text(
                """SELECT count(*) FILTER (WHERE status = 'PENDING') AS pending,
                          count(*) FILTER (WHERE status = 'PENDING' AND "dueAt" < LOCALTIMESTAMP) AS overdue,
                          count(*) FILTER (WHERE "escalatedAt" IS NOT NULL) AS escalated
                   FROM "HITLTask" """
            )
        )
    ).one()
    # An execution that took over an expired lease says so in its RUN_STARTED/RUN_RESUMED row.
    recoveries = await session.scalar(
        text(
            """SELECT count(*) FROM "AuditLog" WHERE action IN ('RUN_STARTED', 'RUN_RESUMED')
               AND (details->>'recovered')::boolean IS TRUE"""
        )
    )
    return MetricsSnapshot(
        runs_by_status=runs,
        queue_depth=runs.get("PENDING", 0),
        lease_recoveries=int(recoveries or 0),
        hitl_pending=int(hitl.pending),
        hitl_overdue=int(hitl.overdue),
        hitl_escalated=int(hitl.escalated),
    )
