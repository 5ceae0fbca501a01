"""A unique key another tenant already holds: row-level security hides that row from the check
before an insert, so the insert itself is the check. :func:`conflict_on_duplicate` turns its
unique violation into the same :class:`~eawe.errors.ConflictError` a visible duplicate gets,
inside a savepoint so the caller's transaction goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.errors import ConflictError

__all__ = ["conflict_on_duplicate"]

_UNIQUE_VIOLATION = "23505"


@asynccontextmanager
async def conflict_on_duplicate(session: AsyncSession, conflict: ConflictError) -> AsyncIterator[None]:
    """Run the block's inserts in a savepoint; a unique violation raises ``conflict``."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION:
            raise conflict from None
        raise
