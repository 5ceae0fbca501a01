"""Releasing a run is one statement: the outcome, the journal's last rows (events, audit entries),
the thread's status and, for a cancelled run, its open tasks, all or nothing: a worker whose
lease was taken writes none of it."""

from __future__ import annotations

from typing import Any

import psycopg

from checkpoints import RunEngine
from checkpoints.leases import release_run, released
from eawe.db.driver_cursor import driver_cursor
from eawe.db.models import RunStatus, utcnow
from eawe.db.repositories.run_outbox import StepRows
from eawe.db.tenant_scope import tenant_scope
from tests.engine.test_run_lifecycle import USERS, paused_run

OWNER = "worker-under-test"


def _counts(conn: psycopg.Connection[Any], run_id: str) -> tuple[int, int]:
    audit = conn.execute('SELECT count(*) FROM "AuditLog" WHERE "workflowRunId" = %s', (run_id,)).fetchone()
    events = conn.execute('SELECT count(*) FROM "RunStreamEvent" WHERE "runId" = %s', (run_id,)).fetchone()
    assert audit is not None and events is not None
    return int(audit[0]), int(events[0])


async def _release(engine: RunEngine, run: Any, owner: str) -> bool:
    rows = StepRows(
        run.tenant_id,
        run.id,
        utcnow().replace(microsecond=0),
        parts=[("run.status", {"data": {"status": "CANCELLED"}})],
        audit=[
            {
                "id": f"audit-{owner}",
                "action": "RUN_CANCELLED",
                "actorType": "SYSTEM",
                "actorId": None,
                "details": {"action": "interrupt"},
            }
        ],
    )
    with tenant_scope(run.tenant_id):
        async with engine.resources.database.transaction() as session, driver_cursor(session) as cursor:
            await release_run(
                cursor,
                run.id,
                owner=owner,
                status=RunStatus.CANCELLED,
                thread_id=run.thread_id,
                thread_status="idle",
                notify=("eawe_test_release", run.id),
                rows=rows,
                set_error=False,
            )
            return await released(cursor)


async def test_releasing_a_cancelled_run_stores_its_last_rows_and_cancels_its_open_tasks(
    engine: RunEngine, tenant_factory: Any, owner_conninfo: str
) -> None:
    t = await tenant_factory(users=USERS)
    run, task = await paused_run(engine, t)
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        # the run is back in a worker's hands (as after a decision), with its task still open
        conn.execute(
            """UPDATE "WorkflowRun" SET status = 'RUNNING', "leaseOwner" = %s,
               "leaseExpiresAt" = LOCALTIMESTAMP + interval '1 minute' WHERE id = %s""",
            (OWNER, run.id),
        )
        before = _counts(conn, run.id)
        (seq_before,) = conn.execute(
            'SELECT "eventSeq" FROM "WorkflowRun" WHERE id = %s', (run.id,)
        ).fetchone()  # type: ignore[misc]

        # another worker's release matches nothing and writes nothing
        assert await _release(engine, run, "someone-else") is False
        assert _counts(conn, run.id) == before
        status, owner = conn.execute(  # type: ignore[misc]
            'SELECT status::text, "leaseOwner" FROM "WorkflowRun" WHERE id = %s', (run.id,)
        ).fetchone()
        assert (status, owner) == ("RUNNING", OWNER)

        # the holder's release: outcome, rows, thread and tasks together
        assert await _release(engine, run, OWNER) is True
        assert _counts(conn, run.id) == (before[0] + 1, before[1] + 1)
        stored = conn.execute(
            """SELECT status::text, "leaseOwner", "completedAt" IS NOT NULL, "eventSeq"
               FROM "WorkflowRun" WHERE id = %s""",
            (run.id,),
        ).fetchone()
        assert stored == ("CANCELLED", None, True, seq_before + 1)
        event = conn.execute(
            'SELECT event, data FROM "RunStreamEvent" WHERE "runId" = %s AND seq = %s',
            (run.id, seq_before + 1),
        ).fetchone()
        assert event == ("run.status", {"data": {"status": "CANCELLED"}})
        action = conn.execute('SELECT action FROM "AuditLog" WHERE id = %s', (f"audit-{OWNER}",)).fetchone()
        assert action == ("RUN_CANCELLED",)
        task_row = conn.execute(
            'SELECT status::text, "resolvedAt" IS NOT NULL FROM "HITLTask" WHERE id = %s', (task.id,)
        ).fetchone()
        assert task_row == ("CANCELLED", True)
        thread = conn.execute('SELECT status FROM "AgentThread" WHERE id = %s', (run.thread_id,)).fetchone()
        assert thread == ("idle",)
