"""Keyset pagination over time-ordered ids: newest first, ``next_cursor`` is the last id seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Page", "paginate"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


async def paginate(
    session: AsyncSession, stmt: Select[Any], id_column: Any, *, limit: int, cursor: str | None = None
) -> Page[Any]:
    """Run ``stmt`` ordered by ``id_column`` descending, ``limit`` rows after ``cursor``."""
    if cursor:
        stmt = stmt.where(id_column < cursor)
    rows = list((await session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=rows[-1].id if more and rows else None)
