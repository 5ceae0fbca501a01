"""Hostile uploads (issue 13, finding 3): each is refused with its reason, and the server stays responsive.

Each file is parsed in a parser process bounded in time and memory; ZIP containers are checked
from their directory before anything inflates; PDF pages and extracted text are capped.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from eawe.settings import Settings
from tests.retrieval.document_builders import make_pdf
from tests.security.hostile_files import many_page_pdf, slow_pdf, zip_bomb_docx

MAX_PAGES = 50
MAX_CHARS = 20_000
UNZIPPED = 32 * 1024 * 1024
PARSE_SECONDS = 3.0


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "max_document_pages": MAX_PAGES,
            "max_extracted_chars": MAX_CHARS,
            "max_document_unzipped_bytes": UNZIPPED,
            "parse_timeout_seconds": PARSE_SECONDS,
            "parse_workers": 2,
        }
    )


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes) -> str:
    response = await client.post(
        "/v1/documents",
        headers=headers,
        files={"file": (name, data, "application/octet-stream")},
        data={"allowed_roles": "Everyone"},
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def _outcome(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str], document_id: str
) -> dict:
    await app.state.resources.rag.tasks.wait_idle()
    return (await client.get(f"/v1/documents/{document_id}", headers=headers)).json()


async def _refused(client, app, tenant, name: str, data: bytes, setting: str) -> str:  # type: ignore[no-untyped-def]
    document = await _outcome(client, app, tenant.admin, await _upload(client, tenant.admin, name, data))
    assert document["status"] == "FAILED", document
    assert setting in document["error"], document["error"]
    assert document["chunk_count"] is None
    return document["error"]


async def test_zip_bomb_docx_is_refused_by_its_compression_ratio(client, app, api_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = await api_tenant(groups=["Everyone"])
    bomb = zip_bomb_docx(16 * 1024 * 1024)
    assert len(bomb) < 128 * 1024
    error = await _refused(client, app, tenant, "bomb.docx", bomb, "max_document_compression_ratio")
    assert "zip bomb" in error


async def test_zip_bomb_docx_is_refused_by_its_inflated_size(client, app, api_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = await api_tenant(groups=["Everyone"])
    await _refused(
        client,
        app,
        tenant,
        "big.docx",
        zip_bomb_docx(UNZIPPED + 8 * 1024 * 1024),
        "max_document_unzipped_bytes",
    )


async def test_pdf_with_too_many_pages_is_refused_before_extraction(client, app, api_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = await api_tenant(groups=["Everyone"])
    error = await _refused(
        client, app, tenant, "pages.pdf", many_page_pdf(12 * MAX_PAGES), "max_document_pages"
    )
    assert f"{12 * MAX_PAGES} pages" in error


async def test_extracted_text_is_capped(client, app, api_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = await api_tenant(groups=["Everyone"])
    line = "The quarterly report lists every invoice of the northern region in detail.\n"
    pages = [line * 20 for _ in range(MAX_PAGES - 10)]  # under the page cap, over the text cap
    await _refused(client, app, tenant, "long.pdf", make_pdf(pages), "max_extracted_chars")
    await _refused(client, app, tenant, "long.md", (line * 400).encode(), "max_extracted_chars")


async def test_a_parse_that_runs_too_long_is_killed_and_the_server_stays_responsive(
    client: httpx.AsyncClient, app: FastAPI, api_tenant
) -> None:
    tenant = await api_tenant(groups=["Everyone"])
    # 600,000 operators stay under pypdf's own token budget: ~10 s of parsing without our limit.
    slow_id = await _upload(client, tenant.admin, "slow.pdf", slow_pdf(600_000))
    # While the slow file is being parsed, the API answers and another upload is indexed.
    await asyncio.sleep(0.5)
    health = await client.get("/health")
    assert health.status_code == 200
    during = (await client.get(f"/v1/documents/{slow_id}", headers=tenant.admin)).json()
    assert during["status"] in ("PENDING", "INDEXING")
    fine_id = await _upload(client, tenant.admin, "fine.md", b"# Fine\n\nA normal document about holidays.\n")

    slow = await _outcome(client, app, tenant.admin, slow_id)
    assert slow["status"] == "FAILED" and "parse_timeout_seconds" in slow["error"], slow
    fine = (await client.get(f"/v1/documents/{fine_id}", headers=tenant.admin)).json()
    assert fine["status"] == "COMPLETED" and fine["chunk_count"] == 1
    # The pool replaced the killed parser: the next file is parsed as usual.
    again = await _outcome(
        client,
        app,
        tenant.admin,
        await _upload(client, tenant.admin, "again.md", b"# Again\n\nStill fine.\n"),
    )
    assert again["status"] == "COMPLETED"
