"""One implicit transaction in one round trip, on a psycopg connection in autocommit mode.

On the run's hot path (a claim, each step, the release) a transaction is a handful of statements
that need nothing from each other's results. Sent in a pipeline with no ``BEGIN``, the statements
before the pipeline's Sync are one implicit transaction: committed at the Sync, all rolled back if
one fails. The tenant scope goes first, with ``is_local``, so it lasts until then. Read results
only after the block: fetching inside it would send a Sync and end the transaction early.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg.pq import TransactionStatus

from eawe.db.tenant_scope import TENANT_SETTING

__all__ = ["scoped_round_trip"]

_SET_SCOPE = "SELECT set_config(%s, %s, true)"


@asynccontextmanager
async def scoped_round_trip(conn: Any, scope: str | None) -> AsyncIterator[None]:
    """Statements sent on ``conn`` (autocommit) inside: one transaction in ``scope`` (a tenant id,
    the system scope, or None: no tenant row visible), sent at once when the block exits."""
    try:
        async with conn.pipeline():
            if scope is not None:  # row-level security
                await conn.execute(_SET_SCOPE, (TENANT_SETTING, scope), prepare=False)
            yield
    except BaseException:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with contextlib.suppress(Exception):  # a broken connection: the pool drops it
                await conn.rollback()
        raise
