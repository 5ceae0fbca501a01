"""Workflow runs, always scoped by tenant (worker lease bookkeeping lives in ``checkpoints.leases``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.driver_cursor import driver_cursor
from eawe.db.models import AgentThread, AuditLog, RunStatus, WorkflowRun
from eawe.db.pagination import Page, paginate
from eawe.errors import NotFoundError
from eawe.telemetry.tracing import current_carrier

__all__ = ["get_run", "insert_queued_run", "list_run_audit", "list_runs", "run_public"]


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


_THREAD_INSERT = """thread AS (
    INSERT INTO "AgentThread" (id, "tenantId", "createdById", metadata, status, "graphId",
                               "assistantId", "createdAt", "updatedAt")
    VALUES (%(thread)s, %(tenant)s, %(thread_by)s, %(thread_metadata)s, %(thread_status)s,
            %(thread_graph)s, %(thread_assistant)s, %(thread_at)s, %(thread_at)s)
), """

# One statement queues a run: its thread when new, the run, its audit entry and its first outbox
# row, and the notifications (sent when the transaction commits). The foreign keys between them
# are checked at the end of the statement, when every row is in.
_QUEUE_SQL = """WITH {thread}run AS (
    INSERT INTO "WorkflowRun" (id, "workflowDefinitionId", "tenantId", status, "workflowVersion",
        "graphHash", "startedById", input, "threadId", "assistantId", "graphId", kwargs,
        "multitaskStrategy", "eventSeq", attempts, "cancelRequested", "createdAt", "updatedAt")
    VALUES (%(id)s, %(workflow)s, %(tenant)s, CAST(%(status)s AS "RunStatus"), %(version)s,
        %(hash)s, %(by)s, %(input)s, %(thread_id)s, %(assistant)s, %(graph)s, %(kwargs)s,
        %(strategy)s, %(seq)s, %(attempts)s, %(cancel)s, %(at)s, %(at)s)
), audit AS (
    INSERT INTO "AuditLog" (id, "tenantId", "workflowRunId", "actorId", "actorType", action,
                            details, timestamp)
    VALUES (%(audit_id)s, %(tenant)s, %(id)s, %(actor)s, %(actor_type)s, %(action)s,
            %(details)s, %(audit_at)s)
), outbox AS (
    INSERT INTO "RunStreamEvent" ("runId", seq, "tenantId", event, data, "createdAt")
    VALUES (%(id)s, %(seq)s, %(tenant)s, %(event)s, %(data)s, %(at)s)
)
SELECT {notify}"""

# The trace context of the request creating the run (``eawe.db.repositories.run_traces``): a
# statement of its own, after the run's, whose row its row-level security policy must see.
_TRACE_INSERT = """INSERT INTO "RunTraceContext" ("workflowRunId", traceparent, tracestate)
VALUES (%s, %s, %s)"""

_strict = partial(json.dumps, separators=(",", ":"))
_lenient = partial(json.dumps, default=str, separators=(",", ":"))


def _jsonb(value: Any, *, lenient: bool = False) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=_lenient if lenient else _strict)


async def insert_queued_run(
    session: AsyncSession,
    run: WorkflowRun,
    audit: AuditLog,
    first_part: tuple[str, Any],
    *,
    thread: AgentThread | None = None,
    notices: Sequence[tuple[str, str]] = (),
) -> None:
    """Insert a new run (every column set on ``run``), its ``audit`` entry and its outbox row at
    ``run.event_seq`` (``first_part``: event name, data), with ``thread`` first when it is new
    too, and send ``notices`` ((channel, payload), on commit): one statement in the session's
    transaction (and a second with the creating span's trace context, when there is one). The
    row objects are not added to the session."""
    params: dict[str, Any] = {
        "id": run.id,
        "workflow": run.workflow_definition_id,
        "tenant": run.tenant_id,
        "status": run.status.value,
        "version": run.workflow_version,
        "hash": run.graph_hash,
        "by": run.started_by_id,
        "input": _jsonb(run.input),
        "thread_id": run.thread_id,
        "assistant": run.assistant_id,
        "graph": run.graph_id,
        "kwargs": _jsonb(run.kwargs),
        "strategy": run.multitask_strategy,
        "seq": run.event_seq,
        "attempts": run.attempts,
        "cancel": run.cancel_requested,
        "at": run.created_at,
        "audit_id": audit.id,
        "actor": audit.actor_id,
        "actor_type": audit.actor_type,
        "action": audit.action,
        "details": _jsonb(audit.details, lenient=True),
        "audit_at": audit.timestamp,
        "event": first_part[0],
        "data": _jsonb(first_part[1], lenient=True),
    }
    if thread is not None:
        params.update(
            thread=thread.id,
            thread_by=thread.created_by_id,
            thread_metadata=_jsonb(thread.metadata_),
            thread_status=thread.status,
            thread_graph=thread.graph_id,
            thread_assistant=thread.assistant_id,
            thread_at=thread.created_at,
        )
    notify = []
    for i, (channel, payload) in enumerate(notices):
        params[f"channel{i}"], params[f"payload{i}"] = channel, payload
        notify.append(f"pg_notify(%(channel{i})s, %(payload{i})s)")
    query = _QUEUE_SQL.format(
        thread=_THREAD_INSERT if thread is not None else "", notify=", ".join(notify) or "1"
    )
    carrier = current_carrier()
    async with driver_cursor(session) as cursor:
        await cursor.execute(query, params)
        if carrier.get("traceparent"):
            await cursor.execute(
                _TRACE_INSERT, (run.id, carrier["traceparent"], carrier.get("tracestate", ""))
            )
