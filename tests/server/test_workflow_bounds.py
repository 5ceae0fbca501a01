"""A definition that cannot run within the recursion limit is refused when it is stored, naming the
first node beyond it; one that fits runs to the end. DELETE archives, and GET says so."""

from __future__ import annotations

import httpx

from graphs.validation import DEFAULT_RECURSION_LIMIT
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status


def _chain(length: int) -> dict:
    nodes = [
        {"id": f"n{i}", "type": "transform", "config": {"set": {"last": f"step {i}"}}} for i in range(length)
    ]
    return linear({"last": {"type": "string"}}, nodes)


async def test_chain_longer_than_the_recursion_limit_is_refused(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    too_long = _chain(DEFAULT_RECURSION_LIMIT)
    for path, body in (
        ("/v1/workflows/validate", {"definition_graph": too_long}),
        ("/v1/workflows", {"name": "long", "definition_graph": too_long}),
    ):
        response = await client.post(path, headers=tenant.designer, json=body)
        problem = assert_problem(response, 422, f"nodes[{DEFAULT_RECURSION_LIMIT - 1}]")
        assert "recursion limit" in problem["detail"], problem
        assert problem["errors"][0]["node_id"] == f"n{DEFAULT_RECURSION_LIMIT - 1}"


async def test_longest_chain_that_fits_runs_to_the_end(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    fits = DEFAULT_RECURSION_LIMIT - 1
    workflow_id = await create_and_publish(client, tenant.designer, _chain(fits))
    run = await start_run(client, tenant.operator, workflow_id, {})
    done = await wait_for_status(
        client, tenant.operator, run["id"], "COMPLETED", "FAILED", "PAUSED_WITH_ERROR", deadline=180
    )
    assert done["status"] == "COMPLETED", done["error"]
    assert done["payload"]["last"] == f"step {fits - 1}"


async def test_delete_archives_and_get_says_so(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, _chain(2))
    deleted = await client.delete(f"/v1/workflows/{workflow_id}", headers=tenant.designer)
    assert deleted.status_code == 200 and deleted.json()["status"] == "ARCHIVED"
    got = await client.get(f"/v1/workflows/{workflow_id}", headers=tenant.operator)
    assert got.status_code == 200 and got.json()["status"] == "ARCHIVED"
    again = await client.delete(f"/v1/workflows/{workflow_id}", headers=tenant.designer)
    assert again.status_code == 200 and again.json()["status"] == "ARCHIVED"
    assert_problem(
        await client.patch(f"/v1/workflows/{workflow_id}", headers=tenant.designer, json={"name": "x"}),
        409,
        "status",
    )
    refused = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {}}
    )
    assert 400 <= refused.status_code < 500 and refused.status_code != 404, refused.text


async def test_version_numbers_beyond_the_column_are_422(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, _chain(2))
    huge = 2**31
    assert_problem(
        await client.get(f"/v1/workflows/{workflow_id}/versions/{huge}", headers=tenant.admin), 422, "version"
    )
    assert_problem(
        await client.get(
            f"/v1/workflows/{workflow_id}/graph", params={"version": huge}, headers=tenant.admin
        ),
        422,
        "version",
    )
    pinned = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {}, "version": huge}
    )
    assert_problem(pinned, 422, "version")
    assert (
        await client.get(f"/v1/workflows/{workflow_id}/versions/1", headers=tenant.admin)
    ).status_code == 200
