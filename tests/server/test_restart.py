"""Restart-resume: a new app (new engine, worker, caches) over the same PostgreSQL carries runs on.

* a paused run stays paused across a restart and resumes from its checkpoint when decided;
* a run left PENDING is picked up when the next app starts, with no request;
* a run whose worker died mid-run (lease expired, one node checkpointed) is resumed by the next
  app from that checkpoint: the finished node is not executed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from checkpoints.claimed_graph import load_claimed_graph, run_config
from checkpoints.leases import claim_run
from checkpoints.step_journal import StepJournal
from checkpoints.stream_log import StreamRecorder
from eawe.db.models import AuditLog, Role
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from server.app import create_app
from tests.engine.dying_worker import worker_alive
from tests.engine.stub_http import StubHTTPServer
from tests.server.api_tenants import login
from tests.server.sample_workflows import (
    REVIEWED_DRAFT,
    create_and_publish,
    fetch_then_finish,
    start_run,
    wait_for_status,
)

LEASE_SECONDS = 1.0


@pytest.fixture(scope="module")
def restart_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_lease_seconds": LEASE_SECONDS})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StubHTTPServer]:
    stub = StubHTTPServer(lambda request: (200, {"items": 3})).start()
    yield stub
    stub.stop()


@asynccontextmanager
async def running_app(
    settings: Settings, *, run_worker: bool
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One server lifetime: lifespan in, client, lifespan out (worker drained, pools closed)."""
    app = create_app(settings, run_worker=run_worker)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://eawe.test", timeout=60
        ) as client,
    ):
        yield app, client


async def _people(tenant_factory, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    made = await tenant_factory(
        users=[("designer@example.com", Role.DESIGNER, []), ("operator@example.com", Role.OPERATOR, [])]
    )
    designer, operator = made.users
    return (
        await login(client, designer.email, made.passwords[designer.email]),
        await login(client, operator.email, made.passwords[operator.email]),
    )


async def _count(database, run_id: str, action: str, node_id: str) -> int:  # type: ignore[no-untyped-def]
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(
                        AuditLog.workflow_run_id == run_id,
                        AuditLog.action == action,
                        AuditLog.details["node_id"].astext == node_id,
                    )
                )
                or 0
            )


async def test_paused_run_survives_a_restart(restart_settings: Settings, tenant_factory, database) -> None:
    async with running_app(restart_settings, run_worker=True) as (_, client):
        designer, operator = await _people(tenant_factory, client)
        workflow_id = await create_and_publish(client, designer, REVIEWED_DRAFT)
        run = await start_run(client, operator, workflow_id, {"topic": "restarts"})
        task_id = (await wait_for_status(client, operator, run["id"], "PAUSED_FOR_APPROVAL"))[
            "pending_tasks"
        ][0]

    async with running_app(restart_settings, run_worker=True) as (_, client):
        still = (await client.get(f"/v1/runs/{run['id']}", headers=operator)).json()
        assert still["status"] == "PAUSED_FOR_APPROVAL" and still["pending_tasks"] == [task_id]
        decided = await client.post(
            f"/v1/hitl-tasks/{task_id}/decision", headers=operator, json={"decision": "approve"}
        )
        assert decided.status_code == 200
        done = await wait_for_status(client, operator, run["id"], "COMPLETED")
    assert done["payload"]["final"] == "published: A note about restarts"
    assert await _count(database, run["id"], "NODE_FINISHED", "write") == 1


async def test_pending_run_is_picked_up_on_start(restart_settings: Settings, tenant_factory) -> None:
    async with running_app(restart_settings, run_worker=False) as (_, client):
        designer, operator = await _people(tenant_factory, client)
        workflow_id = await create_and_publish(client, designer, REVIEWED_DRAFT)
        run = await start_run(client, operator, workflow_id, {"topic": "queued"})
        assert (await client.get(f"/v1/runs/{run['id']}", headers=operator)).json()["status"] == "PENDING"

    async with running_app(restart_settings, run_worker=True) as (_, client):
        paused = await wait_for_status(client, operator, run["id"], "PAUSED_FOR_APPROVAL")
    assert paused["current_state"]["values"]["draft"] == "A note about queued"


async def test_run_of_a_dead_worker_resumes_from_its_checkpoint(
    restart_settings: Settings, tenant_factory, database, endpoint: StubHTTPServer
) -> None:
    async with running_app(restart_settings, run_worker=False) as (app, client):
        designer, operator = await _people(tenant_factory, client)
        workflow_id = await create_and_publish(
            client, designer, fetch_then_finish(f"{endpoint.base_url}/stock")
        )
        run = await start_run(client, operator, workflow_id, {"topic": "crash"})
        resources = app.state.resources.engine.resources
        # A worker claims the run, executes its first node (checkpointed), then dies without a word.
        with worker_alive(database.conninfo, "worker-that-dies"):  # claims, then its lock dies
            with system_scope():  # test setup/inspection as the operator
                claimed = await claim_run(
                    resources.pool, run["id"], owner="worker-that-dies", lease_seconds=LEASE_SECONDS
                )
        assert claimed is not None
        # The worker's own graph, context and config: the checkpoints carry the run id, so a later
        # execution knows the run already started and continues from its checkpoint.
        config: Any = run_config(resources, claimed)
        recorder = StreamRecorder(claimed.tenant_id, claimed.id, [])
        journal = StepJournal(
            recorder,
            owner="worker-that-dies",
            lease_seconds=LEASE_SECONDS,
            lost=asyncio.Event(),
            cancel=asyncio.Event(),
        )
        loaded = await load_claimed_graph(resources, claimed, config, journal=journal)
        graph, context = loaded.graph, loaded.context
        with resources.saver.attach(claimed.thread_id, journal):  # its steps commit like a worker's
            async for _ in graph.astream(
                claimed.input, config, context=context, interrupt_after=["fetch"], durability="sync"
            ):
                pass
        snapshot = await graph.aget_state(config)
        assert snapshot.next == ("finish",) and snapshot.values["fetched"] == {"items": 3}
        assert (await client.get(f"/v1/runs/{run['id']}", headers=operator)).json()["status"] == "RUNNING"
    calls_before = len(endpoint.requests)

    async with running_app(restart_settings, run_worker=True) as (_, client):
        done = await wait_for_status(client, operator, run["id"], "COMPLETED")
    assert done["payload"]["fetched"] == {"items": 3} and done["payload"]["final"] == "done: crash"
    assert len(endpoint.requests) == calls_before == 1  # the checkpointed tool call was not repeated
    assert await _count(database, run["id"], "NODE_FINISHED", "finish") == 1
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            resumed = await session.scalar(
                select(AuditLog.details).where(
                    AuditLog.workflow_run_id == run["id"], AuditLog.action == "RUN_RESUMED"
                )
            )
    assert resumed and resumed.get("recovered") is True
