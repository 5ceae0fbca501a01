"""A run's event outbox: ``RunStreamEvent`` rows numbered from ``WorkflowRun.eventSeq``.

Everything a reader may stream about a run — the engine's events (``run.status``,
``node.finished``, ``task.created`` …) and the LangGraph stream parts a client asked for — is a
row here, written in the transaction that made it true. Its ``seq`` is taken from the run's
counter under the run's row lock, so two writers of one run (the worker executing it and an
operator deciding a task) never collide and ``seq`` order is commit order: a reader that has
seen ``seq`` N and reads ``seq > N`` misses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunStreamEvent
from eawe.db.repositories.threads import append_stream_events

__all__ = [
    "LEASE_LOST_SQLSTATE",
    "NO_SUCH_RUN_SQLSTATE",
    "STEP_ROWS_SQL",
    "StepGuard",
    "StepRows",
    "append_outbox",
    "outbox_after",
    "reserve_event_seqs",
    "send_step_rows",
    "step_guard_of",
    "step_rows_params",
]


@dataclass(frozen=True)
class StepGuard:
    """What the lease holder learns when it commits a step."""

    first_seq: int
    """The first of the seqs taken for this step's outbox rows."""
    cancel_requested: bool


async def reserve_event_seqs(session: AsyncSession, run_id: str, count: int) -> int | None:
    """Take ``count`` seqs of the run (locking its row until commit); the first, or None if no run."""
    taken = await session.scalar(
        text('UPDATE "WorkflowRun" SET "eventSeq" = "eventSeq" + :n WHERE id = :id RETURNING "eventSeq"'),
        {"n": count, "id": run_id},
    )
    return None if taken is None else int(taken) - count + 1


_dumps = partial(json.dumps, default=str, separators=(",", ":"))

STEP_ROWS_SQL = """outbox AS (
    INSERT INTO "RunStreamEvent" ("runId", seq, "tenantId", event, data, "createdAt")
    SELECT %(run)s, guard."eventSeq" - %(n)s + p.ord, %(tenant)s, p.part->>0, p.part->1, %(now)s
    FROM guard, jsonb_array_elements(%(parts)s) WITH ORDINALITY AS p(part, ord)
), audit AS (
    INSERT INTO "AuditLog" (id, "tenantId", "workflowRunId", "actorId", "actorType", action, details,
                            timestamp)
    SELECT a.id, %(tenant)s, %(run)s, a."actorId", a."actorType", a.action, a.details, %(now)s
    FROM guard, jsonb_to_recordset(%(audit)s)
        AS a(id text, "actorId" text, "actorType" text, action text, details jsonb)
), usage AS (
    INSERT INTO "NodeExecution" (id, "tenantId", "workflowRunId", "nodeId", "nodeType", outcome,
        "durationMs", "tokenUsage", "inputTokens", "outputTokens", "totalTokens", "startedAt",
        "createdAt")
    SELECT u.id, %(tenant)s, %(run)s, u."nodeId", u."nodeType", u.outcome, u."durationMs",
        u."tokenUsage", u."inputTokens", u."outputTokens", u."totalTokens", u."startedAt", %(now)s
    FROM guard, jsonb_to_recordset(%(usage)s)
        AS u(id text, "nodeId" text, "nodeType" text, outcome text, "durationMs" int,
             "tokenUsage" jsonb, "inputTokens" int, "outputTokens" int, "totalTokens" int,
             "startedAt" timestamp)
)"""
"""The CTEs storing a commit's :class:`StepRows` (parameters: :func:`step_rows_params`), inserted
only when the statement's ``guard`` CTE — an ``UPDATE "WorkflowRun"`` that added ``%(n)s`` to
``"eventSeq"`` and returns it — matched the run."""

# One statement for a step's rows: the run's row is updated first (lease checked and renewed when
# an owner is given, seqs taken under its row lock), and the outbox, audit and usage rows are
# inserted only if it matched: a worker that lost its run writes none of them. When it did not
# match, the statement raises (``eawe_refuse_step``, SQLSTATE EA001/EA002), which aborts the
# transaction: the checkpoint statements pipelined after it are never committed.
_STEP_SQL = (
    """
WITH guard AS (
    UPDATE "WorkflowRun"
    SET "eventSeq" = "eventSeq" + %(n)s{renew}
    WHERE id = %(run)s{lease}
    RETURNING "eventSeq", "cancelRequested"
), """
    + STEP_ROWS_SQL.replace("{", "{{").replace("}", "}}")
    + """
SELECT "eventSeq", "cancelRequested" FROM guard
UNION ALL
SELECT eawe_refuse_step(%(run)s, %(leased)s), false WHERE NOT EXISTS (SELECT FROM guard)"""
)
_LEASED_STEP_SQL = _STEP_SQL.format(
    renew=',\n        "leaseExpiresAt" = LOCALTIMESTAMP + make_interval(secs => %(ttl)s)',
    lease=""" AND "leaseOwner" = %(owner)s AND status = 'RUNNING'""",
)
_UNLEASED_STEP_SQL = _STEP_SQL.format(renew="", lease="")


@dataclass
class StepRows:
    """What one commit of a run stores besides its checkpoint: outbox parts (event, data), audit
    entries (``id``, ``actorId``, ``actorType``, ``action``, ``details``, already redacted) and
    node executions (``NodeExecution`` columns by their database names)."""

    tenant_id: str
    run_id: str
    at: datetime
    parts: Sequence[tuple[str, Any]] = ()
    audit: Sequence[Mapping[str, Any]] = ()
    usage: Sequence[Mapping[str, Any]] = ()


def step_rows_params(rows: StepRows) -> dict[str, Any]:
    """The parameters of :data:`STEP_ROWS_SQL` for ``rows``."""
    return {
        "run": rows.run_id,
        "tenant": rows.tenant_id,
        "n": len(rows.parts),
        "now": rows.at,
        "parts": Jsonb([list(p) for p in rows.parts], dumps=_dumps),
        "audit": Jsonb(list(rows.audit), dumps=_dumps),
        "usage": Jsonb(list(rows.usage), dumps=_dumps),
    }


async def send_step_rows(
    cursor: Any, rows: StepRows, *, owner: str | None, lease_seconds: float = 0.0
) -> None:
    """Send the step's rows as one statement on a psycopg ``cursor`` (in the caller's transaction,
    typically inside a pipeline with the checkpoint's statements). Read the outcome with
    :func:`step_guard_of` once the results are in."""
    params = step_rows_params(rows)
    if owner is None:
        await cursor.execute(_UNLEASED_STEP_SQL, {**params, "leased": False}, prepare=True)
        return
    params.update(owner=owner, ttl=lease_seconds, leased=True)
    await cursor.execute(_LEASED_STEP_SQL, params, prepare=True)


LEASE_LOST_SQLSTATE = "EA001"
"""Raised by :func:`send_step_rows`' statement when the run's lease is held by another worker."""
NO_SUCH_RUN_SQLSTATE = "EA002"
"""Raised by :func:`send_step_rows`' statement (without an owner) when the run does not exist."""


async def step_guard_of(cursor: Any, count: int) -> StepGuard:
    """The outcome of :func:`send_step_rows`, once its result is in. (When the run or its lease
    was gone the statement raised instead: see :data:`LEASE_LOST_SQLSTATE`.)"""
    row = await cursor.fetchone()
    seq, cancel = (row["eventSeq"], row["cancelRequested"]) if isinstance(row, dict) else row
    return StepGuard(first_seq=int(seq) - count + 1, cancel_requested=bool(cancel))


async def append_outbox(
    session: AsyncSession, tenant_id: str, run_id: str, first_seq: int, parts: Sequence[tuple[str, Any]]
) -> None:
    """Store ``parts`` ((event name, data), in order) at the seqs taken from ``first_seq`` on."""
    await append_stream_events(session, tenant_id, run_id, first_seq, parts)


async def outbox_after(
    session: AsyncSession,
    tenant_id: str,
    run_id: str,
    after_seq: int,
    *,
    events: Collection[str] | None = None,
    limit: int = 500,
) -> list[RunStreamEvent]:
    """The run's outbox rows after ``after_seq``, in order (only the named ``events`` if given)."""
    query = select(RunStreamEvent).where(
        RunStreamEvent.tenant_id == tenant_id,
        RunStreamEvent.run_id == run_id,
        RunStreamEvent.seq > after_seq,
    )
    if events is not None:
        query = query.where(RunStreamEvent.event.in_(list(events)))
    rows = await session.scalars(query.order_by(RunStreamEvent.seq).limit(limit))
    return list(rows.all())
