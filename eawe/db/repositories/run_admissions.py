"""Run admissions: the per-tenant run rate limit as a sliding one-minute window in PostgreSQL.

Admitting takes a per-tenant transaction-scoped advisory lock, deletes the tenant's admissions
that left the window, counts the rest and inserts one row if there is room — so any number of
concurrent requests, in any number of API processes, admit exactly ``per_minute`` runs a minute.
Other tenants are not blocked.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunAdmission, utcnow

__all__ = ["RUN_ADMISSION_WINDOW", "admit_run"]

RUN_ADMISSION_WINDOW = timedelta(minutes=1)


async def admit_run(session: AsyncSession, tenant_id: str, per_minute: int) -> float | None:
    """Record one admission for ``tenant_id`` if fewer than ``per_minute`` fell in the last minute.

    Call inside a transaction; the admission counts once it commits.

    Returns:
        None when admitted, else the seconds until the oldest admission leaves the window.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"eawe.run-admission:{tenant_id}"},
    )
    now = utcnow()
    since = now - RUN_ADMISSION_WINDOW
    await session.execute(
        delete(RunAdmission).where(RunAdmission.tenant_id == tenant_id, RunAdmission.admitted_at <= since)
    )
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(RunAdmission.admitted_at)).where(
                RunAdmission.tenant_id == tenant_id
            )
        )
    ).one()
    if int(count or 0) >= per_minute:
        return max(0.0, ((oldest or now) + RUN_ADMISSION_WINDOW - now).total_seconds())
    session.add(RunAdmission(tenant_id=tenant_id, admitted_at=now))
    await session.flush()
    return None
