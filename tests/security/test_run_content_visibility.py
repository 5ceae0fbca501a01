"""A run's content is shown only to administrators, its starter and its reviewers.

The leak this guards against: a Finance operator's run retrieves a Finance-only document, and
every other reader of the tenant's runs (a Staff designer, another operator) could read the
retrieved text through ``/v1/runs``, the run's SSE events and the Agent-Protocol thread routes,
although their own ``/v1/search`` returns nothing. Those readers now see metadata only (or 404 on
routes that exist only to show content). The app runs without its worker: the tests execute the
run themselves, so every stream is open before the run moves.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from eawe.db.models import RunStatus, User
from eawe.db.tenant_scope import system_scope
from tests.server.api_tenants import ApiTenant, assert_problem, login
from tests.server.sample_workflows import create_and_publish, linear, start_run

SECRET_PHRASE = "Zanzibar reserve"
FINANCE_TEXT = f"Finance ledger: the {SECRET_PHRASE} for hotel budgets in Paris is 90000 euros.\n"
QUERY = "hotel budget Paris"
CONTENT_FIELDS = ("input", "payload", "state", "current_state")


@pytest.fixture(scope="module")
def run_worker() -> bool:
    return False


@dataclass
class Scene:
    tenant: ApiTenant
    starter: dict[str, str]
    starter_id: str
    reviewer: dict[str, str]
    workflow_id: str

    def denied(self) -> dict[str, dict[str, str]]:
        """Readers of runs who are neither admin, starter nor reviewer (all in group Staff)."""
        return {"designer": self.tenant.designer, "other operator": self.tenant.operator}

    def allowed(self) -> dict[str, dict[str, str]]:
        return {"starter": self.starter, "reviewer": self.reviewer, "admin": self.tenant.admin}


async def _user(client: httpx.AsyncClient, tenant: ApiTenant, group: str) -> tuple[dict[str, str], str, str]:
    email = f"{group.lower()}-{secrets.token_hex(4)}@example.com"
    created = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": email, "password": "user-pass-123", "role": "OPERATOR", "groups": [group]},
    )
    assert created.status_code == 201, created.text
    return await login(client, email, "user-pass-123"), created.json()["id"], email


@pytest.fixture
async def scene(client: httpx.AsyncClient, app: FastAPI, api_tenant) -> Scene:
    tenant = await api_tenant(groups=["Staff"])
    starter, starter_id, _ = await _user(client, tenant, "Finance")
    reviewer, _, reviewer_email = await _user(client, tenant, "Staff")
    uploaded = await client.post(
        "/v1/documents",
        headers=tenant.admin,
        files={"file": ("ledger.txt", FINANCE_TEXT.encode(), "text/plain")},
        data={"allowed_roles": "Finance"},
    )
    assert uploaded.status_code == 202, uploaded.text
    await app.state.resources.rag.tasks.wait_idle()
    definition = linear(
        {
            "question": {"type": "string", "required": True},
            "found": {"type": "any"},
            "note": {"type": "string"},
        },
        [
            {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 5, "output": "found"}},
            {"id": "write", "type": "transform", "config": {"set": {"note": "checked"}}},
            {
                "id": "review",
                "type": "approval",
                "config": {"assignee_user": reviewer_email, "review": "note"},
            },
        ],
    )
    workflow_id = await create_and_publish(client, tenant.designer, definition)
    return Scene(tenant, starter, starter_id, reviewer, workflow_id)


async def _paused_run(app: FastAPI, client: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    run = await start_run(client, scene.starter, scene.workflow_id, {"question": QUERY})
    assert await app.state.resources.engine.execute_run(run["id"]) == RunStatus.PAUSED_FOR_APPROVAL
    return run


async def test_v1_get_and_list_show_content_to_admin_starter_and_reviewer_only(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene
) -> None:
    run = await _paused_run(app, client, scene)
    for label, headers in scene.denied().items():
        # The reader's own search cannot see the Finance document ...
        search = await client.post("/v1/search", headers=headers, json={"query": QUERY, "k": 10})
        assert search.status_code == 200 and search.json()["items"] == [], label
        # ... and neither can their view of the run.
        got = await client.get(f"/v1/runs/{run['id']}", headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        assert SECRET_PHRASE not in got.text, label
        assert body["content_visible"] is False, label
        assert all(body[name] is None for name in CONTENT_FIELDS), (label, body)
        assert body["status"] == "PAUSED_FOR_APPROVAL" and body["started_by_id"] == scene.starter_id
        assert len(body["pending_tasks"]) == 1 and body["workflow_id"] == scene.workflow_id
        listed = await client.get("/v1/runs", headers=headers)
        assert SECRET_PHRASE not in listed.text, label
        item = next(r for r in listed.json()["items"] if r["id"] == run["id"])
        assert item["content_visible"] is False and item["input"] is None and item["payload"] is None

    for label, headers in scene.allowed().items():
        got = await client.get(f"/v1/runs/{run['id']}", headers=headers)
        body = got.json()
        assert body["content_visible"] is True, label
        assert body["input"] == {"question": QUERY}, label
        assert SECRET_PHRASE in json.dumps(body["current_state"]), label
        listed = (await client.get("/v1/runs", headers=headers)).json()["items"]
        item = next(r for r in listed if r["id"] == run["id"])
        assert item["content_visible"] is True and SECRET_PHRASE in json.dumps(item["payload"]), label

    # Cancelling (another operator may) answers with metadata only, too.
    cancelled = await client.post(f"/v1/runs/{run['id']}/cancel", headers=scene.tenant.operator)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["content_visible"] is False and SECRET_PHRASE not in cancelled.text


async def _events(response: httpx.Response) -> Any:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


async def test_v1_sse_carries_status_only_for_readers_without_content(
    app: FastAPI, live_url: str, client: httpx.AsyncClient, scene: Scene
) -> None:
    run = await start_run(client, scene.starter, scene.workflow_id, {"question": QUERY})
    readers = {**scene.denied(), "starter": scene.starter}
    async with AsyncExitStack() as stack:
        iterators = {}
        for label, headers in readers.items():
            live = await stack.enter_async_context(
                httpx.AsyncClient(base_url=live_url, headers=headers, timeout=60)
            )
            response = await stack.enter_async_context(
                live.stream("GET", f"/v1/runs/{run['id']}/events", params={"stop_on_pause": "true"})
            )
            assert response.status_code == 200
            iterators[label] = _events(response)
            first = json.loads((await anext(iterators[label]))["data"])  # subscribed: the snapshot
            assert first["data"] == {"status": "PENDING", "snapshot": True}
        assert await app.state.resources.engine.execute_run(run["id"]) == RunStatus.PAUSED_FOR_APPROVAL
        seen = {label: [json.loads(e["data"]) async for e in events] for label, events in iterators.items()}

    starter_types = {e["type"] for e in seen["starter"]}
    assert {"node.finished", "task.created", "run.status"} <= starter_types
    for label in scene.denied():
        assert seen[label], label
        assert {e["type"] for e in seen[label]} == {"run.status"}, (label, seen[label])
        assert all(set(e["data"]) <= {"status", "snapshot", "error"} for e in seen[label]), seen[label]
        assert seen[label][-1]["data"]["status"] == "PAUSED_FOR_APPROVAL"
        assert [e["data"]["status"] for e in seen[label]] == [
            e["data"]["status"] for e in seen["starter"] if e["type"] == "run.status"
        ]


async def test_agent_protocol_thread_routes_hide_content(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene
) -> None:
    run = await _paused_run(app, client, scene)
    thread = run["id"]  # a run started on /v1 is its own thread
    for label, headers in scene.denied().items():
        got = await client.get(f"/threads/{thread}", headers=headers)
        assert got.status_code == 200, got.text
        assert got.json()["values"] is None and got.json()["status"] == "interrupted", label
        assert SECRET_PHRASE not in got.text, label
        found = await client.post("/threads/search", headers=headers, json={"ids": [thread]})
        assert [t["thread_id"] for t in found.json()] == [thread], label
        assert found.json()[0]["values"] is None and SECRET_PHRASE not in found.text, label
        for response in (
            await client.get(f"/threads/{thread}/state", headers=headers),
            await client.get(f"/threads/{thread}/history", headers=headers),
            await client.post(f"/threads/{thread}/history", headers=headers, json={"limit": 5}),
            await client.get(f"/threads/{thread}/runs/{run['id']}/join", headers=headers),
            await client.get(f"/threads/{thread}/runs/{run['id']}/stream", headers=headers),
        ):
            assert_problem(response, 404)
            assert SECRET_PHRASE not in response.text, label
        # Metadata routes stay open: the thread's runs.
        runs = await client.get(f"/threads/{thread}/runs", headers=headers)
        assert runs.status_code == 200 and [r["run_id"] for r in runs.json()] == [run["id"]], label

    for label, headers in scene.allowed().items():
        got = await client.get(f"/threads/{thread}", headers=headers)
        assert SECRET_PHRASE in json.dumps(got.json()["values"]), label
        found = await client.post("/threads/search", headers=headers, json={"ids": [thread]})
        assert SECRET_PHRASE in json.dumps(found.json()[0]["values"]), label
        state = await client.get(f"/threads/{thread}/state", headers=headers)
        assert state.status_code == 200 and SECRET_PHRASE in json.dumps(state.json()["values"]), label
        history = await client.post(f"/threads/{thread}/history", headers=headers, json={"limit": 5})
        assert history.status_code == 200 and SECRET_PHRASE in history.text, label
        joined = await client.get(f"/threads/{thread}/runs/{run['id']}/join", headers=headers)
        assert joined.status_code == 200 and SECRET_PHRASE in json.dumps(joined.json()["found"]), label
        assert joined.json()["__interrupt__"], label

    # The reviewer resumes with runs.wait and gets the final state.
    engine = app.state.resources.engine
    task_id = (await client.get(f"/v1/runs/{run['id']}", headers=scene.reviewer)).json()["pending_tasks"][0]
    waiting = asyncio.create_task(
        client.post(
            f"/threads/{thread}/runs/wait",
            headers=scene.reviewer,
            json={"command": {"resume": {"decision": "approve"}}},
        )
    )
    while (await client.get(f"/v1/hitl-tasks/{task_id}", headers=scene.reviewer)).json()[
        "status"
    ] == "PENDING":
        assert not waiting.done(), waiting.result().text
        await asyncio.sleep(0.02)
    assert await engine.execute_run(run["id"]) == RunStatus.COMPLETED
    waited = await waiting
    assert waited.status_code == 200, waited.text
    assert SECRET_PHRASE in json.dumps(waited.json()["found"])
    for label, headers in scene.denied().items():
        done = (await client.get(f"/v1/runs/{run['id']}", headers=headers)).json()
        assert done["status"] == "COMPLETED" and done["payload"] is None, label


async def test_a_deactivated_starter_pauses_the_run_with_an_error(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene
) -> None:
    engine = app.state.resources.engine
    run = await start_run(client, scene.starter, scene.workflow_id, {"question": QUERY})

    async def set_active(active: bool) -> None:
        with system_scope():  # test setup/inspection as the operator
            async with app.state.resources.database.transaction() as session:
                await session.execute(
                    update(User).where(User.id == scene.starter_id).values(is_active=active)
                )

    await set_active(False)
    assert await engine.execute_run(run["id"]) == RunStatus.PAUSED_WITH_ERROR
    paused = (await client.get(f"/v1/runs/{run['id']}", headers=scene.tenant.admin)).json()
    assert paused["status"] == "PAUSED_WITH_ERROR"
    assert paused["error"]["type"] == "StarterDeactivatedError"
    assert "deactivated" in paused["error"]["message"] and scene.starter_id in paused["error"]["message"]
    assert SECRET_PHRASE not in json.dumps(paused)  # nothing was retrieved with the starter's groups
    # Other readers see the kind of error, not its text.
    hidden = (await client.get(f"/v1/runs/{run['id']}", headers=scene.tenant.designer)).json()
    assert hidden["error"] == {"type": "StarterDeactivatedError"}

    # Still deactivated: a retry pauses again; reactivated: the run goes on.
    retried = await client.post(f"/v1/runs/{run['id']}/retry", headers=scene.tenant.admin)
    assert retried.status_code == 202, retried.text
    assert await engine.execute_run(run["id"]) == RunStatus.PAUSED_WITH_ERROR
    await set_active(True)
    retried = await client.post(f"/v1/runs/{run['id']}/retry", headers=scene.tenant.admin)
    assert retried.status_code == 202, retried.text
    assert await engine.execute_run(run["id"]) == RunStatus.PAUSED_FOR_APPROVAL
    resumed = (await client.get(f"/v1/runs/{run['id']}", headers=scene.tenant.admin)).json()
    assert SECRET_PHRASE in json.dumps(resumed["current_state"]["values"]) or SECRET_PHRASE in json.dumps(
        resumed["payload"]
    )


async def test_hitl_task_data_follows_the_run_content_rule(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene
) -> None:
    """A task's data is its run's content: another operator sees the task, not the chunks."""
    definition = linear(
        {"question": {"type": "string", "required": True}, "found": {"type": "any"}},
        [
            {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 5, "output": "found"}},
            {
                "id": "review",
                "type": "approval",
                "config": {"assignee_role": "ADMINISTRATOR", "review": "found"},
            },
        ],
    )
    workflow_id = await create_and_publish(client, scene.tenant.designer, definition)
    run = await start_run(client, scene.starter, workflow_id, {"question": QUERY})
    assert await app.state.resources.engine.execute_run(run["id"]) == RunStatus.PAUSED_FOR_APPROVAL

    other = scene.tenant.operator
    listed = await client.get("/v1/hitl-tasks", headers=other, params={"workflow_run_id": run["id"]})
    assert listed.status_code == 200, listed.text
    assert SECRET_PHRASE not in listed.text
    [task] = listed.json()["items"]
    assert task["content_visible"] is False and task["task_data"] is None
    assert task["original_agent_output"] is None and task["status"] == "PENDING"
    got = await client.get(f"/v1/hitl-tasks/{task['id']}", headers=other)
    assert got.status_code == 200 and SECRET_PHRASE not in got.text and got.json()["content_visible"] is False

    for label, headers in {"starter": scene.starter, "admin": scene.tenant.admin}.items():
        seen = await client.get(f"/v1/hitl-tasks/{task['id']}", headers=headers)
        assert seen.status_code == 200, (label, seen.text)
        assert seen.json()["content_visible"] is True and SECRET_PHRASE in json.dumps(
            seen.json()["task_data"]
        ), label
