"""Ingestion against a real PostgreSQL and the embedded Qdrant engine opened from settings."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select

from cli.ingest import ingest_from_cli
from eawe.db.database import Database
from eawe.db.models import AuditLog, Document, IndexingStatus, Role, Tenant
from eawe.db.repositories import documents as repo
from eawe.db.tenant_scope import system_scope
from eawe.errors import NotFoundError
from eawe.settings import Settings
from retrieval import (
    ChunkInput,
    ChunkStore,
    DocumentInfo,
    IngestProgress,
    LocalMiniLMEmbeddings,
    PermissionFilter,
    index_document,
    ingest_paths,
    open_chunk_store,
    register_document,
    remove_document,
)

from .document_builders import encrypt_pdf, make_docx, make_pdf

FINANCE = ["Finance"]


@pytest.fixture(scope="module")
def store(settings: Settings, embeddings: LocalMiniLMEmbeddings) -> Iterator[ChunkStore]:
    opened = open_chunk_store(settings, embeddings)
    yield opened
    opened.close()


@pytest.fixture
async def tenant_id(tenant_factory: Any) -> str:
    made = await tenant_factory()
    return str(made.tenant.id)


async def _row(database: Database, tenant_id: str, document_id: str) -> Document:
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            return await repo.get_document(session, tenant_id, document_id)


async def _audit_actions(database: Database, tenant_id: str) -> list[str]:
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            rows = await session.scalars(
                select(AuditLog).where(AuditLog.tenant_id == tenant_id).order_by(AuditLog.seq)
            )
            return [r.action for r in rows]


def _write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


async def test_every_format_is_indexed_with_page_and_section(
    tmp_path: Path, tenant_id: str, settings: Settings, database: Database, store: ChunkStore
) -> None:
    _write(
        tmp_path / "docs",
        {
            "report.pdf": make_pdf(
                ["Annual report. Revenue grew strongly.", "Page two: the Berlin office will close in March."],
                author="cfo@example.com",
            ),
            "policy.docx": make_docx(
                [("Expenses", 1, "General rules."), ("Meals", 2, "Dinner is reimbursed up to 60 euros.")],
                author="hr@example.com",
            ),
            "notes.md": b"# Roadmap\n## Q4\nShip the mobile app in November.\n",
            "readme.txt": b"The wifi password rotates every Monday.",
            "page.html": b"<html><body><h1>Canteen</h1><p>Soup is served on Fridays.</p></body></html>",
            "ignored.bin": b"\x00\x01",  # not a supported type: skipped when walking a directory
        },
    )
    events: list[IngestProgress] = []
    outcomes = await ingest_paths(
        [tmp_path / "docs"],
        tenant_id=tenant_id,
        allowed_roles=FINANCE,
        settings=settings,
        database=database,
        vector_store=store,
        embeddings=store.embeddings,
        progress=events.append,
    )
    assert [o.status for o in outcomes] == ["COMPLETED"] * 5, outcomes
    assert [e.completed for e in events] == [1, 2, 3, 4, 5] and events[-1].total == 5
    for outcome in outcomes:
        row = await _row(database, tenant_id, outcome.document_id or "")
        assert row.status is IndexingStatus.COMPLETED
        assert row.chunk_count == outcome.chunk_count and row.chunk_count and row.chunk_count > 0
        assert row.last_indexed is not None and row.content_sha256 and row.size_bytes
        assert row.allowed_roles == FINANCE and row.error is None
        assert row.source_uri.startswith("file:///")
    (pdf,) = [o for o in outcomes if o.source.endswith("report.pdf")]
    pdf_row = await _row(database, tenant_id, pdf.document_id or "")
    assert pdf_row.file_type == "PDF" and pdf_row.author == "cfo@example.com"

    scope = PermissionFilter(tenant_id, FINANCE)
    office = (await store.asearch(scope, "When does the Berlin office shut down?", 1))[0]
    assert office.metadata["file_name"] == "report.pdf" and office.metadata["page"] == 2
    assert office.metadata["author"] == "cfo@example.com"
    meals = (await store.asearch(scope, "how much for dinner", 1))[0]
    assert meals.metadata["section"] == "Expenses > Meals"
    soup = (await store.asearch(scope, "what food on Friday", 1))[0]
    assert soup.metadata["file_name"] == "page.html" and soup.metadata["section"] == "Canteen"
    assert (await store.asearch(PermissionFilter(tenant_id, ["HR"]), "Berlin office", 5)) == []
    assert (await _audit_actions(database, tenant_id)).count("DOCUMENT_INDEXED") == 5


class StatusRecordingStore(ChunkStore):
    """The real chunk store, noting the Document row's status at the moment chunks are written."""

    database: Database
    seen: list[IndexingStatus]

    async def replace_document(
        self, tenant_id: str, document: DocumentInfo, chunks: Sequence[ChunkInput], **kw: Any
    ) -> int:
        self.seen.append((await _row(self.database, tenant_id, document.document_id)).status)
        return await super().replace_document(tenant_id, document, chunks, **kw)


async def test_status_moves_pending_indexing_completed(
    tenant_id: str, settings: Settings, database: Database, store: ChunkStore
) -> None:
    recording = StatusRecordingStore(store.backend, store.embeddings, store.identity)
    recording.database, recording.seen = database, []
    document = await register_document(
        database,
        tenant_id=tenant_id,
        source_uri="upload://memo.txt",
        file_name="memo.txt",
        allowed_roles=FINANCE,
    )
    assert document.status is IndexingStatus.PENDING
    outcome = await index_document(
        document.id,
        b"Memo: the audit starts on May 3.",
        tenant_id=tenant_id,
        settings=settings,
        database=database,
        store=recording,
    )
    assert recording.seen == [IndexingStatus.INDEXING]
    assert outcome.status == "COMPLETED" and outcome.chunk_count == 1
    row = await _row(database, tenant_id, document.id)
    assert row.status is IndexingStatus.COMPLETED and row.chunk_count == 1

    failed = await register_document(
        database,
        tenant_id=tenant_id,
        source_uri="upload://bad.pdf",
        file_name="bad.pdf",
        allowed_roles=FINANCE,
    )
    outcome = await index_document(
        failed.id,
        b"%PDF-1.4 broken",
        tenant_id=tenant_id,
        settings=settings,
        database=database,
        store=recording,
    )
    assert outcome.status == "FAILED" and "corrupt PDF" in (outcome.error or "")
    assert recording.seen == [IndexingStatus.INDEXING]  # nothing was written for the bad file
    row = await _row(database, tenant_id, failed.id)
    assert row.status is IndexingStatus.FAILED and row.error == outcome.error and row.chunk_count is None
    actions = await _audit_actions(database, tenant_id)
    assert actions.count("DOCUMENT_CREATED") == 2 and "DOCUMENT_INDEX_FAILED" in actions


async def test_bad_files_fail_alone_with_a_clear_reason(
    tmp_path: Path, tenant_id: str, settings: Settings, database: Database, store: ChunkStore
) -> None:
    limited = settings.model_copy(update={"max_document_bytes": 4096})
    good_pdf = make_pdf(["The cafeteria opens at eight."])
    paths = _write(
        tmp_path,
        {
            "good.txt": b"Holiday schedule: the office is closed on December 24.",
            "empty.txt": b"",
            "encrypted.pdf": encrypt_pdf(good_pdf),
            "truncated.pdf": good_pdf[: len(good_pdf) // 2],
            "corrupt.docx": b"PK\x03\x04 this is not a real archive",
            "scanned.pdf": make_pdf([""]),
            "huge.txt": b"lorem ipsum " * 1000,
            "binary.txt": b"\x00\x01\x02 binary",
            "sheet.xls": b"\xd0\xcf\x11\xe0 legacy",
        },
    )
    outcomes = {
        Path(o.source).name: o
        for o in await ingest_paths(
            paths,
            tenant_id=tenant_id,
            allowed_roles=FINANCE,
            settings=limited,
            database=database,
            vector_store=store,
        )
    }
    expected = {
        "empty.txt": "file is empty",
        "encrypted.pdf": "encrypted",
        "truncated.pdf": "corrupt PDF",
        "corrupt.docx": "corrupt DOCX",
        "scanned.pdf": "no extractable text",
        "huge.txt": "the limit is 4096 bytes (max_document_bytes)",
        "binary.txt": "not a text file",
        "sheet.xls": "unsupported file type .xls",
    }
    assert outcomes["good.txt"].status == "COMPLETED"
    for name, reason in expected.items():
        assert outcomes[name].status == "FAILED", name
        assert reason in (outcomes[name].error or ""), (name, outcomes[name].error)
        row = await _row(database, tenant_id, outcomes[name].document_id or "")
        assert row.status is IndexingStatus.FAILED and reason in (row.error or "")
    scope = PermissionFilter(tenant_id, FINANCE)
    assert store.count(scope) == 1
    assert "December 24" in (await store.asearch(scope, "when is the office closed", 1))[0].page_content


async def test_reindex_replaces_unchanged_is_skipped_failure_keeps_chunks(
    tmp_path: Path, tenant_id: str, settings: Settings, database: Database, store: ChunkStore
) -> None:
    path = tmp_path / "prices.pdf"
    path.write_bytes(make_pdf(["The premium plan costs 40 dollars a month."]))
    scope = PermissionFilter(tenant_id, FINANCE)

    async def ingest() -> Any:
        (outcome,) = await ingest_paths(
            [path],
            tenant_id=tenant_id,
            allowed_roles=FINANCE,
            settings=settings,
            database=database,
            vector_store=store,
        )
        return outcome

    first = await ingest()
    first_row = await _row(database, tenant_id, first.document_id)
    assert (await ingest()).status == "UNCHANGED"

    path.write_bytes(
        make_pdf(["The premium plan now costs 55 dollars a month.", "Annual billing saves 10 percent."])
    )
    second = await ingest()
    assert (
        second.status == "COMPLETED" and second.document_id == first.document_id and second.chunk_count == 2
    )
    contents = sorted(d.page_content for d in store.scroll(scope, document_id=first.document_id)[0])
    assert contents == ["Annual billing saves 10 percent.", "The premium plan now costs 55 dollars a month."]
    row = await _row(database, tenant_id, first.document_id)
    assert row.chunk_count == 2 and row.last_indexed is not None and first_row.last_indexed is not None
    assert row.last_indexed > first_row.last_indexed

    path.write_bytes(b"%PDF-1.7 truncated garbage")
    third = await ingest()
    assert third.status == "FAILED" and "corrupt PDF" in (third.error or "")
    # The previous chunks stay searchable; the row says why the new version was refused.
    assert store.count(scope, document_id=first.document_id) == 2
    row = await _row(database, tenant_id, first.document_id)
    assert row.status is IndexingStatus.FAILED and row.chunk_count == 2


async def test_remove_document_deletes_points_then_row(
    tenant_id: str, tenant_factory: Any, settings: Settings, database: Database, store: ChunkStore
) -> None:
    scope = PermissionFilter(tenant_id, FINANCE)
    document = await register_document(
        database, tenant_id=tenant_id, source_uri="upload://a.txt", file_name="a.txt", allowed_roles=FINANCE
    )
    await index_document(
        document.id,
        b"Alpha project deadline is June.",
        tenant_id=tenant_id,
        settings=settings,
        database=database,
        store=store,
    )
    assert store.count(scope, document_id=document.id) == 1

    other = await tenant_factory()
    with pytest.raises(NotFoundError):
        await remove_document(
            document.id,
            permission_filter=PermissionFilter(other.tenant.id, FINANCE),
            database=database,
            store=store,
        )
    assert store.count(scope, document_id=document.id) == 1

    await remove_document(document.id, permission_filter=scope, database=database, store=store)
    assert store.count(scope, document_id=document.id) == 0
    with pytest.raises(NotFoundError):
        await _row(database, tenant_id, document.id)
    assert "DOCUMENT_DELETED" in await _audit_actions(database, tenant_id)


async def test_users_of_two_tenants_see_only_their_documents(
    tenant_factory: Any, settings: Settings, database: Database, store: ChunkStore
) -> None:
    acme = await tenant_factory(
        users=[("fin@acme.io", Role.OPERATOR, ["Finance"]), ("eng@acme.io", Role.OPERATOR, ["Eng"])]
    )
    globex = await tenant_factory(users=[("fin@globex.io", Role.OPERATOR, ["Finance"])])
    for made, text in (
        (acme, b"Acme bonus pool is 3 million."),
        (globex, b"Globex bonus pool is 7 million."),
    ):
        document = await register_document(
            database,
            tenant_id=made.tenant.id,
            source_uri="upload://bonus.txt",
            file_name="bonus.txt",
            allowed_roles=["Finance"],
        )
        await index_document(
            document.id, text, tenant_id=made.tenant.id, settings=settings, database=database, store=store
        )

    def seen(user: Any) -> list[str]:
        return [
            d.page_content
            for d in store.search(PermissionFilter.for_user(user), "size of the bonus pool", 10)
        ]

    assert seen(acme.user("fin@acme.io")) == ["Acme bonus pool is 3 million."]
    assert seen(globex.user("fin@globex.io")) == ["Globex bonus pool is 7 million."]
    assert seen(acme.user("eng@acme.io")) == []


async def test_eawe_ingest_command_backend(tmp_path: Path, settings: Settings, database: Database) -> None:
    own = settings.model_copy(update={"data_dir": tmp_path / "cli-data"})  # its own embedded engine directory
    files = _write(tmp_path / "in", {"a.md": b"# Hello\nThe CLI indexed this.", "b.txt": b""})
    out = io.StringIO()
    ok = await ingest_from_cli(
        files, ["Finance"], tenant="local", settings=own, console=Console(file=out, width=200)
    )
    assert ok is False  # b.txt is empty, so the command reports a failure...
    text = out.getvalue()
    assert "COMPLETED" in text and "FAILED" in text and "file is empty" in text
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            local = await session.scalar(select(Tenant).where(Tenant.name == "local"))
            assert local is not None
            rows = (await repo.list_documents(session, local.id)).items
    assert sorted(r.status.value for r in rows) == ["COMPLETED", "FAILED"]  # ...and a.md is indexed anyway
    with pytest.raises(NotFoundError):
        await ingest_from_cli(
            files, ["Finance"], tenant="no-such-tenant", settings=own, console=Console(file=out)
        )
