"""Firing crons: every worker looks for due crons on each loop turn; ``FOR UPDATE SKIP LOCKED``
gives each tick to exactly one worker, which moves the cron to its next time and then starts the
run as the cron's creator (at most once per tick: a run that cannot start is logged and audited,
the cron stays scheduled).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from croniter import CroniterBadCronError, croniter

from eawe.audit import ActorType, append_audit
from eawe.db.models import utcnow
from eawe.db.repositories.crons import claim_due_crons
from eawe.db.tenant_scope import system_scope, tenant_scope
from eawe.errors import EAWEError, Problem, ValidationError

if TYPE_CHECKING:
    from checkpoints.engine import RunEngine

__all__ = ["fire_due_crons", "next_run_time"]

logger = logging.getLogger(__name__)


def next_run_time(schedule: str, after: datetime | None = None) -> datetime:
    """The next tick of a 5-field cron expression (UTC) after ``after`` (default now), naive UTC.

    Raises:
        eawe.errors.ValidationError: Not a cron expression.
    """
    start = (after or utcnow()).replace(tzinfo=UTC)
    try:
        return croniter(schedule, start).get_next(datetime).astimezone(UTC).replace(tzinfo=None)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ValidationError(Problem("schedule", f"not a cron expression: {exc}")) from None


_Tick = tuple[str, str, str, str | None, dict[str, Any], str | None]
"""A due cron: id, tenant, assistant, thread, payload, creator."""


async def fire_due_crons(engine: RunEngine, *, limit: int = 20) -> int:
    """Start the runs of every due cron; returns how many started."""
    with system_scope():  # the due crons of every tenant
        return await _fire(engine, await _claim_due(engine, limit))


async def _claim_due(engine: RunEngine, limit: int) -> list[_Tick]:
    resources = engine.resources
    async with resources.database.transaction() as session:
        due = await claim_due_crons(session, limit=limit)
        ticks: list[_Tick] = []
        for cron in due:
            now = utcnow()
            ticks.append(
                (
                    cron.id,
                    cron.tenant_id,
                    cron.assistant_id,
                    cron.thread_id,
                    dict(cron.payload),
                    cron.created_by_id,
                )
            )
            cron.next_run_at = next_run_time(cron.schedule, now)
            if cron.end_time is not None and cron.next_run_at > cron.end_time:
                cron.enabled = False
            cron.updated_at = now
    return ticks


async def _fire(engine: RunEngine, ticks: list[_Tick]) -> int:
    started = 0
    for cron_id, tenant_id, assistant_id, thread_id, payload, creator in ticks:
        with tenant_scope(tenant_id):
            started += await _fire_one(engine, cron_id, tenant_id, assistant_id, thread_id, payload, creator)
    return started


async def _fire_one(
    engine: RunEngine,
    cron_id: str,
    tenant_id: str,
    assistant_id: str,
    thread_id: str | None,
    payload: dict[str, Any],
    creator: str | None,
) -> int:
    resources = engine.resources
    try:
        run = await engine.create_run(
            tenant_id,
            assistant_id,
            thread_id=thread_id,
            run_input=payload.get("input"),
            started_by=creator,
            kwargs={k: v for k, v in payload.items() if k not in ("input", "multitask_strategy")},
            multitask_strategy=payload.get("multitask_strategy") or ("enqueue" if thread_id else "reject"),
            if_not_exists="create" if thread_id else "reject",
        )
    except EAWEError as exc:
        logger.warning("cron %s: run not started: %s", cron_id, exc)
        async with resources.database.transaction() as session:
            await append_audit(
                session,
                tenant_id=tenant_id,
                action="CRON_RUN_FAILED",
                actor_type=ActorType.SYSTEM,
                details={"cron_id": cron_id, "type": type(exc).__name__, "message": str(exc)[:500]},
            )
        return 0
    async with resources.database.transaction() as session:
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="CRON_RUN_STARTED",
            actor_type=ActorType.SYSTEM,
            workflow_run_id=run.id,
            details={"cron_id": cron_id},
        )
    return 1
