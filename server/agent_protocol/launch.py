"""Starting a workflow on a thread, or resuming its interrupts with ``command: {"resume": ...}``.

Both go through the engine the REST API uses (``start_run`` and ``decide``), so roles, tenant
scoping, rate limits and the exactly-once decision rule are the same as on ``/v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import HITLStatus, HITLTask, WorkflowDefinition, WorkflowStatus
from eawe.db.repositories.hitl import tasks_for_run
from eawe.errors import ConflictError, NotFoundError, PermissionDeniedError, Problem, ValidationError
from server.agent_protocol.schemas import RunRequest
from server.agent_protocol.thread_directory import ResolvedThread, bind_thread, resolve_thread
from server.auth.permissions import Permission
from server.auth.principal import Principal
from server.limits import enforce_run_rate_limit
from server.resources import ServerResources

__all__ = ["Launched", "find_assistant", "launch"]


@dataclass(frozen=True)
class Launched:
    """What a run request did: the thread (with its workflow run) and the Agent-Protocol run id."""

    thread: ResolvedThread
    run_id: str
    kind: str  # "start" | "resume"

    @property
    def workflow_run_id(self) -> str:
        assert self.thread.run is not None
        return self.thread.run.id


async def find_assistant(session: AsyncSession, tenant_id: str, assistant_id: str) -> WorkflowDefinition:
    """A published workflow of the tenant by id, or by name when the name is unique."""
    row = await session.scalar(
        select(WorkflowDefinition).where(
            WorkflowDefinition.tenant_id == tenant_id,
            WorkflowDefinition.id == assistant_id,
            WorkflowDefinition.status == WorkflowStatus.ACTIVE,
        )
    )
    if row is None:
        named = (
            await session.scalars(
                select(WorkflowDefinition)
                .where(
                    WorkflowDefinition.tenant_id == tenant_id,
                    WorkflowDefinition.name == assistant_id,
                    WorkflowDefinition.status == WorkflowStatus.ACTIVE,
                )
                .limit(2)
            )
        ).all()
        row = named[0] if len(named) == 1 else None
    if row is None:
        raise NotFoundError("assistant", assistant_id)
    return row


def _decision(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "decision" in value:
        return value
    if value is True or value in ("approve", "approved", "yes"):
        return {"decision": "approve"}
    raise ValidationError(
        Problem(
            "command.resume",
            "expected {'decision': 'approve'|'reject'|'edit', 'reason'?, 'corrected_output'?} "
            "or {interrupt_id: decision, ...}",
        )
    )


def _pair(resume: Any, tasks: list[HITLTask]) -> list[tuple[HITLTask, dict[str, Any]]]:
    by_interrupt = {t.interrupt_id: t for t in tasks if t.interrupt_id}
    if isinstance(resume, dict) and resume and "decision" not in resume and set(resume) <= set(by_interrupt):
        return [(by_interrupt[key], _decision(value)) for key, value in resume.items()]
    if len(tasks) > 1:
        ids = ", ".join(sorted(by_interrupt))
        raise ValidationError(
            Problem(
                "command.resume",
                f"{len(tasks)} interrupts are open; resume with {{interrupt_id: value}} ({ids})",
            )
        )
    return [(tasks[0], _decision(resume))]


async def _resume(
    resources: ServerResources, principal: Principal, thread_id: str, command: dict[str, Any]
) -> Launched:
    if not principal.allows(Permission.HITL_DECIDE):
        raise PermissionDeniedError(
            f"role {principal.role.value} may not perform {Permission.HITL_DECIDE.value}"
        )
    if set(command) - {"resume"} or "resume" not in command:
        raise ValidationError(Problem("command", "only 'resume' is supported"))
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, thread_id)
        if thread.run is None:
            raise ConflictError(f"thread {thread_id} has no run to resume", field="command")
        tasks = await tasks_for_run(session, principal.tenant_id, thread.run.id, status=HITLStatus.PENDING)
    if not tasks:
        raise ConflictError(f"thread {thread_id} has no open interrupt to resume", field="command")
    first: str | None = None
    for task, decision in _pair(command["resume"], tasks):
        await resources.engine.decide(principal.tenant_id, task.id, decision, actor_id=principal.user_id)
        first = first or task.id
    assert first is not None
    return Launched(thread=thread, run_id=first, kind="resume")


async def _start(
    resources: ServerResources, principal: Principal, thread_id: str | None, body: RunRequest
) -> Launched:
    if not body.assistant_id:
        raise ValidationError(Problem("assistant_id", "is required to start a run"))
    async with resources.database.session() as session:
        thread = await resolve_thread(session, principal.tenant_id, thread_id) if thread_id else None
        if thread is not None and thread.run is not None:
            raise ConflictError(
                f"thread {thread_id} already holds workflow run {thread.run.id}; "
                "resume it with command.resume or start a new thread",
                field="thread_id",
            )
        workflow = await find_assistant(session, principal.tenant_id, body.assistant_id)
        await enforce_run_rate_limit(
            session, principal.tenant_id, resources.settings.run_rate_limit_per_minute
        )
    run = await resources.engine.start_run(
        principal.tenant_id, workflow.id, body.input or {}, principal.user_id
    )
    if thread is not None:
        async with resources.database.transaction() as session:
            bound = await bind_thread(
                session, principal.tenant_id, thread.thread_id, run.id, principal.user_id
            )
        if not bound:
            # Another request started a run on this thread meanwhile: withdraw ours (still queued,
            # or stopped by its worker) so the thread keeps exactly one run.
            await resources.engine.cancel(principal.tenant_id, run.id, actor_id=principal.user_id)
            raise ConflictError(
                f"thread {thread_id} already holds a workflow run; "
                "resume it with command.resume or start a new thread",
                field="thread_id",
            )
        started = ResolvedThread(thread.thread_id, thread.created_at, run, thread.metadata)
    else:
        started = ResolvedThread(run.id, run.created_at, run, dict(body.metadata or {}))
    return Launched(thread=started, run_id=run.id, kind="start")


async def launch(
    resources: ServerResources, principal: Principal, thread_id: str | None, body: RunRequest
) -> Launched:
    """Start the assistant's workflow (``input``) or resume the thread's open interrupts (``command``).

    Raises:
        eawe.errors.NotFoundError: Unknown thread or assistant (also another tenant's).
        eawe.errors.ConflictError: Nothing to resume, a decision already taken, or a thread that
            already ran.
        eawe.errors.ValidationError: A body that is neither a start nor a resume.
    """
    if body.command is not None and body.input is not None:
        raise ValidationError(Problem("command", "give either input or command, not both"))
    if body.command is not None:
        if thread_id is None:
            raise ValidationError(Problem("command", "a resume needs a thread"))
        return await _resume(resources, principal, thread_id, body.command)
    return await _start(resources, principal, thread_id, body)
