"""The durable run queue: claiming runs with a lease, renewing it, and releasing it with the outcome.

A worker claims a run by moving it to RUNNING with ``leaseOwner``/``leaseExpiresAt``; it renews the
lease while it works. A run whose lease expired (its worker died) can be claimed again and is
resumed from its last checkpoint. Every write after the claim is guarded by ``leaseOwner``, so a
worker that lost its lease cannot overwrite the new owner's bookkeeping.

Liveness: each process that claims runs holds a shared session-level advisory lock keyed on its
worker id (:data:`LIVENESS_LOCK_SQL`, on a connection of its own, see
``checkpoints.worker_liveness``). The lock dies with that connection, so PostgreSQL itself says
when a worker is gone: a RUNNING run whose owner's lock nobody holds is claimable at once, without
waiting for its lease. A claimer must hold its own lock, and a renewal fails without it, so a
worker whose liveness connection dropped claims nothing and loses its runs at the next beat. These are engine
internals addressed by run id; tenant-facing reads go through ``eawe.db.repositories.runs``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunStatus
from eawe.db.repositories.run_outbox import STEP_ROWS_SQL, StepRows, step_rows_params
from eawe.db.repositories.tenant_models import TENANT_MODEL_KEY
from eawe.db.round_trip import scoped_round_trip
from eawe.db.tenant_scope import current_scope

__all__ = [
    "LIVENESS_LOCK_SQL",
    "ClaimedRun",
    "RunStarter",
    "cancel_requested",
    "claim_next_runs",
    "claim_run",
    "release_run",
    "released",
    "renew_lease",
]

LIVENESS_NAMESPACE = 0x45415745  # b"EAWE": the first key of the two-int advisory locks of liveness
LIVENESS_LOCK_SQL = f"SELECT pg_advisory_lock_shared({LIVENESS_NAMESPACE}, hashtext(%s))"
"""Taken (psycopg placeholder: the worker id) on the liveness connection; released when it closes.
Shared: processes configured with the same worker id do not block each other."""


def _alive(owner: str) -> str:
    """SQL: some session of this database holds the liveness lock of ``owner`` (a column or param)."""
    return f"""EXISTS (SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = CAST({LIVENESS_NAMESPACE} AS oid) AND l.objid = CAST(hashtext({owner}) AS oid))"""


# A RUNNING run is claimable when its lease expired or its owner is dead (no liveness lock). A run
# of a thread waits while another run of that thread is running (with a live lease and owner) or
# was queued before it: a thread executes one run at a time, in order (multitask "enqueue"). The
# claimer must itself be alive (hold its liveness lock).
_CLAIMABLE = f"""(w.status = 'PENDING' OR (w.status = 'RUNNING'
    AND (w."leaseExpiresAt" IS NULL OR w."leaseExpiresAt" < LOCALTIMESTAMP
         OR NOT {_alive('w."leaseOwner"')})))
    AND {_alive("CAST(%(owner)s AS text)")}
    AND NOT EXISTS (
        SELECT 1 FROM "WorkflowRun" o
        WHERE w."threadId" IS NOT NULL AND o."threadId" = w."threadId" AND o.id <> w.id
          AND ((o.status = 'RUNNING' AND o."leaseExpiresAt" >= LOCALTIMESTAMP
                AND {_alive('o."leaseOwner"')})
               OR (o.status = 'PENDING' AND (o."createdAt", o.id) < (w."createdAt", w.id))))"""
_CLAIM = f"""
WITH target AS (
    SELECT w.id, w.status AS previous FROM "WorkflowRun" w
    WHERE {{where}} AND {_CLAIMABLE}
    ORDER BY w."createdAt", w.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE "WorkflowRun" AS r
SET status = 'RUNNING', "leaseOwner" = %(owner)s,
    "leaseExpiresAt" = LOCALTIMESTAMP + make_interval(secs => %(ttl)s),
    attempts = r.attempts + 1, "startedAt" = COALESCE(r."startedAt", LOCALTIMESTAMP),
    "updatedAt" = LOCALTIMESTAMP
FROM target WHERE r.id = target.id
RETURNING r.id, r."tenantId", r."workflowDefinitionId", r."workflowVersion", r."graphHash",
          r."startedById", r.input, r.attempts, target.previous, r."threadId", r."graphId",
          r."assistantId", r.kwargs,
          (SELECT t.settings -> %(model_key)s FROM "Tenant" t WHERE t.id = r."tenantId") AS "tenantModel",
          (SELECT jsonb_build_object('email', u.email, 'role', u.role, 'groups', u.groups,
                                     'active', u."isActive")
           FROM "User" u WHERE u.id = r."startedById" AND u."tenantId" = r."tenantId") AS starter
"""


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker now holds the lease on."""

    id: str
    tenant_id: str
    workflow_id: str | None
    """None for a run of a code graph (``graph_id`` names it)."""
    workflow_version: int
    graph_hash: str
    started_by_id: str | None
    input: Any
    attempts: int
    recovered: bool
    """True when the previous holder's lease had expired (a crashed worker)."""
    thread_id: str
    """The LangGraph ``thread_id`` of the run's checkpoints."""
    graph_id: str
    assistant_id: str | None
    kwargs: dict[str, Any]
    """How the run was asked for (config, context, command, checkpoint, interrupts, stream modes)."""
    tenant_model: Any = None
    """The tenant's own model as stored (``Tenant.settings``) when the run was claimed; parse it
    with :func:`~eawe.db.repositories.tenant_models.tenant_model_of`."""
    starter: RunStarter | None = None
    """Who started the run, as they were when it was claimed (None: no starter, or gone)."""


@dataclass(frozen=True)
class RunStarter:
    """The user a run acts as, read with its claim."""

    email: str
    role: str
    groups: tuple[str, ...]
    active: bool


def _claimed(row: Mapping[str, Any]) -> ClaimedRun:
    starter = row["starter"]
    return ClaimedRun(
        id=row["id"],
        tenant_id=row["tenantId"],
        workflow_id=row["workflowDefinitionId"],
        workflow_version=row["workflowVersion"],
        graph_hash=row["graphHash"],
        started_by_id=row["startedById"],
        input=row["input"],
        attempts=row["attempts"],
        recovered=row["previous"] == RunStatus.RUNNING.value,
        thread_id=row["threadId"] or row["id"],
        graph_id=row["graphId"],
        assistant_id=row["assistantId"],
        kwargs=dict(row["kwargs"] or {}),
        tenant_model=row["tenantModel"],
        starter=RunStarter(
            email=starter["email"],
            role=starter["role"],
            groups=tuple(starter["groups"] or ()),
            active=bool(starter["active"]),
        )
        if starter
        else None,
    )


async def _claim(pool: Any, where: str, params: dict[str, Any]) -> list[ClaimedRun]:
    """The claim as one round trip on a connection of the engine's psycopg ``pool`` (dict rows),
    in the current scope (claims run in the system scope: they span every tenant)."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        async with scoped_round_trip(conn, current_scope()):
            await cursor.execute(_CLAIM.format(where=where), {**params, "model_key": TENANT_MODEL_KEY})
        return [_claimed(row) for row in await cursor.fetchall()]


async def claim_run(pool: Any, run_id: str, *, owner: str, lease_seconds: float) -> ClaimedRun | None:
    """Claim one run if it is PENDING or its lease expired; None otherwise."""
    claimed = await _claim(
        pool, "w.id = %(run_id)s", {"run_id": run_id, "owner": owner, "ttl": lease_seconds, "limit": 1}
    )
    return claimed[0] if claimed else None


async def claim_next_runs(pool: Any, *, owner: str, lease_seconds: float, limit: int) -> list[ClaimedRun]:
    """Claim up to ``limit`` runnable runs, oldest first, skipping rows other workers are claiming."""
    return await _claim(pool, "TRUE", {"owner": owner, "ttl": lease_seconds, "limit": limit})


async def renew_lease(
    session: AsyncSession, run_id: str, *, owner: str, lease_seconds: float
) -> tuple[bool, bool]:
    """Extend the lease. Returns (still the owner, cancellation requested).

    The owner must still hold its liveness lock: a worker whose liveness connection dropped may
    already have been replaced, so its renewal loses the run instead of extending it.
    """
    result = await session.execute(
        text(
            f"""UPDATE "WorkflowRun" SET "leaseExpiresAt" = LOCALTIMESTAMP + make_interval(secs => :ttl)
               WHERE id = :run_id AND "leaseOwner" = :owner AND status = 'RUNNING'
                 AND {_alive("CAST(:owner AS text)")}
               RETURNING "cancelRequested" """
        ),
        {"run_id": run_id, "owner": owner, "ttl": lease_seconds},
    )
    row = result.first()
    return (row is not None, bool(row.cancelRequested) if row else False)


async def cancel_requested(session: AsyncSession, run_id: str) -> bool:
    value = await session.scalar(
        text('SELECT "cancelRequested" FROM "WorkflowRun" WHERE id = :id'), {"id": run_id}
    )
    return bool(value)


async def release_run(
    cursor: Any,
    run_id: str,
    *,
    owner: str,
    status: RunStatus,
    thread_id: str,
    thread_status: str,
    notify: tuple[str, str],
    rows: StepRows,
    wake_channel: str | None = None,
    payload: Any = None,
    state: Any = None,
    error: Any = None,
    set_error: bool = False,
) -> None:
    """Set the outcome and drop the lease, if ``owner`` still holds it, in one statement: with
    it the journal's last ``rows`` (events, audit entries, usage), the thread's status
    (``thread_status``, or busy while another of its runs is pending or running), the open tasks
    of a cancelled run cancelled, the ``notify`` (channel, payload) and, with ``wake_channel``, a
    notification naming the thread's oldest pending run, sent on the psycopg ``cursor`` (in a
    round trip or a session's transaction). Read the result with :func:`released`: when the lease
    was gone it wrote nothing and sends no notification (the caller rolls back)."""

    terminal = status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
    wake = (
        """(SELECT pg_notify(CAST(%(wake)s AS text), q.id) FROM (
                SELECT w.id FROM "WorkflowRun" w
                WHERE w."threadId" = %(thread)s AND w.status = 'PENDING' AND w.id <> %(run)s
                ORDER BY w."createdAt", w.id LIMIT 1) q)"""
        if wake_channel is not None
        else "NULL"
    )
    tasks = (
        """, tasks AS (
                   UPDATE "HITLTask" SET status = 'CANCELLED', "resolvedAt" = LOCALTIMESTAMP
                   WHERE "tenantId" = %(tenant)s AND "workflowRunId" = %(run)s
                     AND status = 'PENDING' AND EXISTS (SELECT 1 FROM guard)
               )"""
        if status == RunStatus.CANCELLED
        else ""
    )
    query = f"""WITH guard AS (
                   UPDATE "WorkflowRun" SET status = CAST(%(status)s AS "RunStatus"),
                       payload = COALESCE(CAST(%(payload)s AS jsonb), payload),
                       state = COALESCE(CAST(%(state)s AS jsonb), state),
                       error = {"CAST(%(error)s AS jsonb)" if set_error else "error"},
                       "leaseOwner" = NULL, "leaseExpiresAt" = NULL,
                       "completedAt" = {"LOCALTIMESTAMP" if terminal else '"completedAt"'},
                       "updatedAt" = LOCALTIMESTAMP, "eventSeq" = "eventSeq" + %(n)s
                   WHERE id = %(run)s AND "leaseOwner" = %(owner)s
                   RETURNING id, "eventSeq"
               ), {STEP_ROWS_SQL}, thread AS (
                   UPDATE "AgentThread" SET "updatedAt" = LOCALTIMESTAMP,
                       status = CASE WHEN EXISTS (
                           SELECT 1 FROM "WorkflowRun" o
                           WHERE o."threadId" = %(thread)s AND o.id <> %(run)s
                             AND o.status IN ('PENDING', 'RUNNING')
                       ) THEN 'busy' ELSE %(thread_status)s END
                   WHERE id = %(thread)s AND EXISTS (SELECT 1 FROM guard)
               ){tasks}
               SELECT guard.id, {wake} AS woke, pg_notify(CAST(%(channel)s AS text), %(message)s)
               FROM guard"""
    params = {
        **step_rows_params(rows),
        "run": run_id,
        "owner": owner,
        "status": status.value,
        "payload": None if payload is None else json.dumps(payload, default=str),
        "state": None if state is None else json.dumps(state, default=str),
        "error": None if error is None else json.dumps(error, default=str),
        "thread": thread_id,
        "thread_status": thread_status,
        "wake": wake_channel,
        "channel": notify[0],
        "message": notify[1],
    }
    await cursor.execute(query, params)


async def released(cursor: Any) -> bool:
    """Whether :func:`release_run`'s statement on ``cursor`` released the run."""
    return await cursor.fetchone() is not None
