"""Another tenant's ids behave exactly like ids that do not exist, on every route with an id.

Tenant B ("theirs") owns one of everything: a published workflow, a run paused at an approval with
its HITL task and checkpoints, an Agent-Protocol thread, an indexed document, a credential, a user
and an API key. Tenant A ("mine", administrator: the strongest role) then calls every route of the
OpenAPI document that takes an id, once with B's ids and once with random ids: both must be 404,
with the same body once the id itself is blanked out. Lists and searches must never show B's rows.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.server.api_tenants import ApiTenant, assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, start_run, wait_for_status

SECRET_VALUE = "victim-secret-" + secrets.token_hex(8)
THEIR_TEXT = "Merger codename Bluebird: the board approves the acquisition at 41 euros per share.\n"


@dataclass
class Theirs:
    tenant: ApiTenant
    ids: dict[str, str]


async def _their_world(client: httpx.AsyncClient, app: FastAPI, tenant: ApiTenant) -> Theirs:
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="their-wf")
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "theirs"})
    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    task_id = paused["pending_tasks"][0]
    checkpoint_id = paused["current_state"]["checkpoint_id"]
    thread = await client.post("/threads", headers=tenant.operator, json={"metadata": {"who": "theirs"}})
    assert thread.status_code == 200, thread.text
    cron = await client.post(
        f"/threads/{thread.json()['thread_id']}/runs/crons",
        headers=tenant.operator,
        json={"assistant_id": workflow_id, "schedule": "0 0 1 1 *", "input": {"topic": "yearly"}},
    )
    assert cron.status_code == 200, cron.text
    doc = await client.post(
        "/v1/documents",
        headers=tenant.admin,
        files={"file": ("bluebird.md", THEIR_TEXT.encode(), "text/markdown")},
        data={"allowed_roles": "Everyone"},
    )
    assert doc.status_code == 202, doc.text
    await app.state.resources.rag.tasks.wait_idle()
    credential = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={
            "name": "crm",
            "type": "API_KEY",
            "service_name": "CRM",
            "value": SECRET_VALUE,
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    assert credential.status_code == 201, credential.text
    user = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={
            "email": f"victim-{secrets.token_hex(4)}@theirs.example",
            "password": "victim-password-1",
            "role": "OPERATOR",
            "groups": ["Everyone"],
        },
    )
    assert user.status_code == 201, user.text
    key = await client.post("/v1/api-keys", headers=tenant.admin, json={"name": "theirs"})
    assert key.status_code == 201, key.text
    return Theirs(
        tenant=tenant,
        ids={
            "workflow_id": workflow_id,
            "assistant_id": workflow_id,
            "run_id": run["id"],
            "thread_id": run["thread_id"],
            "task_id": task_id,
            "checkpoint_id": checkpoint_id,
            "document_id": doc.json()["id"],
            "credential_id": credential.json()["id"],
            "user_id": user.json()["id"],
            "key_id": key.json()["id"],
            "reserved_thread_id": thread.json()["thread_id"],
            "cron_id": cron.json()["cron_id"],
        },
    )


@pytest.fixture
async def two_tenants(client: httpx.AsyncClient, app: FastAPI, api_tenant) -> tuple[ApiTenant, Theirs]:
    mine = await api_tenant(groups=["Everyone"])
    theirs = await _their_world(client, app, await api_tenant(groups=["Everyone"]))
    return mine, theirs


_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/hitl-tasks/{task_id}/decision"): {"decision": "approve"},
    ("PATCH", "/v1/workflows/{workflow_id}"): {"description": "hijacked"},
    ("PATCH", "/v1/credentials/{credential_id}"): {"allowed_hosts": ["attacker.example"]},
    ("PATCH", "/v1/users/{user_id}"): {"role": "ADMINISTRATOR"},
    ("POST", "/v1/users/{user_id}/password"): {"new_password": "hijacked-password"},
    ("POST", "/threads/{thread_id}/history"): {"limit": 5},
    ("POST", "/threads/{thread_id}/runs"): {"command": {"resume": {"decision": "approve"}}},
    ("POST", "/threads/{thread_id}/runs/wait"): {"command": {"resume": {"decision": "approve"}}},
    ("POST", "/threads/{thread_id}/runs/stream"): {"command": {"resume": {"decision": "approve"}}},
    ("POST", "/threads/{thread_id}/commands"): {
        "id": 1,
        "method": "input.respond",
        "params": {"interrupt_id": "x", "namespace": [], "response": {"decision": "approve"}},
    },
    ("POST", "/threads/{thread_id}/stream/events"): {"channels": ["lifecycle", "input", "values"]},
    ("PATCH", "/threads/{thread_id}"): {"metadata": {"hijacked": True}},
    ("POST", "/threads/{thread_id}/runs/crons"): {"assistant_id": "x", "schedule": "0 0 1 1 *"},
    ("PATCH", "/runs/crons/{cron_id}"): {"enabled": False},
    ("POST", "/threads/{thread_id}/state"): {"values": {"hijacked": True}},
    ("POST", "/threads/{thread_id}/state/checkpoint"): {"checkpoint": {"checkpoint_id": "x"}},
    ("PATCH", "/assistants/{assistant_id}"): {"metadata": {"hijacked": True}},
    ("POST", "/assistants/{assistant_id}/versions"): {"limit": 5},
    ("POST", "/assistants/{assistant_id}/latest"): {"version": 1},
}
_PARAM = re.compile(r"\{([a-z_]+)\}")


def _id_routes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    routes = []
    for path, operations in spec["paths"].items():
        if "{" not in path:
            continue
        for method in operations:
            if method.upper() in {"GET", "POST", "PATCH", "PUT", "DELETE"}:
                routes.append((method.upper(), path))
    return sorted(routes)


def _fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), "1"), path)


def _blank(body: Any, ids: list[str]) -> Any:
    text = str(body)
    for value in sorted(ids, key=len, reverse=True):
        text = text.replace(value, "<id>")
    return text


async def test_every_id_route_answers_foreign_ids_like_missing_ones(
    client: httpx.AsyncClient, two_tenants: tuple[ApiTenant, Theirs]
) -> None:
    mine, theirs = two_tenants
    spec = (await client.get("/openapi.json")).json()
    routes = _id_routes(spec)
    assert len(routes) >= 30, routes  # the sweep really covers the API
    checked = []
    for method, template in routes:
        for variant in ("run", "reserved"):
            foreign = dict(theirs.ids)
            if variant == "reserved":
                if "{thread_id}" not in template:
                    continue
                foreign["thread_id"] = theirs.ids["reserved_thread_id"]
            missing = {name: "x" + secrets.token_hex(12) for name in foreign}
            missing["version"] = foreign["version"] = "1"
            body = _BODIES.get((method, template))
            responses = []
            for values in (foreign, missing):
                response = await client.request(
                    method, _fill(template, values), headers=mine.admin, json=body
                )
                responses.append(response)
            their, nobody = responses
            where = f"{method} {_fill(template, foreign)}"
            assert their.status_code == 404, f"{where}: {their.status_code} {their.text}"
            assert nobody.status_code == 404, f"{method} {template} (random ids): {nobody.text}"
            assert _blank(their.json(), list(foreign.values())) == _blank(
                nobody.json(), list(missing.values())
            ), where
            checked.append(where)
    assert len(checked) >= 30

    # Nothing of theirs changed: the task is still pending, the workflow keeps its description.
    task = await client.get(f"/v1/hitl-tasks/{theirs.ids['task_id']}", headers=theirs.tenant.admin)
    assert task.json()["status"] == "PENDING"
    workflow = await client.get(f"/v1/workflows/{theirs.ids['workflow_id']}", headers=theirs.tenant.admin)
    assert workflow.json()["description"] != "hijacked"
    assert workflow.json()["status"] == "ACTIVE"
    keys = (await client.get("/v1/api-keys", headers=theirs.tenant.admin)).json()["items"]
    assert all(k["revoked_at"] is None for k in keys)
    creds = (await client.get("/v1/credentials", headers=theirs.tenant.admin)).json()["items"]
    assert [c["id"] for c in creds] == [theirs.ids["credential_id"]]


async def test_lists_and_searches_never_show_foreign_rows(
    client: httpx.AsyncClient, two_tenants: tuple[ApiTenant, Theirs]
) -> None:
    mine, theirs = two_tenants
    their_ids = set(theirs.ids.values())
    gets = [
        ("/v1/users", {}),
        ("/v1/workflows", {}),
        ("/v1/runs", {}),
        ("/v1/runs", {"workflow_id": theirs.ids["workflow_id"]}),
        ("/v1/hitl-tasks", {}),
        ("/v1/hitl-tasks", {"workflow_run_id": theirs.ids["run_id"]}),
        ("/v1/hitl-tasks/inbox", {}),
        ("/v1/documents", {}),
        ("/v1/credentials", {}),
        ("/v1/api-keys", {}),
        ("/v1/audit-logs", {}),
        ("/v1/audit-logs", {"workflow_run_id": theirs.ids["run_id"]}),
        ("/v1/audit-logs", {"actor_id": theirs.tenant.users[next(iter(theirs.tenant.users))].id}),
    ]
    for path, params in gets:
        response = await client.get(path, headers=mine.admin, params=params)
        assert response.status_code == 200, f"{path}: {response.text}"
        text = response.text
        leaked = [value for value in their_ids if value in text]
        assert not leaked, f"{path} {params} shows {leaked}"
        if params:
            assert response.json()["items"] == [], (path, params)
    # An empty tenant's audit trail holds only its own rows and verifies.
    verify = await client.get("/v1/audit-logs/verify", headers=mine.admin)
    assert verify.json()["ok"] is True and verify.json()["tenant_id"] == mine.tenant_id

    posts = [
        ("/threads/search", {}),
        ("/threads/search", {"ids": [theirs.ids["run_id"], theirs.ids["reserved_thread_id"]]}),
        ("/threads/search", {"metadata": {"graph_id": theirs.ids["workflow_id"]}}),
        ("/assistants/search", {}),
        ("/assistants/search", {"graph_id": theirs.ids["workflow_id"]}),
        ("/assistants/search", {"name": "their-wf"}),
    ]
    for path, body in posts:
        response = await client.post(path, headers=mine.admin, json=body)
        assert response.status_code == 200, f"{path}: {response.text}"
        assert response.json() == [], (path, body, response.json())
    for path, body in [
        ("/threads/count", {"ids": [theirs.ids["run_id"]]}),
        ("/assistants/count", {"graph_id": theirs.ids["workflow_id"]}),
        ("/threads/count", {}),
        ("/assistants/count", {}),
    ]:
        response = await client.post(path, headers=mine.admin, json=body)
        assert response.json() == 0, (path, body)

    # Search sees none of their chunks, even for the exact words of their document.
    hits = await client.post("/v1/search", headers=mine.admin, json={"query": THEIR_TEXT, "k": 50})
    assert hits.status_code == 200
    assert all("Bluebird" not in item["content"] for item in hits.json()["items"])
    assert hits.json()["items"] == []
    # ...while they see it (the document is really there).
    own = await client.post("/v1/search", headers=theirs.tenant.operator, json={"query": THEIR_TEXT})
    assert any("Bluebird" in item["content"] for item in own.json()["items"])


async def test_foreign_ids_inside_bodies_and_definitions_are_not_found(
    client: httpx.AsyncClient, two_tenants: tuple[ApiTenant, Theirs]
) -> None:
    mine, theirs = two_tenants
    # Start a run of their workflow (REST and Agent Protocol).
    started = await client.post(
        "/v1/runs", headers=mine.operator, json={"workflow_id": theirs.ids["workflow_id"], "input": {}}
    )
    assert_problem(started, 404)
    for path in ("/runs", "/runs/wait"):
        response = await client.post(
            path, headers=mine.operator, json={"assistant_id": theirs.ids["workflow_id"], "input": {}}
        )
        assert_problem(response, 404)
    response = await client.post(
        f"/threads/{theirs.ids['reserved_thread_id']}/runs",
        headers=mine.operator,
        json={"assistant_id": theirs.ids["workflow_id"], "input": {"topic": "x"}},
    )
    assert_problem(response, 404)
    # An API key acting as their user.
    key = await client.post(
        "/v1/api-keys", headers=mine.admin, json={"name": "steal", "user_id": theirs.ids["user_id"]}
    )
    assert_problem(key, 404)
    # A subworkflow that points at their workflow does not validate.
    definition = {
        "schema_version": 1,
        "state": {"topic": {"type": "string"}, "out": {"type": "any"}},
        "nodes": [
            {
                "id": "child",
                "type": "subworkflow",
                "config": {
                    "workflow_id": theirs.ids["workflow_id"],
                    "input": {"topic": "{topic}"},
                    "output": {"out": "final"},
                },
            }
        ],
        "edges": [{"source": "START", "target": "child"}, {"source": "child", "target": "END"}],
    }
    invalid = await client.post(
        "/v1/workflows/validate", headers=mine.designer, json={"definition_graph": definition}
    )
    assert invalid.status_code == 422, invalid.text
    # An approval naming their user is not assigned to that user.
    to_them = {
        **REVIEWED_DRAFT,
        "nodes": [
            REVIEWED_DRAFT["nodes"][0],
            {
                "id": "review",
                "type": "approval",
                "config": {"assignee_user": theirs.ids["user_id"], "review": "draft"},
            },
            REVIEWED_DRAFT["nodes"][2],
        ],
    }
    workflow_id = await create_and_publish(client, mine.designer, to_them, name="to-them")
    run = await start_run(client, mine.operator, workflow_id, {"topic": "x"})
    settled = await wait_for_status(
        client, mine.operator, run["id"], "PAUSED_WITH_ERROR", "PAUSED_FOR_APPROVAL"
    )
    assert settled["status"] == "PAUSED_WITH_ERROR", settled
    their_tasks = (await client.get("/v1/hitl-tasks", headers=theirs.tenant.admin)).json()["items"]
    assert {t["workflow_run_id"] for t in their_tasks} == {theirs.ids["run_id"]}
