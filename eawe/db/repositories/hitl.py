"""Human-in-the-loop tasks (always scoped by tenant).

A decision is applied exactly once: :func:`decide_task` is a conditional
``UPDATE ... WHERE status = 'PENDING' RETURNING``, so of two concurrent decisions one gets the
row and the other gets None (the caller answers 409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.ids import new_id
from eawe.db.models import HITLStatus, HITLTask, Role, User, utcnow
from eawe.db.pagination import Page, paginate
from eawe.errors import NotFoundError, Problem, ValidationError

__all__ = [
    "cancel_open_tasks",
    "create_task",
    "decide_task",
    "find_assignable_user",
    "get_task",
    "least_loaded_user",
    "list_inbox",
    "list_tasks",
    "task_public",
    "tasks_for_run",
]


async def create_task(
    session: AsyncSession,
    *,
    tenant_id: str,
    run_id: str,
    node_id: str,
    interrupt_id: str,
    assigned_to_id: str,
    assigned_role: Role | None,
    task_data: Any,
    original_output: Any,
    due_at: datetime | None,
    workflow_version: int,
) -> HITLTask:
    row = HITLTask(
        id=new_id(),
        tenant_id=tenant_id,
        workflow_run_id=run_id,
        node_id=node_id,
        interrupt_id=interrupt_id,
        assigned_to_id=assigned_to_id,
        assigned_role=assigned_role,
        status=HITLStatus.PENDING,
        task_data=task_data,
        original_agent_output=original_output,
        due_at=due_at,
        workflow_version=workflow_version,
    )
    session.add(row)
    await session.flush()
    return row


async def get_task(session: AsyncSession, tenant_id: str, task_id: str) -> HITLTask:
    """The task; another tenant's id is not found."""
    row = await session.scalar(
        select(HITLTask).where(HITLTask.tenant_id == tenant_id, HITLTask.id == task_id)
    )
    if row is None:
        raise NotFoundError("HITL task", task_id)
    return row


async def list_tasks(
    session: AsyncSession,
    tenant_id: str,
    *,
    status: HITLStatus | None = None,
    assignable_to: User | None = None,
    run_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[HITLTask]:
    """Tasks of the tenant; ``assignable_to`` keeps those the user may decide (assignee or role)."""
    stmt = select(HITLTask).where(HITLTask.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(HITLTask.status == status)
    if run_id is not None:
        stmt = stmt.where(HITLTask.workflow_run_id == run_id)
    if assignable_to is not None:
        stmt = stmt.where(
            or_(HITLTask.assigned_to_id == assignable_to.id, HITLTask.assigned_role == assignable_to.role)
        )
    return await paginate(session, stmt, HITLTask.id, limit=limit, cursor=cursor)


_NO_DUE = datetime(9999, 12, 31)  # sorts tasks without a due time after every dated one


async def list_inbox(
    session: AsyncSession, tenant_id: str, user: User, *, limit: int = 50, cursor: str | None = None
) -> Page[HITLTask]:
    """The PENDING tasks ``user`` may decide, the soonest due first (undated last, then by id).

    ``cursor`` is the ``next_cursor`` of the previous page: ``<due time ISO>|<task id>``.

    Raises:
        eawe.errors.ValidationError: A cursor this function did not make.
    """
    due = func.coalesce(HITLTask.due_at, _NO_DUE)
    stmt = select(HITLTask).where(
        HITLTask.tenant_id == tenant_id,
        HITLTask.status == HITLStatus.PENDING,
        or_(HITLTask.assigned_to_id == user.id, HITLTask.assigned_role == user.role),
    )
    if cursor:
        due_text, sep, last_id = cursor.partition("|")
        try:
            last_due = datetime.fromisoformat(due_text)
        except ValueError:
            last_due = None
        if not sep or last_due is None or not last_id:
            raise ValidationError(Problem("cursor", "not a cursor of this list"))
        stmt = stmt.where(tuple_(due, HITLTask.id) > tuple_(literal(last_due), literal(last_id)))
    rows = list((await session.scalars(stmt.order_by(due, HITLTask.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = f"{(last.due_at or _NO_DUE).isoformat()}|{last.id}"
    return Page(items=rows, next_cursor=next_cursor)


async def tasks_for_run(
    session: AsyncSession, tenant_id: str, run_id: str, *, status: HITLStatus | None = None
) -> list[HITLTask]:
    stmt = select(HITLTask).where(HITLTask.tenant_id == tenant_id, HITLTask.workflow_run_id == run_id)
    if status is not None:
        stmt = stmt.where(HITLTask.status == status)
    return list((await session.scalars(stmt.order_by(HITLTask.id))).all())


async def decide_task(
    session: AsyncSession,
    tenant_id: str,
    task_id: str,
    *,
    status: HITLStatus,
    decided_by_id: str,
    corrected_output: Any = None,
    rejection_reason: str | None = None,
) -> HITLTask | None:
    """Record a decision if the task is still PENDING; None when it is not (already decided)."""
    result = await session.execute(
        update(HITLTask)
        .where(HITLTask.tenant_id == tenant_id, HITLTask.id == task_id, HITLTask.status == HITLStatus.PENDING)
        .values(
            status=status,
            decided_by_id=decided_by_id,
            human_corrected_output=corrected_output,
            rejection_reason=rejection_reason,
            resolved_at=utcnow(),
        )
        .returning(HITLTask)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def cancel_open_tasks(session: AsyncSession, tenant_id: str, run_id: str) -> int:
    result = await session.execute(
        update(HITLTask)
        .where(
            HITLTask.tenant_id == tenant_id,
            HITLTask.workflow_run_id == run_id,
            HITLTask.status == HITLStatus.PENDING,
        )
        .values(status=HITLStatus.CANCELLED, resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def least_loaded_user(session: AsyncSession, tenant_id: str, role: Role) -> User | None:
    """The active user of ``role`` with the fewest PENDING tasks (ties: the oldest account)."""
    pending = (
        select(func.count())
        .where(HITLTask.assigned_to_id == User.id, HITLTask.status == HITLStatus.PENDING)
        .correlate(User)
        .scalar_subquery()
    )
    stmt = (
        select(User)
        .where(User.tenant_id == tenant_id, User.role == role, User.is_active.is_(True))
        .order_by(pending, User.created_at, User.id)
        .limit(1)
    )
    return await session.scalar(stmt)


async def find_assignable_user(session: AsyncSession, tenant_id: str, email_or_id: str) -> User | None:
    """An active user of the tenant by id or (case-insensitive) email."""
    return await session.scalar(
        select(User).where(
            User.tenant_id == tenant_id,
            User.is_active.is_(True),
            or_(User.id == email_or_id, User.email == email_or_id.strip().lower()),
        )
    )


def task_public(row: HITLTask) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "workflow_run_id": row.workflow_run_id,
        "node_id": row.node_id,
        "status": row.status.value,
        "task_data": row.task_data,
        "original_agent_output": row.original_agent_output,
        "human_corrected_output": row.human_corrected_output,
        "rejection_reason": row.rejection_reason,
        "assigned_to_id": row.assigned_to_id,
        "assigned_role": row.assigned_role.value if row.assigned_role else None,
        "due_at": row.due_at,
        "decided_by_id": row.decided_by_id,
        "workflow_version": row.workflow_version,
        "created_at": row.created_at,
        "resolved_at": row.resolved_at,
    }
