"""Worker liveness: a dead worker's runs are claimable at once; a worker that lost its liveness
connection stops executing and writes nothing more, so no run ever executes in two places."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
from sqlalchemy import select

from agents import KeywordRetriever, LocalChatModelFactory, create_registry
from checkpoints import RunEngine, open_engine
from checkpoints.leases import claim_run, renew_lease
from eawe.db.models import AuditLog, RunStatus
from eawe.db.tenant_scope import system_scope
from tests.engine.conftest import CORPUS, linear, load_run, publish_workflow
from tests.engine.stub_http import RecordedRequest, StubHTTPServer


async def _engine(settings: Any, database: Any, worker_id: str) -> RunEngine:
    return await open_engine(
        settings,
        database,
        registry=create_registry(plugins=False),
        chat_models=LocalChatModelFactory(),
        retriever_factory=lambda tenant_id, principal: KeywordRetriever(CORPUS),
        lease_seconds=60.0,
        worker_id=worker_id,
    )


async def test_a_worker_that_loses_its_liveness_stops_and_another_takes_over_at_once(
    settings: Any, database: Any, owner_conninfo: str, tenant_factory: Any
) -> None:
    t = await tenant_factory()
    arrived, release = threading.Event(), threading.Event()
    keys: list[str] = []

    def endpoint(request: RecordedRequest) -> tuple[int, Any]:
        keys.append(request.headers["idempotency-key"])
        arrived.set()
        if len(keys) == 1:
            release.wait(30)  # the first worker's call hangs until the end of the test
        return 200, {"ok": True}

    server = StubHTTPServer(endpoint).start()
    first = await _engine(settings, database, "liveness-first")
    second = await _engine(settings, database, "liveness-second")
    try:
        definition = linear(
            {"a": {}, "b": {}},
            [
                {"id": "prepare", "type": "transform", "config": {"set": {"a": "prepared"}}},
                {
                    "id": "call",
                    "type": "tool",
                    "config": {"request": {"url": f"{server.base_url}/erp"}, "output": "b"},
                },
            ],
        )
        workflow_id = await publish_workflow(first, t.tenant.id, definition)
        run = await first.start_run(t.tenant.id, workflow_id, {}, None)
        executing = asyncio.create_task(first.execute_run(run.id))
        assert await asyncio.to_thread(arrived.wait, 30)

        # While the first worker lives, its run (60 s lease) is not claimable.
        with system_scope():  # test setup/inspection as the operator
            assert (
                await claim_run(second.resources.pool, run.id, owner="liveness-second", lease_seconds=60)
                is None
            )

        # Its liveness session ends (as when PostgreSQL drops the connection) while it executes.
        liveness = first.resources.liveness
        assert liveness is not None and liveness._conn is not None
        with psycopg.connect(owner_conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (liveness._conn.info.backend_pid,))
        assert await asyncio.wait_for(executing, 10) is None  # it stopped, without an outcome
        assert first.resources.worker_id != "liveness-first" and liveness.losses == 1
        with system_scope():  # test setup/inspection as the operator
            async with first.resources.database.transaction() as session:  # its heartbeat loses the run
                assert await renew_lease(session, run.id, owner="liveness-first", lease_seconds=60) == (
                    False,
                    False,
                )

        # Another worker claims the run at once (its lease has ~60 s left) and finishes it.
        started = time.monotonic()
        assert await second.execute_run(run.id) == RunStatus.COMPLETED
        assert time.monotonic() - started < 30
        done = await load_run(second, t.tenant.id, run.id)
        assert done.attempts == 2 and done.payload["b"] == {"ok": True}
        assert keys[0] == keys[1]  # the re-executed call repeats its idempotency key

        # The first worker's stopped execution wrote nothing after the loss: one start, one resume.
        with system_scope():  # test setup/inspection as the operator
            async with first.resources.database.session() as session:
                actions = (
                    await session.scalars(select(AuditLog.action).where(AuditLog.workflow_run_id == run.id))
                ).all()
        assert actions.count("RUN_STARTED") == 1 and actions.count("RUN_RESUMED") == 1
        assert actions.count("RUN_COMPLETED") == 1

        # It takes its lock again under its new id and claims runs again.
        await asyncio.wait_for(liveness.alive.wait(), 10)
        again = await first.start_run(t.tenant.id, workflow_id, {}, None)
        assert await first.execute_run(again.id) == RunStatus.COMPLETED
    finally:
        release.set()
        server.stop()
        await first.close()
        await second.close()
