"""LangGraph's Postgres store (long-term memory across threads), shared by all tenants, on the
checkpointer's pool.

One ``AsyncPostgresStore`` holds every tenant's items in the ``store`` table its ``setup()``
creates; callers never use it directly but through :meth:`ItemStore.for_tenant`, a
:class:`~checkpoints.tenant_store.TenantStore` confined to one tenant — the ``/store`` API routes
and the graphs of a run (``compile(store=...)`` / ``astream(..., store=...)``) alike.

Items written with a ``ttl`` (minutes) are hidden once expired and deleted by a sweeper that
each process runs; sweeps from several processes are the same idempotent DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.pregel import Pregel
from langgraph.store.base import TTLConfig
from langgraph.store.postgres import AsyncPostgresStore
from psycopg_pool import AsyncConnectionPool

from checkpoints.tenant_store import TenantStore

__all__ = ["ItemStore", "open_item_store"]


@dataclass
class ItemStore:
    """The shared Postgres store and the tenant views onto it.

    Attributes:
        postgres: The store over every tenant's items; use :meth:`for_tenant` instead.
    """

    postgres: AsyncPostgresStore

    def for_tenant(self, tenant_id: str) -> TenantStore:
        """The store a tenant's requests and runs see: its own namespaces only, unprefixed."""
        return TenantStore(self.postgres, tenant_id)

    def bind(self, graph: Pregel[Any, Any, Any, Any], tenant_id: str) -> Pregel[Any, Any, Any, Any]:
        """A copy of a compiled (possibly cached, shared) graph whose nodes get the tenant's store
        as ``runtime.store`` — as langgraph-api does per run with ``graph.copy(update=...)``."""
        return graph.copy(update={"store": self.for_tenant(tenant_id)})

    async def close(self) -> None:
        """Stop the TTL sweeper (the pool belongs to the checkpointer and is closed with it)."""
        await self.postgres.stop_ttl_sweeper(timeout=10)


async def open_item_store(pool: AsyncConnectionPool[Any], *, sweep_interval_minutes: int = 5) -> ItemStore:
    """Build the store on ``pool`` and start its TTL sweeper (tables: ``eawe db upgrade``).

    Args:
        pool: An open psycopg pool with ``autocommit`` and ``dict_row`` connections (the
            checkpointer's, see :func:`checkpoints.saver.open_checkpoint_store`).
        sweep_interval_minutes: How often expired items are deleted.
    """
    ttl: TTLConfig = {
        "refresh_on_read": True,
        "omit_expired": True,
        "default_ttl": None,
        "sweep_interval_minutes": sweep_interval_minutes,
    }
    store = AsyncPostgresStore(pool, ttl=ttl)
    await store.start_ttl_sweeper()
    return ItemStore(postgres=store)
