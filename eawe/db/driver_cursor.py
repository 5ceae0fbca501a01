"""A psycopg cursor inside a SQLAlchemy session's transaction, for statements built by hand.

The hot paths (a step's rows, queueing a run) send one hand-written statement each; going
through the driver's cursor skips SQLAlchemy's statement compilation and result processing,
while the statement still runs in the session's transaction and tenant scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["driver_cursor"]


@asynccontextmanager
async def driver_cursor(session: AsyncSession) -> AsyncIterator[Any]:
    """A cursor of the psycopg connection under ``session`` (its transaction begins if needed)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # a connection of the session's open transaction
    async with driver.cursor() as cursor:
        yield cursor
