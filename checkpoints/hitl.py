"""Human-in-the-loop bookkeeping: tasks from interrupts, decisions applied exactly once, resume values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from langgraph.types import Interrupt
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.registry import APPROVAL_INTERRUPT
from checkpoints.events import RunEvent, enqueue_run, publish_event
from eawe.audit import ActorType, append_audit
from eawe.db.models import HITLStatus, HITLTask, Role, RunStatus, User, WorkflowRun, utcnow
from eawe.db.repositories import hitl as tasks
from eawe.errors import ConflictError, PermissionDeniedError, Problem, ValidationError

__all__ = [
    "AssigneeUnavailableError",
    "HitlDecision",
    "apply_decision",
    "create_tasks_for_interrupts",
    "decided_resume_values",
]

_STATUS_OF = {
    "approve": HITLStatus.APPROVED,
    "reject": HITLStatus.REJECTED,
    "edit": HITLStatus.EDITED_AND_APPROVED,
}
_DECISION_OF = {status: decision for decision, status in _STATUS_OF.items()}
_AUDIT_ACTION = {"approve": "STEP_APPROVED", "reject": "STEP_REJECTED", "edit": "STEP_EDITED_AND_APPROVED"}


class AssigneeUnavailableError(LookupError):
    """The approval names a user or role nobody in the tenant can fill."""


class HitlDecision(BaseModel):
    """A decision: ``approve``, ``reject`` (``reason`` required) or ``edit`` (``corrected_output``)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "edit"]
    corrected_output: Any = None
    reason: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> HitlDecision:
        """Validate a request body.

        Raises:
            eawe.errors.ValidationError: Naming each bad field.
        """
        try:
            decision = cls.model_validate(raw)
        except PydanticValidationError as exc:
            raise ValidationError(
                [
                    Problem(".".join(map(str, e["loc"])) or "body", e["msg"])
                    for e in exc.errors(include_url=False)
                ]
            ) from None
        problems = []
        if decision.decision == "reject" and not (decision.reason or "").strip():
            problems.append(Problem("reason", "a rejection needs a reason"))
        if decision.decision == "edit" and decision.corrected_output is None:
            problems.append(Problem("corrected_output", "an edit needs corrected_output"))
        if problems:
            raise ValidationError(problems)
        return decision


def _approval_interrupts(interrupts: Sequence[Interrupt]) -> list[Interrupt]:
    return [i for i in interrupts if isinstance(i.value, dict) and i.value.get("kind") == APPROVAL_INTERRUPT]


async def _assignee(
    session: AsyncSession, tenant_id: str, request: dict[str, Any]
) -> tuple[User, Role | None]:
    node_id = request.get("node_id")
    role = Role(request["assignee_role"]) if request.get("assignee_role") else None
    if request.get("assignee_user"):
        user = await tasks.find_assignable_user(session, tenant_id, str(request["assignee_user"]))
        if user is None:
            raise AssigneeUnavailableError(
                f"approval {node_id!r}: no active user {request['assignee_user']!r} in this tenant"
            )
        return user, role
    assert role is not None
    user = await tasks.least_loaded_user(session, tenant_id, role)
    if user is None:
        raise AssigneeUnavailableError(
            f"approval {node_id!r}: no active user with role {role.value} in this tenant"
        )
    return user, role


async def create_tasks_for_interrupts(
    session: AsyncSession, run: WorkflowRun, interrupts: Sequence[Interrupt]
) -> list[HITLTask]:
    """A PENDING task for each approval interrupt that has none yet (re-running is harmless).

    Raises:
        AssigneeUnavailableError: No user can be assigned (the run pauses with this error).
    """
    existing = {
        row.interrupt_id
        for row in (await session.scalars(select(HITLTask).where(HITLTask.workflow_run_id == run.id))).all()
    }
    created = []
    for interrupt in _approval_interrupts(interrupts):
        if interrupt.id in existing:
            continue
        request = interrupt.value
        user, role = await _assignee(session, run.tenant_id, request)
        due = request.get("due_in_minutes")
        task = await tasks.create_task(
            session,
            tenant_id=run.tenant_id,
            run_id=run.id,
            node_id=str(request.get("node_id") or ""),
            interrupt_id=interrupt.id,
            assigned_to_id=user.id,
            assigned_role=role,
            task_data=request.get("task_data"),
            original_output=request.get("original_output"),
            due_at=utcnow() + timedelta(minutes=due) if due else None,
            workflow_version=run.workflow_version,
        )
        await append_audit(
            session,
            tenant_id=run.tenant_id,
            action="HITL_TASK_CREATED",
            workflow_run_id=run.id,
            details={
                "task_id": task.id,
                "node_id": task.node_id,
                "assigned_to_id": user.id,
                "role": request.get("assignee_role"),
            },
        )
        await publish_event(
            session,
            RunEvent(run.tenant_id, run.id, "task.created", {"task_id": task.id, "node_id": task.node_id}),
        )
        created.append(task)
    return created


async def decided_resume_values(
    session: AsyncSession, tenant_id: str, run_id: str, interrupts: Sequence[Interrupt]
) -> dict[str, dict[str, Any]]:
    """``{interrupt_id: resume value}`` for the current interrupts whose task has been decided."""
    ids = [i.id for i in interrupts]
    if not ids:
        return {}
    rows = (
        await session.scalars(
            select(HITLTask).where(
                HITLTask.tenant_id == tenant_id,
                HITLTask.workflow_run_id == run_id,
                HITLTask.interrupt_id.in_(ids),
                HITLTask.status.in_(list(_DECISION_OF)),
            )
        )
    ).all()
    return {
        row.interrupt_id: {
            "decision": _DECISION_OF[row.status],
            "corrected_output": row.human_corrected_output,
            "reason": row.rejection_reason,
            "reviewer_id": row.decided_by_id,
            "task_id": row.id,
        }
        for row in rows
        if row.interrupt_id
    }


def _may_decide(task: HITLTask, actor: User) -> bool:
    return (
        task.assigned_to_id == actor.id
        or task.assigned_role == actor.role
        or actor.role == Role.ADMINISTRATOR
    )


async def apply_decision(
    session: AsyncSession, tenant_id: str, task_id: str, decision: HitlDecision, actor: User
) -> tuple[HITLTask, bool]:
    """Record a decision once and queue the run to resume. Returns (task, whether the run was queued).

    Raises:
        eawe.errors.NotFoundError: No such task in this tenant.
        eawe.errors.PermissionDeniedError: The actor is neither the assignee nor holds the task's role.
        eawe.errors.ValidationError: An edit on an approval that does not allow edits.
        eawe.errors.ConflictError: The task was already decided (or cancelled).
    """
    if actor.tenant_id != tenant_id:
        raise PermissionDeniedError("the actor does not belong to this tenant")
    task = await tasks.get_task(session, tenant_id, task_id)
    if not _may_decide(task, actor):
        raise PermissionDeniedError("only the assignee or a user with the task's role may decide it")
    if (
        decision.decision == "edit"
        and isinstance(task.task_data, dict)
        and task.task_data.get("allow_edit") is False
    ):
        raise ValidationError(Problem("decision", "this approval does not allow edits"))
    # Lock the run first (the executor does the same when it pauses), so a decision never slips
    # between "no task decided yet" and "run paused".
    run = await session.scalar(
        select(WorkflowRun).where(WorkflowRun.id == task.workflow_run_id).with_for_update()
    )
    assert run is not None
    decided = await tasks.decide_task(
        session,
        tenant_id,
        task_id,
        status=_STATUS_OF[decision.decision],
        decided_by_id=actor.id,
        corrected_output=decision.corrected_output if decision.decision == "edit" else None,
        rejection_reason=decision.reason,
    )
    if decided is None:
        current = await tasks.get_task(session, tenant_id, task_id)
        raise ConflictError(f"task {task_id} is already {current.status.value}", field="decision")
    await append_audit(
        session,
        tenant_id=tenant_id,
        action=_AUDIT_ACTION[decision.decision],
        actor_type=ActorType.USER,
        actor_id=actor.id,
        workflow_run_id=run.id,
        details={"task_id": task_id, "node_id": decided.node_id, "reason": decision.reason},
    )
    await publish_event(
        session,
        RunEvent(tenant_id, run.id, "task.decided", {"task_id": task_id, "status": decided.status.value}),
    )
    queued = run.status == RunStatus.PAUSED_FOR_APPROVAL
    if queued:
        run.status = RunStatus.PENDING
        await session.flush()
        await publish_event(
            session, RunEvent(tenant_id, run.id, "run.status", {"status": RunStatus.PENDING.value})
        )
        await enqueue_run(session, run.id)
    return decided, queued
