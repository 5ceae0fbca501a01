"""The trace context a run was created in, so the worker's spans continue the creator's trace.

The row is written whenever a run is created inside a valid span: by the statement that queues a
run (``eawe.db.repositories.runs.insert_queued_run``, which every path creating runs goes
through: REST, Agent-Protocol, MCP, CLI), and by a SQLAlchemy ``after_insert`` hook on
``WorkflowRun`` (:func:`install`) for a run inserted through the ORM. Nothing is written while
tracing is off.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunTraceContext, WorkflowRun
from eawe.telemetry.tracing import current_carrier

__all__ = ["install", "trace_carrier"]

_installed = False


def _after_insert(_mapper: Any, connection: Any, target: WorkflowRun) -> None:
    carrier = current_carrier()
    if carrier.get("traceparent"):
        connection.execute(
            insert(RunTraceContext).values(
                workflow_run_id=target.id,
                traceparent=carrier["traceparent"],
                tracestate=carrier.get("tracestate", ""),
            )
        )


def install() -> None:
    """Record the creating span's context with every new run (idempotent)."""
    global _installed
    if not _installed:
        event.listen(WorkflowRun, "after_insert", _after_insert)
        _installed = True


async def trace_carrier(session: AsyncSession, run_id: str) -> dict[str, str]:
    """``{"traceparent", "tracestate"}`` of the run's creator; empty when none was recorded."""
    row = await session.scalar(select(RunTraceContext).where(RunTraceContext.workflow_run_id == run_id))
    if row is None:
        return {}
    return {"traceparent": row.traceparent, **({"tracestate": row.tracestate} if row.tracestate else {})}
