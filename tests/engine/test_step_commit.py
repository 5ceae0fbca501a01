"""A run's super-step is one transaction: its checkpoint, its writes, its audit entry and its events
commit together (one transaction id), and a step whose lease was taken commits none of them."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import update

from checkpoints import RunEngine
from checkpoints.claimed_graph import load_claimed_graph, run_config
from checkpoints.leases import claim_run
from checkpoints.step_journal import LeaseLostError, StepJournal
from checkpoints.stream_log import StreamRecorder
from eawe.db.models import Role, RunStatus, WorkflowRun
from eawe.db.tenant_scope import system_scope, tenant_scope
from tests.engine.conftest import audit_actions, linear, load_run, publish_workflow

USERS = [("op@x.io", Role.OPERATOR, [])]
CHAIN = linear(
    {"x": {"type": "string"}},
    [{"id": f"s{i}", "type": "transform", "config": {"set": {"x": "{x}."}}} for i in range(3)],
)


def _rows_by_transaction(owner_conninfo: str, run_id: str) -> dict[str, list[tuple[str, str]]]:
    """transaction id → the (table, what) rows of the run it committed (read as the owner)."""
    queries = {
        "checkpoints": "SELECT xmin::text, metadata->>'step' FROM checkpoints WHERE thread_id = %s",
        "checkpoint_writes": (
            "SELECT DISTINCT xmin::text, channel FROM checkpoint_writes WHERE thread_id = %s"
        ),
        "AuditLog": """SELECT xmin::text, action || ':' || coalesce(details->>'node_id', '')
                       FROM "AuditLog" WHERE "workflowRunId" = %s""",
        "RunStreamEvent": """SELECT xmin::text, event || ':' || coalesce(data->'data'->>'node_id', '')
                             FROM "RunStreamEvent" WHERE "runId" = %s""",
    }
    found: dict[str, list[tuple[str, str]]] = {}
    with psycopg.connect(owner_conninfo) as conn:
        for table, query in queries.items():
            for xid, what in conn.execute(query, (run_id,)).fetchall():
                found.setdefault(xid, []).append((table, what))
    return found


async def test_each_step_commits_its_checkpoint_writes_audit_and_events_in_one_transaction(
    engine: RunEngine, tenant_factory: Any, owner_conninfo: str
) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, CHAIN)
    run = await engine.start_run(t.tenant.id, workflow_id, {"x": ""}, t.user("op@x.io").id)
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["x"] == "..."

    by_xid = _rows_by_transaction(owner_conninfo, run.id)
    steps = {
        xid: rows
        for xid, rows in by_xid.items()
        if any(table == "AuditLog" and what.startswith("NODE_FINISHED:") for table, what in rows)
    }
    assert len(steps) == 3  # one transaction per node's step, no step split over two
    for node in ("s0", "s1", "s2"):
        (rows,) = [rows for rows in steps.values() if ("AuditLog", f"NODE_FINISHED:{node}") in rows]
        tables = {table for table, _ in rows}
        # the node's checkpoint, the writes it made, its audit entry and its event: together
        assert tables == {"checkpoints", "checkpoint_writes", "AuditLog", "RunStreamEvent"}, rows
        assert ("RunStreamEvent", f"node.finished:{node}") in rows
        assert sum(1 for table, _ in rows if table == "checkpoints") == 1
    # the run's start (its input checkpoint, RUN_STARTED) is committed with the graph's first
    # step (LangGraph's START step, checkpoint 0), not on its own
    (first,) = [rows for rows in by_xid.values() if ("AuditLog", "RUN_STARTED:") in rows]
    assert {("checkpoints", "-1"), ("checkpoints", "0"), ("RunStreamEvent", "run.status:")} <= set(first)


async def test_a_step_whose_lease_was_taken_commits_nothing(
    engine: RunEngine, tenant_factory: Any, owner_conninfo: str
) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, CHAIN)
    run = await engine.start_run(t.tenant.id, workflow_id, {"x": ""}, t.user("op@x.io").id)
    resources = engine.resources
    worker_a = resources.worker_id  # alive: the engine holds its liveness lock
    with system_scope():  # test setup: worker A claims the run, then worker B takes it over
        claimed = await claim_run(resources.pool, run.id, owner=worker_a, lease_seconds=30)
        assert claimed is not None
        async with resources.database.transaction() as session:
            await session.execute(
                update(WorkflowRun).where(WorkflowRun.id == run.id).values(lease_owner="worker-b")
            )
    before = _rows_by_transaction(owner_conninfo, run.id)

    journal = StepJournal(
        StreamRecorder(claimed.tenant_id, claimed.id, []),
        owner=worker_a,
        lease_seconds=30,
        lost=asyncio.Event(),
        cancel=asyncio.Event(),
    )
    config: Any = run_config(resources, claimed)
    with tenant_scope(t.tenant.id):  # as the engine executes a run
        loaded = await load_claimed_graph(resources, claimed, config, journal=journal)
        with resources.saver.attach(claimed.thread_id, journal), pytest.raises(LeaseLostError):
            async for _ in loaded.graph.astream(
                claimed.input, config, context=loaded.context, durability="sync"
            ):
                pass
    assert journal.lost.is_set()
    # The refusal aborted the whole pipelined transaction: the checkpoint and writes sent after the
    # lease check were not committed, nor the node's audit entry or event.
    assert _rows_by_transaction(owner_conninfo, run.id) == before
    assert [a for a, _ in await audit_actions(engine, t.tenant.id, run.id)] == ["RUN_CREATED"]

    # The pool's connections came back clean: with the lease back, the run completes.
    with system_scope():
        async with resources.database.transaction() as session:
            await session.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == run.id)
                .values(lease_owner=None, status=RunStatus.PENDING)
            )
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["x"] == "..."
