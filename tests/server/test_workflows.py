"""Workflows over real HTTP: CRUD, validation naming nodes and fields, publish, versions, Mermaid, roles."""

from __future__ import annotations

import copy

import httpx

from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, start_run


async def _create(client: httpx.AsyncClient, headers, definition=REVIEWED_DRAFT, name="Reviewed note"):  # type: ignore[no-untyped-def]
    return await client.post(
        "/v1/workflows",
        headers=headers,
        json={"name": name, "description": "test", "definition_graph": definition},
    )


async def test_workflow_lifecycle(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    created = await _create(client, tenant.designer)
    assert created.status_code == 201, created.text
    wf = created.json()
    assert wf["status"] == "DRAFT" and wf["version"] == 1 and wf["published_version"] is None

    got = await client.get(f"/v1/workflows/{wf['id']}", headers=tenant.operator)
    assert got.status_code == 200 and got.json()["definition_graph"] == REVIEWED_DRAFT
    listed = await client.get("/v1/workflows", headers=tenant.operator, params={"status": "DRAFT"})
    assert [w["id"] for w in listed.json()["items"]] == [wf["id"]]

    edited_graph = copy.deepcopy(REVIEWED_DRAFT)
    edited_graph["nodes"][0]["config"]["set"]["draft"] = "Notes on {topic}"
    patched = await client.patch(
        f"/v1/workflows/{wf['id']}",
        headers=tenant.designer,
        json={"name": "Renamed", "definition_graph": edited_graph},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed" and patched.json()["version"] == 2

    published = await client.post(f"/v1/workflows/{wf['id']}/publish", headers=tenant.designer)
    assert published.status_code == 200, published.text
    version = published.json()
    assert version["version"] == 1 and len(version["graph_hash"]) == 64
    assert (await client.get(f"/v1/workflows/{wf['id']}", headers=tenant.designer)).json()[
        "status"
    ] == "ACTIVE"
    versions = await client.get(f"/v1/workflows/{wf['id']}/versions", headers=tenant.operator)
    assert [v["version"] for v in versions.json()["items"]] == [1]
    one = await client.get(f"/v1/workflows/{wf['id']}/versions/1", headers=tenant.operator)
    assert one.status_code == 200 and one.json()["definition_graph"] == edited_graph
    assert_problem(await client.get(f"/v1/workflows/{wf['id']}/versions/9", headers=tenant.operator), 404)

    for params in ({}, {"version": 1}):
        graph = await client.get(f"/v1/workflows/{wf['id']}/graph", headers=tenant.operator, params=params)
        assert graph.status_code == 200, graph.text
        mermaid = graph.json()["mermaid"]
        assert mermaid.startswith("---") or "graph TD" in mermaid
        for node in ("write", "review", "publish"):
            assert node in mermaid

    archived = await client.delete(f"/v1/workflows/{wf['id']}", headers=tenant.designer)
    assert archived.status_code == 200 and archived.json()["status"] == "ARCHIVED"
    blocked = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": wf["id"], "input": {}}
    )
    assert_problem(blocked, 409, "workflow_id")
    assert_problem(
        await client.patch(f"/v1/workflows/{wf['id']}", headers=tenant.designer, json={"name": "x"}),
        409,
        "status",
    )


async def test_archive_route_and_unpublished_run(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    wf = (await _create(client, tenant.admin)).json()
    unpublished = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": wf["id"], "input": {"topic": "x"}}
    )
    assert_problem(unpublished, 409, "workflow_id")
    archived = await client.post(f"/v1/workflows/{wf['id']}/archive", headers=tenant.admin)
    assert archived.status_code == 200 and archived.json()["status"] == "ARCHIVED"


async def test_validation_names_node_and_field(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    ok = await client.post(
        "/v1/workflows/validate", headers=tenant.designer, json={"definition_graph": REVIEWED_DRAFT}
    )
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert [n["id"] for n in ok.json()["nodes"]] == ["write", "review", "publish"]

    bad = copy.deepcopy(REVIEWED_DRAFT)
    bad["nodes"][1]["config"] = {"review": "draft"}  # no assignee
    response = await client.post(
        "/v1/workflows/validate", headers=tenant.designer, json={"definition_graph": bad}
    )
    body = assert_problem(response, 422)
    assert any(e.get("node_id") == "review" for e in body["errors"]), body

    unknown = copy.deepcopy(REVIEWED_DRAFT)
    unknown["nodes"][0]["type"] = "teleport"
    body = assert_problem(await _create(client, tenant.designer, unknown), 422)
    assert any(e.get("node_id") == "write" and "teleport" in e["message"] for e in body["errors"]), body
    assert (await client.get("/v1/workflows", headers=tenant.designer)).json()["items"] == []

    dangling = copy.deepcopy(REVIEWED_DRAFT)
    dangling["edges"].append({"source": "review", "target": "nowhere"})
    assert_problem(await _create(client, tenant.designer, dangling), 422)
    assert_problem(
        await client.post("/v1/workflows", headers=tenant.designer, json={"name": "x"}),
        422,
        "definition_graph",
    )
    assert_problem(await _create(client, tenant.designer, name=""), 422, "name")


async def test_workflow_role_denials(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    wf = (await _create(client, tenant.designer)).json()
    denied = [
        ("POST", "/v1/workflows", {"name": "n", "definition_graph": REVIEWED_DRAFT}),
        ("POST", "/v1/workflows/validate", {"definition_graph": REVIEWED_DRAFT}),
        ("PATCH", f"/v1/workflows/{wf['id']}", {"name": "n"}),
        ("DELETE", f"/v1/workflows/{wf['id']}", None),
        ("POST", f"/v1/workflows/{wf['id']}/archive", None),
        ("POST", f"/v1/workflows/{wf['id']}/publish", None),
    ]
    for method, path, body in denied:
        response = await client.request(method, path, headers=tenant.operator, json=body)
        assert_problem(response, 403)
    # Designers build workflows but do not start runs or decide tasks.
    await client.post(f"/v1/workflows/{wf['id']}/publish", headers=tenant.designer)
    no_run = await client.post(
        "/v1/runs", headers=tenant.designer, json={"workflow_id": wf["id"], "input": {}}
    )
    assert_problem(no_run, 403)


async def test_workflow_cross_tenant_is_404(client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    foreign = (await _create(client, theirs.designer)).json()["id"]
    await client.post(f"/v1/workflows/{foreign}/publish", headers=theirs.designer)
    for method, path, body in [
        ("GET", f"/v1/workflows/{foreign}", None),
        ("PATCH", f"/v1/workflows/{foreign}", {"name": "mine now"}),
        ("DELETE", f"/v1/workflows/{foreign}", None),
        ("POST", f"/v1/workflows/{foreign}/archive", None),
        ("POST", f"/v1/workflows/{foreign}/publish", None),
        ("GET", f"/v1/workflows/{foreign}/versions", None),
        ("GET", f"/v1/workflows/{foreign}/versions/1", None),
        ("GET", f"/v1/workflows/{foreign}/graph", None),
        ("POST", "/v1/runs", {"workflow_id": foreign, "input": {"topic": "x"}}),
    ]:
        response = await client.request(method, path, headers=mine.admin, json=body)
        assert_problem(response, 404)
    still = await client.get(f"/v1/workflows/{foreign}", headers=theirs.designer)
    assert still.json()["status"] == "ACTIVE" and still.json()["name"] == "Reviewed note"
    assert (await start_run(client, theirs.operator, foreign, {"topic": "still works"}))[
        "status"
    ] == "PENDING"


async def test_node_types_route_describes_every_registered_type(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    listed = await client.get("/v1/node-types", headers=tenant.operator)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    registry = client._transport.app.state.resources.engine.resources.registry  # type: ignore[attr-defined]
    assert sorted(i["name"] for i in items) == registry.names()
    approval = next(i for i in items if i["name"] == "approval")
    assert approval["category"] == "Human" and approval["interrupts"] == ["approval"]
    assert approval["config_schema"]["properties"]["review"]["x-eawe"] == "state_key"
    assert_problem(await client.get("/v1/node-types"), 401)
