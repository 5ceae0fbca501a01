"""Indexing leases: a live indexer keeps its document, a dead one's document is failed and freed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from eawe.db.database import Database
from eawe.db.models import Document, IndexingStatus, utcnow
from eawe.db.repositories import documents as repo
from eawe.db.repositories.document_leases import INTERRUPTED_REASON, fail_expired_indexing
from eawe.db.tenant_scope import system_scope
from eawe.errors import ConflictError
from eawe.settings import Settings
from retrieval import ChunkStore, LocalMiniLMEmbeddings, index_document, open_chunk_store, register_document
from retrieval.parse_pool import ParsePool
from tests.security.hostile_files import slow_pdf

LEASE = 1.5


@pytest.fixture(scope="module")
def lease_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"indexing_lease_seconds": LEASE, "parse_timeout_seconds": 4.0})


@pytest.fixture(scope="module")
def store(settings: Settings, embeddings: LocalMiniLMEmbeddings) -> Iterator[ChunkStore]:
    opened = open_chunk_store(settings, embeddings)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def pool(lease_settings: Settings) -> Iterator[ParsePool]:
    parsers = ParsePool.from_settings(lease_settings)
    yield parsers
    parsers.close()


async def _new_document(database: Database, tenant_factory: Any, name: str) -> tuple[str, str]:
    tenant_id = (await tenant_factory()).tenant.id
    document = await register_document(
        database, tenant_id=tenant_id, source_uri=f"upload://{name}", file_name=name, allowed_roles=["Staff"]
    )
    return tenant_id, document.id


async def _status(database: Database, tenant_id: str, document_id: str) -> Document:
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            return await repo.get_document(session, tenant_id, document_id)


async def test_a_live_indexer_renews_its_lease_past_the_sweeper(
    database: Database, tenant_factory: Any, lease_settings: Settings, store: ChunkStore, pool: ParsePool
) -> None:
    tenant_id, document_id = await _new_document(database, tenant_factory, "slow.pdf")
    task = asyncio.create_task(
        index_document(
            document_id,
            slow_pdf(600_000),
            tenant_id=tenant_id,
            settings=lease_settings,
            database=database,
            store=store,
            parse_pool=pool,
        )
    )
    swept: list[str] = []
    while not task.done():  # sweep as often as a server would, for longer than the lease
        with system_scope():  # test setup/inspection as the operator
            async with database.transaction() as session:
                swept += await fail_expired_indexing(session, lease=timedelta(seconds=LEASE))
        await asyncio.sleep(0.3)
    outcome = task.result()
    assert document_id not in swept
    assert outcome.status == "FAILED" and "parse_timeout_seconds" in (outcome.error or "")


async def test_a_dead_indexers_document_is_failed_and_can_be_uploaded_again(
    database: Database, tenant_factory: Any, lease_settings: Settings
) -> None:
    tenant_id, document_id = await _new_document(database, tenant_factory, "stuck.md")
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            await repo.set_document_status(session, tenant_id, document_id, IndexingStatus.INDEXING)
    with pytest.raises(ConflictError):  # while the lease is live, a second upload waits
        await register_document(
            database,
            tenant_id=tenant_id,
            source_uri="upload://stuck.md",
            file_name="stuck.md",
            allowed_roles=["Staff"],
        )
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:  # what an indexer killed 10 s ago leaves behind
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(updated_at=utcnow() - timedelta(seconds=10))
            )
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            assert document_id in await fail_expired_indexing(session, lease=timedelta(seconds=LEASE))
    row = await _status(database, tenant_id, document_id)
    assert row.status is IndexingStatus.FAILED and row.error == INTERRUPTED_REASON
    again = await register_document(
        database,
        tenant_id=tenant_id,
        source_uri="upload://stuck.md",
        file_name="stuck.md",
        allowed_roles=["Staff"],
    )
    assert again.id == document_id


async def test_a_cancelled_indexing_ends_failed_at_once(
    database: Database, tenant_factory: Any, lease_settings: Settings, store: ChunkStore, pool: ParsePool
) -> None:
    tenant_id, document_id = await _new_document(database, tenant_factory, "cancelled.pdf")
    task = asyncio.create_task(
        index_document(
            document_id,
            slow_pdf(600_000),
            tenant_id=tenant_id,
            settings=lease_settings,
            database=database,
            store=store,
            parse_pool=pool,
        )
    )
    while (await _status(database, tenant_id, document_id)).status is not IndexingStatus.INDEXING:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await _status(database, tenant_id, document_id)
    assert row.status is IndexingStatus.FAILED and row.error == INTERRUPTED_REASON
