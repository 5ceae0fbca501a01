"""Approval deadlines: a periodic timer that escalates pending tasks past their ``dueAt``.

An approval node with ``due_in_minutes`` and ``on_overdue`` says what happens when nobody
decided in time: ``reassign`` the task (to a role, a user, or both; the least-loaded active user
of the role takes it), or ``fail`` the run. Each escalation is one transaction: the task's
``escalatedAt`` (so it happens once), the audit row, the event. Every worker process runs the
timer; ``FOR UPDATE SKIP LOCKED`` hands each overdue task to one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import RunEvent, publish_event
from eawe.audit import append_audit
from eawe.db.models import HITLStatus, HITLTask, Role, RunStatus, WorkflowRun, utcnow
from eawe.db.repositories import hitl as tasks
from eawe.db.tenant_scope import system_scope

if TYPE_CHECKING:
    from eawe.db.database import Database

__all__ = ["Escalation", "escalate_overdue", "run_deadline_timer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Escalation:
    task_id: str
    run_id: str
    action: str
    """``reassigned``, ``run_failed``, or ``unavailable`` (nobody to reassign to; left as it was)."""
    assigned_to_id: str | None = None


async def _reassign(session: AsyncSession, task: HITLTask, rule: dict[str, Any]) -> Escalation:
    role = Role(rule["to_role"]) if rule.get("to_role") else None
    user = (
        await tasks.find_assignable_user(session, task.tenant_id, str(rule["to_user"]))
        if rule.get("to_user")
        else await tasks.least_loaded_user(session, task.tenant_id, role)  # type: ignore[arg-type]
    )
    if user is None:
        return Escalation(task.id, task.workflow_run_id, "unavailable")
    task.assigned_to_id = user.id
    task.assigned_role = role
    return Escalation(task.id, task.workflow_run_id, "reassigned", user.id)


async def _fail_run(session: AsyncSession, task: HITLTask) -> Escalation:
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.id == task.workflow_run_id).with_for_update()
    )
    if run is None or run.status != RunStatus.PAUSED_FOR_APPROVAL:
        return Escalation(task.id, task.workflow_run_id, "unavailable")
    error = {
        "node_id": task.node_id,
        "type": "ApprovalOverdue",
        "message": f"approval {task.node_id!r} was not decided by its due time",
    }
    run.status = RunStatus.FAILED
    run.error = error
    run.completed_at = utcnow()
    await tasks.cancel_open_tasks(session, task.tenant_id, run.id)
    await append_audit(
        session, tenant_id=task.tenant_id, action="RUN_FAILED", workflow_run_id=run.id, details=error
    )
    await publish_event(
        session,
        RunEvent(task.tenant_id, run.id, "run.status", {"status": RunStatus.FAILED.value, "error": error}),
    )
    return Escalation(task.id, run.id, "run_failed")


async def escalate_overdue(database: Database, *, limit: int = 100) -> list[Escalation]:
    """Escalate up to ``limit`` overdue tasks whose approval node says how; returns what was done."""
    now = utcnow()
    done: list[Escalation] = []
    with system_scope():  # overdue tasks of every tenant
        return await _escalate(database, now, done, limit)


async def _escalate(
    database: Database, now: datetime, done: list[Escalation], limit: int
) -> list[Escalation]:
    async with database.transaction() as session:
        overdue = (
            await session.scalars(
                select(HITLTask)
                .where(
                    HITLTask.status == HITLStatus.PENDING,
                    HITLTask.due_at < now,
                    HITLTask.escalated_at.is_(None),
                    HITLTask.task_data["on_overdue"].isnot(None),
                    HITLTask.task_data["on_overdue"].astext != "null",
                )
                .order_by(HITLTask.due_at, HITLTask.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for task in overdue:
            rule = dict(task.task_data.get("on_overdue") or {})
            previous = task.assigned_to_id
            outcome = await (
                _reassign(session, task, rule)
                if rule.get("action") == "reassign"
                else _fail_run(session, task)
            )
            task.escalated_at = now
            details = {
                "task_id": task.id,
                "node_id": task.node_id,
                "rule": rule,
                "outcome": outcome.action,
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "previous_assignee_id": previous,
                "assigned_to_id": outcome.assigned_to_id,
            }
            await append_audit(
                session,
                tenant_id=task.tenant_id,
                action="HITL_TASK_ESCALATED",
                workflow_run_id=task.workflow_run_id,
                details=details,
            )
            await publish_event(
                session, RunEvent(task.tenant_id, task.workflow_run_id, "task.escalated", details)
            )
            done.append(outcome)
    return done


async def run_deadline_timer(database: Database, stop: asyncio.Event, *, interval_s: float = 30.0) -> None:
    """Escalate overdue tasks every ``interval_s`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            for escalation in await escalate_overdue(database):
                logger.info("task %s overdue: %s", escalation.task_id, escalation.action)
        except Exception:  # a transient database error: try again on the next tick
            logger.warning("escalating overdue approval tasks failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
