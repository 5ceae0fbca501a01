"""Queueing a run: its new thread, the run, its audit entry and its first event are written by one
statement in one transaction, exactly as the returned objects say, and the workers and the run's
readers are notified when it commits; a queue that fails leaves nothing behind."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from checkpoints import RunEngine
from checkpoints.events import EVENTS_CHANNEL, QUEUE_CHANNEL
from eawe.db.models import Role, RunStatus
from tests.engine.conftest import linear, publish_workflow

USERS = [("op@x.io", Role.OPERATOR, [])]
FLOW = linear({"x": {"type": "string"}}, [{"id": "s", "type": "transform", "config": {"set": {"x": "{x}!"}}}])


def _row(conn: psycopg.Connection[Any], query: str, *args: Any) -> dict[str, Any]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(query, args).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_queued_run_its_thread_audit_entry_and_event_are_stored_as_returned(
    engine: RunEngine, tenant_factory: Any, owner_conninfo: str
) -> None:
    t = await tenant_factory(users=USERS)
    starter = t.user("op@x.io").id
    workflow_id = await publish_workflow(engine, t.tenant.id, FLOW)
    with psycopg.connect(owner_conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {QUEUE_CHANNEL}")
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        run = await engine.start_run(t.tenant.id, workflow_id, {"x": "a"}, starter)
        notices = [(n.channel, n.payload) for n in listener.notifies(timeout=2.0, stop_after=2)]
    assert (QUEUE_CHANNEL, run.id) in notices
    (event_payload,) = [p for c, p in notices if c == EVENTS_CHANNEL]
    assert run.id in event_payload and "PENDING" in event_payload

    with psycopg.connect(owner_conninfo) as conn:
        stored = _row(conn, 'SELECT *, xmin::text AS xid FROM "WorkflowRun" WHERE id = %s', run.id)
        thread = _row(conn, 'SELECT *, xmin::text AS xid FROM "AgentThread" WHERE id = %s', run.thread_id)
        audit = _row(conn, 'SELECT *, xmin::text AS xid FROM "AuditLog" WHERE "workflowRunId" = %s', run.id)
        event = _row(conn, 'SELECT *, xmin::text AS xid FROM "RunStreamEvent" WHERE "runId" = %s', run.id)
    # one transaction wrote all four
    assert stored["xid"] == thread["xid"] == audit["xid"] == event["xid"]
    # the run, as the returned object says (timestamps included: both at millisecond precision)
    assert run.thread_id == run.id  # a thread made for the run shares its id
    for column, attribute in {
        "tenantId": "tenant_id",
        "workflowDefinitionId": "workflow_definition_id",
        "workflowVersion": "workflow_version",
        "graphHash": "graph_hash",
        "startedById": "started_by_id",
        "input": "input",
        "threadId": "thread_id",
        "graphId": "graph_id",
        "assistantId": "assistant_id",
        "kwargs": "kwargs",
        "multitaskStrategy": "multitask_strategy",
        "eventSeq": "event_seq",
        "attempts": "attempts",
        "cancelRequested": "cancel_requested",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
    }.items():
        assert stored[column] == getattr(run, attribute), column
    assert stored["status"] == "PENDING" and run.status == RunStatus.PENDING
    assert stored["input"] == {"x": "a"} and stored["eventSeq"] == 1
    # the thread: busy with this run, naming its graph and assistant
    assert thread["tenantId"] == t.tenant.id and thread["status"] == "busy"
    assert thread["createdById"] == starter and thread["graphId"] == run.graph_id
    assert thread["metadata"] == {"graph_id": run.graph_id, "assistant_id": run.assistant_id}
    # the audit entry: by the starter, unsealed until the sealer gets to it
    assert (audit["action"], audit["actorType"], audit["actorId"]) == ("RUN_CREATED", "USER", starter)
    assert audit["details"]["thread_id"] == run.id and audit["details"]["workflow_id"] == workflow_id
    assert audit["tenantId"] == t.tenant.id and audit["leafIndex"] is None
    # the first outbox row
    assert (event["seq"], event["event"]) == (1, "run.status")
    assert event["data"]["data"] == {"status": "PENDING"}
    # and the run executes from there
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED


async def test_a_queue_that_fails_leaves_no_thread_run_or_entry(
    engine: RunEngine, tenant_factory: Any, owner_conninfo: str
) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, FLOW)

    def counts() -> tuple[int, ...]:
        with psycopg.connect(owner_conninfo) as conn:
            return tuple(
                conn.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "tenantId" = %s', (t.tenant.id,)
                ).fetchone()[0]  # type: ignore[index]
                for table in ("AgentThread", "WorkflowRun", "AuditLog", "RunStreamEvent")
            )

    before = counts()
    with pytest.raises(TypeError):  # what the run was asked for cannot be stored as JSON
        await engine.create_run(
            t.tenant.id,
            workflow_id,
            thread_id=None,
            run_input={"x": "a"},
            started_by=None,
            kwargs={"webhook": object()},
        )
    assert counts() == before
    # and the same call with storable arguments queues one of each
    await engine.create_run(t.tenant.id, workflow_id, thread_id=None, run_input={"x": "a"}, started_by=None)
    assert counts() == tuple(n + 1 for n in before)
