"""The server's retrieval stack: one chunk store per process, shared by routes and runs.

Besides the store it holds the parser processes that uploads are parsed in, the indexing tasks,
and the sweeper that fails documents whose indexer died (its indexing lease ran out), so a crash
during indexing never leaves a document INDEXING for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from eawe.db.database import Database
from eawe.db.repositories.document_leases import fail_expired_indexing
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from retrieval import ChunkStore, open_chunk_store
from retrieval.parse_pool import ParsePool
from server.task_set import TaskSet

__all__ = ["RagResources", "open_rag", "sweep_expired_indexing"]

_log = logging.getLogger(__name__)


@dataclass
class RagResources:
    """The chunk store (embedded Qdrant allows one opener per directory), parsers and indexing tasks."""

    store: ChunkStore
    parse_pool: ParsePool
    tasks: TaskSet = field(default_factory=TaskSet)


async def sweep_expired_indexing(database: Database, settings: Settings) -> list[str]:
    """Fail every document whose indexing lease ran out (its indexer is gone); their ids."""
    with system_scope():  # every tenant's documents
        async with database.transaction() as session:
            failed = await fail_expired_indexing(
                session, lease=timedelta(seconds=settings.indexing_lease_seconds)
            )
    if failed:
        _log.warning("failed %d document(s) whose indexing was interrupted", len(failed))
    return failed


async def _sweep_forever(database: Database, settings: Settings) -> None:
    interval = max(0.5, min(30.0, settings.indexing_lease_seconds / 2))
    while True:
        try:
            await sweep_expired_indexing(database, settings)
        except Exception:  # the database may be briefly away; the next pass retries
            _log.warning("indexing sweep failed; retrying in %.0f s", interval, exc_info=True)
        await asyncio.sleep(interval)


@asynccontextmanager
async def open_rag(settings: Settings, database: Database) -> AsyncIterator[RagResources]:
    store = await asyncio.to_thread(open_chunk_store, settings)
    rag = RagResources(store=store, parse_pool=ParsePool.from_settings(settings))
    sweeper = asyncio.create_task(_sweep_forever(database, settings), name="eawe-indexing-sweeper")
    warm_up = asyncio.create_task(rag.parse_pool.warm_up(), name="eawe-parser-warm-up")
    try:
        yield rag
    finally:
        for task in (sweeper, warm_up):
            task.cancel()
        await asyncio.gather(sweeper, warm_up, return_exceptions=True)
        await rag.tasks.close()
        await asyncio.to_thread(rag.parse_pool.close)
        await asyncio.to_thread(store.close)
