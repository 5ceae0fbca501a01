"""A cross-process lock per tenant for vector-store writes, held in PostgreSQL.

The chunk store serialises one tenant's writers inside a process with an asyncio lock; when
several API or worker processes write to one Qdrant server, this advisory lock serialises them
too, so epochs are committed in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import text

from eawe.db.database import Database

__all__ = ["postgres_tenant_write_lock"]


def postgres_tenant_write_lock(database: Database) -> Any:
    """A :data:`~retrieval.chunk_store.TenantWriteLock` backed by ``pg_advisory_xact_lock``."""

    @asynccontextmanager
    async def lock(tenant_id: str) -> AsyncIterator[None]:
        async with database.transaction() as session:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"eawe:vector-writes:{tenant_id}"},
            )
            yield  # released when the transaction ends

    def factory(tenant_id: str) -> AbstractAsyncContextManager[None]:
        return lock(tenant_id)

    return factory
