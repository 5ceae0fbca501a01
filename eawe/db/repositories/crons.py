"""Crons (scheduled runs), by tenant; ``claim_due_crons`` is the scheduler's side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import Cron, utcnow
from eawe.errors import NotFoundError

__all__ = ["claim_due_crons", "count_crons", "create_cron", "delete_cron", "get_cron", "search_crons"]


async def create_cron(
    session: AsyncSession,
    tenant_id: str,
    *,
    assistant_id: str,
    thread_id: str | None,
    schedule: str,
    next_run_at: datetime,
    payload: dict[str, Any],
    metadata: dict[str, Any] | None,
    end_time: datetime | None,
    created_by_id: str | None,
) -> Cron:
    now = utcnow()
    row = Cron(
        tenant_id=tenant_id,
        assistant_id=assistant_id,
        thread_id=thread_id,
        schedule=schedule,
        payload=payload,
        metadata_=dict(metadata or {}),
        enabled=True,
        next_run_at=next_run_at,
        end_time=end_time,
        created_by_id=created_by_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get_cron(session: AsyncSession, tenant_id: str, cron_id: str, *, for_update: bool = False) -> Cron:
    stmt = select(Cron).where(Cron.tenant_id == tenant_id, Cron.id == cron_id)
    row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFoundError("cron", cron_id)
    return row


def _search(tenant_id: str, assistant_id: str | None, thread_id: str | None, enabled: bool | None) -> Any:
    stmt = select(Cron).where(Cron.tenant_id == tenant_id)
    if assistant_id:
        stmt = stmt.where(Cron.assistant_id == assistant_id)
    if thread_id:
        stmt = stmt.where(Cron.thread_id == thread_id)
    if enabled is not None:
        stmt = stmt.where(Cron.enabled == enabled)
    return stmt


_SORTS = {
    "cron_id": Cron.id,
    "assistant_id": Cron.assistant_id,
    "thread_id": Cron.thread_id,
    "next_run_date": Cron.next_run_at,
    "created_at": Cron.created_at,
    "updated_at": Cron.updated_at,
}


async def search_crons(
    session: AsyncSession,
    tenant_id: str,
    *,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    enabled: bool | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> list[Cron]:
    column = _SORTS.get(sort_by or "created_at", Cron.created_at)
    order = column.asc() if sort_order == "asc" else column.desc()
    rows = await session.scalars(
        _search(tenant_id, assistant_id, thread_id, enabled)
        .order_by(order, Cron.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all())


async def count_crons(
    session: AsyncSession, tenant_id: str, *, assistant_id: str | None = None, thread_id: str | None = None
) -> int:
    stmt = _search(tenant_id, assistant_id, thread_id, None)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def delete_cron(session: AsyncSession, tenant_id: str, cron_id: str) -> None:
    row = await get_cron(session, tenant_id, cron_id, for_update=True)
    await session.delete(row)
    await session.flush()


async def claim_due_crons(session: AsyncSession, *, limit: int = 20) -> list[Cron]:
    """Enabled crons whose next run is due, locked for this transaction (others skip them)."""
    rows = await session.scalars(
        select(Cron)
        .where(Cron.enabled.is_(True), Cron.next_run_at <= utcnow())
        .order_by(Cron.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())
