"""Turning an Agent-Protocol run request into a run on a thread.

A request queues a new run of the assistant on the thread (``engine.create_run``: input or
``command``, fork from ``checkpoint_id``, ``multitask_strategy``, ``if_not_exists``). One case
is different: ``command.resume`` on a thread whose workflow run waits for approval decides its
open HITL tasks (``engine.decide``: roles and the exactly-once rule as on ``/v1``) and that same
run continues — a workflow's approvals are tasks, not free-form resumes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from eawe.db.models import HITLStatus, HITLTask, RunStatus, WorkflowRun
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories.hitl import tasks_for_run
from eawe.errors import ConflictError, PermissionDeniedError, Problem, ValidationError
from server.agent_protocol.schemas import STREAM_MODES, RunRequest
from server.auth.permissions import Permission
from server.auth.principal import Principal
from server.limits import enforce_run_rate_limit
from server.resources import ServerResources

__all__ = ["launch"]


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


async def _paused_workflow_run(
    resources: ServerResources, tenant_id: str, thread_id: str
) -> tuple[WorkflowRun, list[HITLTask]] | None:
    async with resources.database.session() as session:
        run = await thread_repo.latest_run(session, tenant_id, thread_id)
        if run is None or run.workflow_definition_id is None or run.status != RunStatus.PAUSED_FOR_APPROVAL:
            return None
        tasks = await tasks_for_run(session, tenant_id, run.id, status=HITLStatus.PENDING)
    return (run, tasks) if tasks else None


def _kwargs(body: RunRequest) -> dict[str, Any]:
    unknown = [m for m in body.modes() if m not in STREAM_MODES]
    if unknown:
        raise ValidationError(
            Problem(
                "stream_mode",
                f"unknown stream mode {unknown[0]!r}; use one of {', '.join(sorted(STREAM_MODES))}",
            )
        )
    kwargs: dict[str, Any] = {
        "config": body.config or {},
        "context": body.context or {},
        "stream_mode": body.modes(),
        "stream_subgraphs": body.stream_subgraphs,
        "metadata": body.metadata or {},
    }
    if body.command is not None:
        kwargs["command"] = body.command
    if body.webhook is not None and urlsplit(body.webhook).scheme not in ("http", "https"):
        raise ValidationError(Problem("webhook", "must be an http(s) URL"))
    if body.fork_checkpoint_id():
        kwargs["checkpoint_id"] = body.fork_checkpoint_id()
    for key in ("interrupt_before", "interrupt_after", "webhook", "on_disconnect"):
        value = getattr(body, key)
        if value is not None:
            kwargs[key] = value
    return kwargs


async def launch(
    resources: ServerResources, principal: Principal, thread_id: str | None, body: RunRequest
) -> WorkflowRun:
    """Queue the requested run (or decide the paused workflow run's tasks) and return the run.

    Raises:
        eawe.errors.NotFoundError: Unknown thread or assistant (also another tenant's).
        eawe.errors.ConflictError: The thread is busy (``reject``), or a decision already taken.
        eawe.errors.ValidationError: A body that names no assistant, or a bad stream mode.
    """
    if body.command is not None and body.input is not None:
        raise ValidationError(Problem("command", "give either input or command, not both"))
    kwargs = _kwargs(body)
    if thread_id is not None and body.command is not None and "resume" in body.command:
        paused = await _paused_workflow_run(resources, principal.tenant_id, thread_id)
        if paused is not None:
            if not principal.allows(Permission.HITL_DECIDE):
                raise PermissionDeniedError(
                    f"role {principal.role.value} may not perform {Permission.HITL_DECIDE.value}"
                )
            run, tasks = paused
            for task, decision in _pair(body.command["resume"], tasks):
                await resources.engine.decide(
                    principal.tenant_id, task.id, decision, actor_id=principal.user_id
                )
            return run
        async with resources.database.session() as session:
            last = await thread_repo.latest_run(session, principal.tenant_id, thread_id)
        if last is not None and last.workflow_definition_id is not None:
            raise ConflictError(
                f"thread {thread_id} has no open approval to resume; start a run with input instead",
                field="command",
            )
    assistant = body.assistant_id
    if not assistant and thread_id is not None:
        async with resources.database.session() as session:
            thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        assistant = thread.assistant_id
    if not assistant:
        raise ValidationError(Problem("assistant_id", "is required to start a run"))
    async with resources.database.session() as session:
        await enforce_run_rate_limit(
            session, principal.tenant_id, resources.settings.run_rate_limit_per_minute
        )
    return await resources.engine.create_run(
        principal.tenant_id,
        assistant,
        thread_id=thread_id,
        run_input=body.input,
        started_by=principal.user_id,
        kwargs=kwargs,
        multitask_strategy=body.multitask_strategy or "reject",
        if_not_exists=body.if_not_exists or "reject",
        thread_metadata=body.metadata,
    )
