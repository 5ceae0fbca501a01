"""Agent-Protocol threads created before their run live in the ``AgentThread`` table.

Creation and binding are audited, but every lookup (get, search, count, starting a run) reads
the table, and all of it is tenant-scoped: another tenant's thread is not found.
"""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from server.agent_protocol.thread_directory import THREAD_BOUND, THREAD_CREATED, bind_thread
from sqlalchemy import select

from eawe.db.database import Database
from eawe.db.ids import new_id
from eawe.db.models import AgentThread, AuditLog, Role, RunStatus, WorkflowRun
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def _row(database: Database, thread_id: str) -> AgentThread | None:
    async with database.session() as session:
        return await session.get(AgentThread, thread_id)


async def test_thread_created_before_its_run_is_a_row_bound_when_the_run_starts(
    live_url: str, client: httpx.AsyncClient, api_tenant, database: Database
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    sdk = get_client(url=live_url, api_key=_token(tenant.operator))
    operator_id = tenant.users[Role.OPERATOR].id

    thread_id = (await sdk.threads.create(metadata={"ticket": "T-1"}))["thread_id"]
    row = await _row(database, thread_id)
    assert row is not None
    assert (row.tenant_id, row.created_by_id, row.metadata_, row.workflow_run_id) == (
        tenant.tenant_id,
        operator_id,
        {"ticket": "T-1"},
        None,
    )

    run_id = (await sdk.runs.create(thread_id, workflow_id, input={"topic": "bound"}))["run_id"]
    joined = await sdk.runs.join(thread_id, run_id)
    assert joined["draft"] == "A note about bound"
    row = await _row(database, thread_id)
    assert row is not None and row.workflow_run_id == run_id
    async with database.session() as session:
        run = await session.get(WorkflowRun, run_id)
        actions = (
            await session.scalars(
                select(AuditLog.action).where(
                    AuditLog.tenant_id == tenant.tenant_id,
                    AuditLog.action.in_([THREAD_CREATED, THREAD_BOUND]),
                )
            )
        ).all()
    assert run is not None and run.status == RunStatus.PAUSED_FOR_APPROVAL
    assert sorted(actions) == [THREAD_BOUND, THREAD_CREATED]

    thread = await sdk.threads.get(thread_id)
    assert thread["thread_id"] == thread_id and thread["status"] == "interrupted"
    assert thread["metadata"]["ticket"] == "T-1" and thread["metadata"]["graph_id"] == workflow_id
    await sdk.aclose()


async def test_lookups_read_the_table_not_the_audit_log(
    live_url: str, client: httpx.AsyncClient, api_tenant, database: Database
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    sdk = get_client(url=live_url, api_key=_token(tenant.operator))
    # A row written straight into the table, with no audit event, is a thread like any other.
    thread_id = new_id()
    async with database.transaction() as session:
        session.add(AgentThread(id=thread_id, tenant_id=tenant.tenant_id, metadata_={"source": "table"}))

    thread = await sdk.threads.get(thread_id)
    assert (thread["status"], thread["metadata"]) == ("idle", {"source": "table"})
    assert [t["thread_id"] for t in await sdk.threads.search(metadata={"source": "table"})] == [thread_id]
    waited = await sdk.runs.wait(thread_id, workflow_id, input={"topic": "direct"})
    assert waited["draft"] == "A note about direct"
    row = await _row(database, thread_id)
    assert row is not None and row.workflow_run_id is not None
    await sdk.aclose()


async def test_thread_search_and_count_cover_unbound_bound_and_plain_threads(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    sdk = get_client(url=live_url, api_key=_token(tenant.operator))

    plain = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {"topic": "plain"}}
    )
    assert plain.status_code == 202, plain.text
    plain_id = plain.json()["id"]
    await sdk.runs.join(plain_id, plain_id)
    bound_id = (await sdk.threads.create(metadata={"team": "red", "kind": "bound"}))["thread_id"]
    bound_run = (await sdk.runs.create(bound_id, workflow_id, input={"topic": "bound"}))["run_id"]
    await sdk.runs.join(bound_id, bound_run)
    unbound_id = (await sdk.threads.create(metadata={"team": "red", "kind": "unbound"}))["thread_id"]

    everything = await sdk.threads.search(limit=100)
    # Newest first; the bound run appears once, under its thread's id, never under the run's.
    assert [t["thread_id"] for t in everything] == [unbound_id, bound_id, plain_id]
    assert [t["status"] for t in everything] == ["idle", "interrupted", "interrupted"]
    assert await sdk.threads.count() == 3
    assert [t["thread_id"] for t in await sdk.threads.search(limit=1, offset=1)] == [bound_id]

    red = await sdk.threads.search(metadata={"team": "red"})
    assert [t["thread_id"] for t in red] == [unbound_id, bound_id]
    assert [t["thread_id"] for t in await sdk.threads.search(metadata={"kind": "unbound"})] == [unbound_id]
    assert [t["thread_id"] for t in await sdk.threads.search(metadata={"team": "blue"})] == []
    by_graph = await sdk.threads.search(metadata={"graph_id": workflow_id})
    assert [t["thread_id"] for t in by_graph] == [bound_id, plain_id]
    assert await sdk.threads.count(metadata={"graph_id": workflow_id, "team": "red"}) == 1

    assert [t["thread_id"] for t in await sdk.threads.search(status="idle")] == [unbound_id]
    assert await sdk.threads.count(status="interrupted") == 2
    assert await sdk.threads.count(status="busy") == 0
    found = await sdk.threads.search(ids=[bound_id, unbound_id, bound_run])
    assert [t["thread_id"] for t in found] == [unbound_id, bound_id]
    await sdk.aclose()


async def test_threads_are_tenant_scoped(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    their_workflow = await create_and_publish(client, theirs.designer, REVIEWED_DRAFT)
    my_workflow = await create_and_publish(client, mine.designer, REVIEWED_DRAFT)
    their_sdk = get_client(url=live_url, api_key=_token(theirs.operator))
    my_sdk = get_client(url=live_url, api_key=_token(mine.operator))

    their_unbound = (await their_sdk.threads.create(metadata={"secret": "x"}))["thread_id"]
    their_bound = (await their_sdk.threads.create(metadata={"secret": "x"}))["thread_id"]
    their_run = (await their_sdk.runs.create(their_bound, their_workflow, input={"topic": "t"}))["run_id"]
    await their_sdk.runs.join(their_bound, their_run)

    assert await my_sdk.threads.search() == []
    assert await my_sdk.threads.count() == 0
    assert await my_sdk.threads.search(ids=[their_unbound, their_bound, their_run]) == []
    assert await my_sdk.threads.search(metadata={"secret": "x"}) == []
    for call in (
        my_sdk.threads.get(their_unbound),
        my_sdk.threads.get(their_bound),
        my_sdk.threads.get_state(their_unbound),
        my_sdk.runs.list(their_bound),
        my_sdk.runs.create(their_unbound, my_workflow, input={"topic": "hijack"}),
    ):
        with pytest.raises(NotFoundError):
            await call
    # The foreign thread is still unbound and theirs.
    assert (await their_sdk.threads.get(their_unbound))["status"] == "idle"
    assert {t["thread_id"] for t in await their_sdk.threads.search()} == {their_unbound, their_bound}
    await my_sdk.aclose()
    await their_sdk.aclose()


async def test_a_thread_binds_one_run_only(client: httpx.AsyncClient, api_tenant, database: Database) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run_ids = []
    for topic in ("first", "second"):
        started = await client.post(
            "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {"topic": topic}}
        )
        assert started.status_code == 202, started.text
        run_ids.append(started.json()["id"])
    created = await client.post("/threads", headers=tenant.operator, json={})
    assert created.status_code == 200, created.text
    thread_id = created.json()["thread_id"]
    actor = tenant.users[Role.OPERATOR].id

    async with database.transaction() as session:
        # Another tenant cannot bind it; then the first run wins and the second is refused.
        assert not await bind_thread(session, other.tenant_id, thread_id, run_ids[0], actor)
        assert await bind_thread(session, tenant.tenant_id, thread_id, run_ids[0], actor)
        assert not await bind_thread(session, tenant.tenant_id, thread_id, run_ids[1], actor)
    row = await _row(database, thread_id)
    assert row is not None and row.workflow_run_id == run_ids[0]
