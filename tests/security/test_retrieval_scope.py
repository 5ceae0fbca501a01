"""The permission filter comes from the run's principal only, whatever else a caller controls.

One tenant, two business groups: ``Finance`` and ``Staff``, one document each. Runs are started by
a Finance operator; the designer and the approver are in Staff only. Every retrieval of the run —
before the approval, after it, inside a subworkflow, with graph state that names other groups or
another tenant — must return Finance chunks and never a Staff chunk.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.server.api_tenants import ApiTenant, assert_problem, login
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status

FINANCE_TEXT = "Finance ledger: the quarterly hotel budget for Paris is 90000 euros, approved by the CFO.\n"
STAFF_TEXT = "Staff handbook: hotel nights in Paris are booked through the travel desk, breakfast included.\n"
QUERY = "hotel budget Paris"


@dataclass
class Scene:
    tenant: ApiTenant
    finance_operator: dict[str, str]
    finance_doc: str
    staff_doc: str


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, text: str, roles: str
) -> str:
    response = await client.post(
        "/v1/documents",
        headers=headers,
        files={"file": (name, text.encode(), "text/plain")},
        data={"allowed_roles": roles},
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.fixture
async def scene(client: httpx.AsyncClient, app: FastAPI, api_tenant) -> Scene:
    tenant = await api_tenant(groups=["Staff"])
    email = f"fin-{secrets.token_hex(4)}@example.com"
    created = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": email, "password": "finance-pass-1", "role": "OPERATOR", "groups": ["Finance"]},
    )
    assert created.status_code == 201, created.text
    finance_doc = await _upload(client, tenant.admin, "ledger.txt", FINANCE_TEXT, "Finance")
    staff_doc = await _upload(client, tenant.admin, "handbook.txt", STAFF_TEXT, "Staff")
    await app.state.resources.rag.tasks.wait_idle()
    return Scene(tenant, await login(client, email, "finance-pass-1"), finance_doc, staff_doc)


def _documents(chunks: Any) -> set[str]:
    assert isinstance(chunks, list), chunks
    return {chunk["metadata"]["document_id"] for chunk in chunks}


RETRIEVE_APPROVE_RETRIEVE = linear(
    {
        "question": {"type": "string", "required": True},
        "before": {"type": "any"},
        "after": {"type": "any"},
        "note": {"type": "string"},
    },
    [
        {"id": "first", "type": "retrieve", "config": {"query": "{question}", "k": 10, "output": "before"}},
        {"id": "write", "type": "transform", "config": {"set": {"note": "checked"}}},
        {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "note"}},
        {"id": "second", "type": "retrieve", "config": {"query": "{question}", "k": 10, "output": "after"}},
    ],
)


async def test_a_run_retrieves_as_its_starter_before_and_after_approval(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    tenant = scene.tenant
    # Staff (designer, approver, admin) can see the Staff document only.
    staff_search = await client.post("/v1/search", headers=tenant.operator, json={"query": QUERY, "k": 10})
    assert {hit["document_id"] for hit in staff_search.json()["items"]} == {scene.staff_doc}

    workflow_id = await create_and_publish(client, tenant.designer, RETRIEVE_APPROVE_RETRIEVE)
    run = await start_run(client, scene.finance_operator, workflow_id, {"question": QUERY})
    paused = await wait_for_status(client, tenant.admin, run["id"], "PAUSED_FOR_APPROVAL")
    task_id = paused["pending_tasks"][0]
    decided = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    done = await wait_for_status(client, tenant.admin, run["id"], "COMPLETED")
    assert _documents(done["payload"]["before"]) == {scene.finance_doc}
    assert _documents(done["payload"]["after"]) == {scene.finance_doc}  # not the Staff approver's view
    for chunk in done["payload"]["before"] + done["payload"]["after"]:
        assert "tenant_id" not in chunk["metadata"] and "allowed_roles" not in chunk["metadata"]


async def test_graph_state_and_input_cannot_widen_retrieval(
    client: httpx.AsyncClient, scene: Scene, api_tenant
) -> None:
    tenant = scene.tenant
    other = await api_tenant(groups=["Finance", "Staff"])
    definition = linear(
        {
            "question": {"type": "string", "required": True},
            "tenant_id": {"type": "string"},
            "groups": {"type": "any"},
            "allowed_roles": {"type": "any"},
            "filter": {"type": "any"},
            "permission_filter": {"type": "any"},
            "found": {"type": "any"},
        },
        [
            {
                "id": "widen",
                "type": "transform",
                "config": {
                    "set": {
                        "tenant_id": other.tenant_id,
                        "groups": ["Staff", "Finance"],
                        "allowed_roles": ["Staff"],
                        "filter": {"must": []},
                        "permission_filter": {"tenant_id": other.tenant_id, "groups": ["Staff"]},
                    }
                },
            },
            {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 10, "output": "found"}},
        ],
    )
    workflow_id = await create_and_publish(client, tenant.designer, definition)
    run = await start_run(
        client,
        scene.finance_operator,
        workflow_id,
        {"question": QUERY, "groups": ["Staff"], "tenant_id": other.tenant_id, "allowed_roles": ["Staff"]},
    )
    done = await wait_for_status(client, tenant.admin, run["id"], "COMPLETED", "PAUSED_WITH_ERROR")
    assert done["status"] == "COMPLETED", done
    assert _documents(done["payload"]["found"]) == {scene.finance_doc}

    # A retrieve node's config has no way to name a filter, groups or a tenant.
    for extra in (
        {"filter": {"must": []}},
        {"groups": ["Staff"]},
        {"tenant_id": other.tenant_id},
        {"allowed_roles": ["Staff"]},
        {"permission_filter": None},
    ):
        bad = linear(
            {"question": {"type": "string"}, "found": {"type": "any"}},
            [
                {
                    "id": "find",
                    "type": "retrieve",
                    "config": {"query": "{question}", "output": "found", **extra},
                }
            ],
        )
        response = await client.post(
            "/v1/workflows/validate", headers=tenant.designer, json={"definition_graph": bad}
        )
        assert_problem(response, 422)

    # Nor has a search request.
    for extra in (
        {"filter": {"must": []}},
        {"groups": ["Staff"]},
        {"tenant_id": other.tenant_id},
        {"allowed_roles": ["Staff"]},
        {"scope": "all"},
    ):
        response = await client.post(
            "/v1/search", headers=scene.finance_operator, json={"query": QUERY, "k": 10, **extra}
        )
        assert_problem(response, 422)
    plain = await client.post("/v1/search", headers=scene.finance_operator, json={"query": QUERY, "k": 10})
    assert {hit["document_id"] for hit in plain.json()["items"]} == {scene.finance_doc}
    # Query strings that look like filters are just text.
    tricky = await client.post(
        "/v1/search",
        headers=scene.finance_operator,
        json={"query": '{"should": [{"key": "allowed_roles", "match": {"any": ["Staff"]}}]}', "k": 50},
    )
    assert scene.staff_doc not in {hit["document_id"] for hit in tricky.json()["items"]}


async def test_a_subworkflow_retrieves_as_the_parent_runs_starter(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    tenant = scene.tenant
    child = linear(
        {"question": {"type": "string", "required": True}, "found": {"type": "any"}},
        [{"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 10, "output": "found"}}],
    )
    child_id = await create_and_publish(client, tenant.designer, child, name="child")
    inline_child = {**child}
    parent = linear(
        {
            "question": {"type": "string", "required": True},
            "by_id": {"type": "any"},
            "inline": {"type": "any"},
        },
        [
            {
                "id": "call",
                "type": "subworkflow",
                "config": {
                    "workflow_id": child_id,
                    "input": {"question": "{question}"},
                    "output": {"by_id": "found"},
                },
            },
            {
                "id": "call_inline",
                "type": "subworkflow",
                "config": {
                    "definition": inline_child,
                    "input": {"question": "{question}"},
                    "output": {"inline": "found"},
                },
            },
        ],
    )
    parent_id = await create_and_publish(client, tenant.designer, parent, name="parent")
    run = await start_run(client, scene.finance_operator, parent_id, {"question": QUERY})
    done = await wait_for_status(client, tenant.admin, run["id"], "COMPLETED", "PAUSED_WITH_ERROR")
    assert done["status"] == "COMPLETED", done
    assert _documents(done["payload"]["by_id"]) == {scene.finance_doc}
    assert _documents(done["payload"]["inline"]) == {scene.finance_doc}
