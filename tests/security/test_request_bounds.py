"""Bounded work per request (issue 13, finding 3): oversized fields and graphs are refused up front.

A 20 MB description, definition or run input is a 413 naming the field, decided while the body
streams in; a definition with more nodes than ``max_definition_nodes`` is a 422 naming
``definition_graph.nodes`` before it is validated or compiled.
"""

from __future__ import annotations

import copy

import httpx

from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, linear

TWENTY_MB = 20 * 1024 * 1024


def _chain(count: int) -> dict:
    return linear(
        {"x": {"type": "string"}},
        [{"id": f"n{i}", "type": "transform", "config": {"set": {"x": f"{i}"}}} for i in range(count)],
    )


async def test_a_huge_description_is_413_naming_description(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    body = {"name": "big", "description": "d" * TWENTY_MB, "definition_graph": REVIEWED_DRAFT}
    response = await client.post("/v1/workflows", headers=tenant.designer, json=body)
    assert_problem(response, 413, "description")
    assert (await client.get("/v1/workflows", headers=tenant.designer)).json()["items"] == []


async def test_a_huge_definition_is_413_naming_definition_graph(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    graph = copy.deepcopy(REVIEWED_DRAFT)  # valid, only big: the first node's template is 20 MB
    graph["nodes"][0]["config"]["set"]["draft"] = "A note about {topic} " + "p" * TWENTY_MB
    for method, path in (("POST", "/v1/workflows"), ("POST", "/v1/workflows/validate")):
        payload = (
            {"definition_graph": graph}
            if path.endswith("validate")
            else {"name": "g", "definition_graph": graph}
        )
        response = await client.request(method, path, headers=tenant.designer, json=payload)
        body = assert_problem(response, 413, "definition_graph")
        assert "max_definition_bytes" in body["detail"]
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    patched = await client.patch(
        f"/v1/workflows/{workflow_id}", headers=tenant.designer, json={"definition_graph": graph}
    )
    assert_problem(patched, 413, "definition_graph")


async def test_too_many_nodes_is_422_before_validation(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    response = await client.post(
        "/v1/workflows/validate", headers=tenant.designer, json={"definition_graph": _chain(501)}
    )
    body = assert_problem(response, 422, "definition_graph.nodes")
    assert "501 nodes" in body["detail"] and "max_definition_nodes" in body["detail"]
    created = await client.post(
        "/v1/workflows", headers=tenant.designer, json={"name": "long", "definition_graph": _chain(501)}
    )
    assert_problem(created, 422, "definition_graph.nodes")
    within = await client.post(
        "/v1/workflows/validate", headers=tenant.designer, json={"definition_graph": _chain(20)}
    )
    assert within.status_code == 200, within.text


async def test_a_huge_run_input_is_413_naming_input(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    big = {"topic": "t" * TWENTY_MB}
    response = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": big}
    )
    body = assert_problem(response, 413, "input")
    assert "max_run_input_bytes" in body["detail"]
    thread = await client.post("/threads", headers=tenant.operator, json={})
    assert thread.status_code == 200, thread.text
    for path in (f"/threads/{thread.json()['thread_id']}/runs", "/runs/wait"):
        sdk = await client.post(
            path, headers=tenant.operator, json={"assistant_id": workflow_id, "input": big}
        )
        assert_problem(sdk, 413, "input")
    assert (await client.get("/v1/runs", headers=tenant.operator)).json()["items"] == []
    small = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {"topic": "t" * 1000}}
    )
    assert small.status_code == 202, small.text
