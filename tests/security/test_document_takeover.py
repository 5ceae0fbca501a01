"""In-tenant document takeover (issue 13, finding 1), over the real app, PostgreSQL and embedded Qdrant.

An administrator uploads ``board_minutes.md`` for the group Executive; a designer in the group
Staff cannot see it. Uploading a file of the same name (or with the same ``source_uri``) must not
return, replace or let the designer delete the hidden document, and the refusal must say nothing
about it.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from eawe.db.models import IndexingStatus, Role
from eawe.db.repositories import documents as repo
from eawe.db.tenant_scope import system_scope
from tests.server.api_tenants import assert_problem, login

BOARD = "# Board minutes\n\nThe board approved the acquisition of Northwind for 40 million euros.\n"
FORGED = "# Board minutes\n\nThe board decided that every designer gets a bonus of one million euros.\n"
HANDBOOK = "# Staff handbook\n\nThe office opens at eight and closes at six on weekdays.\n"
HANDBOOK_V2 = "# Staff handbook\n\nThe office opens at nine and closes at five on weekdays.\n"


class Tenant:
    def __init__(self, tenant_id: str, headers: dict[str, dict[str, str]]) -> None:
        self.tenant_id = tenant_id
        self.admin = headers["admin"]
        self.designer = headers["designer"]  # group Staff
        self.executive = headers["executive"]  # an operator in group Executive
        self.staff = headers["staff"]  # an operator in group Staff


@pytest.fixture
async def tenant(tenant_factory, client: httpx.AsyncClient) -> Tenant:
    made = await tenant_factory(
        users=[
            ("admin@example.com", Role.ADMINISTRATOR, []),
            ("designer@example.com", Role.DESIGNER, ["Staff"]),
            ("executive@example.com", Role.OPERATOR, ["Executive"]),
            ("staff@example.com", Role.OPERATOR, ["Staff"]),
        ]
    )
    headers = {}
    for key in ("admin", "designer", "executive", "staff"):
        user = made.by_requested_email[f"{key}@example.com"]
        headers[key] = await login(client, user.email, made.passwords[user.email])
    return Tenant(made.tenant.id, headers)


async def _upload(client, headers, name: str, text: str, roles: str, **form: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await client.post(
        "/v1/documents",
        headers=headers,
        files={"file": (name, text.encode(), "text/markdown")},
        data={"allowed_roles": roles, **form},
    )


async def _settle(app: FastAPI) -> None:
    await app.state.resources.rag.tasks.wait_idle()


async def _board_document(client: httpx.AsyncClient, app: FastAPI, tenant: Tenant, **form: str) -> dict:
    uploaded = await _upload(client, tenant.admin, "board_minutes.md", BOARD, "Executive", **form)
    assert uploaded.status_code == 202, uploaded.text
    await _settle(app)
    document = (await client.get(f"/v1/documents/{uploaded.json()['id']}", headers=tenant.admin)).json()
    assert document["status"] == "COMPLETED"
    return document


def _reveals(response: httpx.Response, document: dict) -> list[str]:
    text = response.text
    secrets = {
        "id": document["id"],
        "sha256": document["content_sha256"],
        "role": "Executive",
        "size": f"{document['size_bytes']}",
    }
    return [name for name, value in secrets.items() if value and value in text]


async def _executive_hits(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    found = await client.post(
        "/v1/search", headers=tenant.executive, json={"query": "what did the board decide", "k": 5}
    )
    assert found.status_code == 200, found.text
    return [hit["content"] for hit in found.json()["items"]]


async def _assert_untouched(client: httpx.AsyncClient, tenant: Tenant, before: dict) -> None:
    after = (await client.get(f"/v1/documents/{before['id']}", headers=tenant.admin)).json()
    for key in ("allowed_roles", "content_sha256", "size_bytes", "status", "chunk_count", "file_name"):
        assert after[key] == before[key], key
    hits = await _executive_hits(client, tenant)
    assert any("Northwind" in hit for hit in hits)
    assert not any("bonus" in hit for hit in hits)


@pytest.mark.parametrize("via", ["file_name", "source_uri"])
async def test_designer_cannot_take_over_a_hidden_document(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant, via: str
) -> None:
    form = {"source_uri": "sharepoint://board/minutes"} if via == "source_uri" else {}
    board = await _board_document(client, app, tenant, **form)
    assert_problem(await client.get(f"/v1/documents/{board['id']}", headers=tenant.designer), 404)

    name = "board_minutes.md" if via == "file_name" else "notes.md"
    attempt = await _upload(client, tenant.designer, name, FORGED, "Staff", **form)
    assert_problem(attempt, 409, "source_uri")
    assert _reveals(attempt, board) == []
    await _settle(app)
    await _assert_untouched(client, tenant, board)

    assert_problem(await client.delete(f"/v1/documents/{board['id']}", headers=tenant.designer), 404)
    listed = (await client.get("/v1/documents", headers=tenant.designer)).json()["items"]
    assert board["id"] not in [d["id"] for d in listed]
    await _assert_untouched(client, tenant, board)


async def test_the_refusal_is_the_same_whatever_the_hidden_document(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant, database
) -> None:
    """Two hidden documents, one of them stuck INDEXING, give byte-identical answers."""
    first = await _upload(client, tenant.admin, "a.md", BOARD, "Executive", source_uri="x://one")
    second = await _upload(client, tenant.admin, "b.md", HANDBOOK, "Executive,Legal", source_uri="x://two")
    assert first.status_code == second.status_code == 202
    await _settle(app)
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            await repo.set_document_status(
                session, tenant.tenant_id, second.json()["id"], IndexingStatus.INDEXING
            )

    answers = []
    for uri in ("x://one", "x://two"):
        response = await _upload(client, tenant.designer, "c.md", FORGED, "Staff", source_uri=uri)
        body = assert_problem(response, 409, "source_uri")
        body.pop("instance", None)
        answers.append(json.dumps(body, sort_keys=True).replace(uri, "URI"))
        assert first.json()["id"] not in response.text and second.json()["id"] not in response.text
    assert answers[0] == answers[1]


async def test_owner_replaces_a_document_it_fully_manages(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant
) -> None:
    first = await _upload(client, tenant.designer, "handbook.md", HANDBOOK, "Staff")
    assert first.status_code == 202
    await _settle(app)
    again = await _upload(client, tenant.designer, "handbook.md", HANDBOOK_V2, "Staff")
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    await _settle(app)
    hits = await client.post("/v1/search", headers=tenant.staff, json={"query": "office opening hours"})
    contents = [h["content"] for h in hits.json()["items"]]
    assert any("nine" in c for c in contents) and not any("eight" in c for c in contents)
    deleted = await client.delete(f"/v1/documents/{first.json()['id']}", headers=tenant.designer)
    assert deleted.status_code == 204


async def test_a_shared_document_is_visible_but_only_an_administrator_replaces_or_deletes_it(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant
) -> None:
    shared = await _upload(client, tenant.admin, "board_minutes.md", BOARD, "Staff,Executive")
    assert shared.status_code == 202
    await _settle(app)
    document_id = shared.json()["id"]
    before = (await client.get(f"/v1/documents/{document_id}", headers=tenant.designer)).json()
    assert before["allowed_roles"] == ["Staff", "Executive"]

    assert_problem(await _upload(client, tenant.designer, "board_minutes.md", FORGED, "Staff"), 403)
    assert_problem(await client.delete(f"/v1/documents/{document_id}", headers=tenant.designer), 403)
    await _settle(app)
    await _assert_untouched(client, tenant, before)

    replaced = await _upload(client, tenant.admin, "board_minutes.md", HANDBOOK, "Staff,Executive")
    assert replaced.status_code == 202 and replaced.json()["id"] == document_id
    await _settle(app)
    assert (await client.delete(f"/v1/documents/{document_id}", headers=tenant.admin)).status_code == 204


async def test_concurrent_uploads_of_one_new_source_make_one_document(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant
) -> None:
    import asyncio

    responses = await asyncio.gather(
        *(_upload(client, tenant.admin, "race.md", HANDBOOK, "Staff") for _ in range(6))
    )
    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    await _settle(app)
    listed = (await client.get("/v1/documents", headers=tenant.admin)).json()["items"]
    assert [d["file_name"] for d in listed].count("race.md") == 1
