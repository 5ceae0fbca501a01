"""Documents and search over real HTTP with the embedded Qdrant engine and the local embedding model."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from eawe.settings import Settings
from tests.server.api_tenants import assert_problem

DOCUMENT_LIMIT = 2048


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_document_bytes": DOCUMENT_LIMIT})


POLICY = (
    "# Travel policy\n\nEmployees book economy class for flights under six hours. "
    "Hotel costs are reimbursed up to 180 euros per night in capital cities.\n"
)
SALES = "Q3 sales targets: the EMEA region must close 4.2 million euros of new business.\n"


async def _settle(app: FastAPI) -> None:
    await app.state.resources.rag.tasks.wait_idle()


async def _upload(client, headers, name: str, text: str, roles, **form):  # type: ignore[no-untyped-def]
    return await client.post(
        "/v1/documents",
        headers=headers,
        files={"file": (name, text.encode(), "text/markdown")},
        data={"allowed_roles": roles, **form},
    )


async def test_upload_index_list_get_search_delete(
    client: httpx.AsyncClient, app: FastAPI, api_tenant
) -> None:
    tenant = await api_tenant(groups=["Everyone"])
    uploaded = await _upload(client, tenant.admin, "travel.md", POLICY, ["Everyone"])
    assert uploaded.status_code == 202, uploaded.text
    doc = uploaded.json()
    assert doc["status"] == "PENDING" and doc["allowed_roles"] == ["Everyone"]
    assert doc["source_uri"] == "upload://travel.md"
    await _settle(app)

    got = await client.get(f"/v1/documents/{doc['id']}", headers=tenant.operator)
    assert got.status_code == 200
    assert got.json()["status"] == "COMPLETED" and got.json()["chunk_count"] >= 1
    listed = await client.get("/v1/documents", headers=tenant.designer, params={"status": "COMPLETED"})
    assert [d["id"] for d in listed.json()["items"]] == [doc["id"]]

    hits = await client.post("/v1/search", headers=tenant.operator, json={"query": "hotel per night", "k": 2})
    assert hits.status_code == 200, hits.text
    items = hits.json()["items"]
    assert items and items[0]["document_id"] == doc["id"] and "180 euros" in items[0]["content"]

    deleted = await client.delete(f"/v1/documents/{doc['id']}", headers=tenant.designer)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/v1/documents/{doc['id']}", headers=tenant.admin), 404)
    after = await client.post("/v1/search", headers=tenant.operator, json={"query": "hotel per night"})
    assert after.json()["items"] == []


async def test_groups_filter_documents_and_search(
    client: httpx.AsyncClient, app: FastAPI, api_tenant
) -> None:
    tenant = await api_tenant(groups=["Sales"])  # every role user is in Sales only
    finance = await _upload(client, tenant.admin, "targets.txt", SALES, "Finance")
    sales = await _upload(client, tenant.admin, "travel.md", POLICY, '["Sales", "HR"]')
    assert finance.status_code == sales.status_code == 202
    await _settle(app)
    operator_list = (await client.get("/v1/documents", headers=tenant.operator)).json()["items"]
    assert [d["id"] for d in operator_list] == [sales.json()["id"]]
    admin_list = (await client.get("/v1/documents", headers=tenant.admin)).json()["items"]
    assert {d["id"] for d in admin_list} == {finance.json()["id"], sales.json()["id"]}
    assert_problem(await client.get(f"/v1/documents/{finance.json()['id']}", headers=tenant.operator), 404)
    hits = await client.post("/v1/search", headers=tenant.admin, json={"query": "EMEA sales targets", "k": 5})
    assert all(h["document_id"] != finance.json()["id"] for h in hits.json()["items"])


async def test_documents_isolation_denials_validation(
    client: httpx.AsyncClient, app: FastAPI, api_tenant
) -> None:
    mine, theirs = await api_tenant(groups=["Everyone"]), await api_tenant(groups=["Everyone"])
    foreign = await _upload(client, theirs.admin, "travel.md", POLICY, ["Everyone"])
    await _settle(app)
    foreign_id = foreign.json()["id"]
    assert_problem(await client.get(f"/v1/documents/{foreign_id}", headers=mine.admin), 404)
    assert_problem(await client.delete(f"/v1/documents/{foreign_id}", headers=mine.admin), 404)
    assert (await client.get("/v1/documents", headers=mine.admin)).json()["items"] == []
    leak = await client.post("/v1/search", headers=mine.admin, json={"query": "hotel per night"})
    assert leak.json()["items"] == []

    assert_problem(await _upload(client, mine.operator, "x.md", POLICY, ["Everyone"]), 403)
    assert_problem(await client.delete(f"/v1/documents/{foreign_id}", headers=mine.operator), 403)
    assert_problem(await _upload(client, mine.admin, "x.md", POLICY, ""), 422, "allowed_roles")
    missing_file = await client.post("/v1/documents", headers=mine.admin, data={"allowed_roles": "Everyone"})
    assert_problem(missing_file, 422, "file")
    assert_problem(await client.post("/v1/search", headers=mine.admin, json={"query": ""}), 422, "query")
    assert_problem(await client.post("/v1/search", headers=mine.admin, json={"query": "x", "k": 0}), 422, "k")


async def test_unreadable_file_ends_failed(client: httpx.AsyncClient, app: FastAPI, api_tenant) -> None:
    tenant = await api_tenant(groups=["Everyone"])
    response = await client.post(
        "/v1/documents",
        headers=tenant.admin,
        files={"file": ("broken.pdf", b"%PDF-1.7 not really a pdf", "application/pdf")},
        data={"allowed_roles": "Everyone"},
    )
    assert response.status_code == 202
    await _settle(app)
    doc = (await client.get(f"/v1/documents/{response.json()['id']}", headers=tenant.admin)).json()
    assert doc["status"] == "FAILED" and doc["error"]


async def test_oversized_document_is_413(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant(groups=["Everyone"])
    response = await _upload(client, tenant.admin, "big.md", "x" * (DOCUMENT_LIMIT + 1), ["Everyone"])
    body = assert_problem(response, 413, "file")
    assert str(DOCUMENT_LIMIT) in body["detail"]
    assert (await client.get("/v1/documents", headers=tenant.admin)).json()["items"] == []
