"""Queueing a run on a thread: the thread (new, given, or created on demand), the busy-thread
policy (``multitask_strategy``), the PENDING run, its audit row and event, in the caller's
transaction.

Busy = a run of the thread is PENDING or RUNNING. ``reject`` answers 409; ``enqueue`` queues the
run behind them (a worker claims a thread's runs one at a time, in order); ``interrupt`` and
``rollback`` cancel them (a running one is asked to stop; ``rollback`` also drops the checkpoints
it wrote) and queue the new run, which starts once they have stopped.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import QUEUE_CHANNEL, RunEvent, event_notice, publish_event
from checkpoints.run_targets import RunTarget
from eawe.audit import ActorType, append_audit, audit_row
from eawe.db.ids import new_id
from eawe.db.models import AgentThread, RunStatus, WorkflowRun, utcnow
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories.hitl import cancel_open_tasks
from eawe.db.repositories.runs import insert_queued_run
from eawe.errors import ConflictError, NotFoundError

__all__ = ["MultitaskStrategy", "cancel_active_runs", "open_thread", "queue_run"]

MultitaskStrategy = Literal["reject", "enqueue", "interrupt", "rollback"]


async def open_thread(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str | None,
    target: RunTarget,
    *,
    if_not_exists: str = "reject",
    metadata: dict[str, Any] | None = None,
    created_by_id: str | None = None,
) -> tuple[AgentThread, bool]:
    """The thread to queue on, and whether it is new: ``thread_id`` locked (created if missing
    with ``if_not_exists = "create"``), or a new one with a fresh id (a run started without a
    thread gets a thread with the run's own id, so its id names both).

    A new thread is busy, naming the target's graph and assistant: nothing can be queued on it
    before this transaction commits, so it needs no busy check and no update. One with a fresh
    id is not inserted yet: :func:`queue_run` inserts it with the run.
    """
    if thread_id is None:  # a fresh id: inserted with the run, in the same statement
        return (
            thread_repo.new_thread_row(
                tenant_id,
                metadata=_thread_metadata(target, metadata),
                created_by_id=created_by_id,
                graph_id=target.graph_id,
                assistant_id=target.assistant_id,
                status="busy",
            ),
            True,
        )
    try:
        return await thread_repo.get_thread(session, tenant_id, thread_id, for_update=True), False
    except NotFoundError:
        if if_not_exists != "create":
            raise
    thread = await thread_repo.create_thread(
        session,
        tenant_id,
        thread_id=thread_id,
        metadata=_thread_metadata(target, metadata),
        created_by_id=created_by_id,
        graph_id=target.graph_id,
        assistant_id=target.assistant_id,
        status="busy",
    )
    return thread, True


def _thread_metadata(target: RunTarget, metadata: dict[str, Any] | None) -> dict[str, Any]:
    # As LangGraph does: a thread's metadata names the graph and assistant its runs execute.
    return {"graph_id": target.graph_id, "assistant_id": target.assistant_id, **(metadata or {})}


async def cancel_active_runs(
    session: AsyncSession,
    tenant_id: str,
    runs: list[WorkflowRun],
    *,
    action: Literal["interrupt", "rollback"],
    actor_id: str | None,
) -> None:
    """Cancel pending runs at once; ask running ones to stop (their worker finishes the cancel)."""
    for run in runs:
        run.kwargs = {**(run.kwargs or {}), "cancel_action": action}
        if run.status == RunStatus.PENDING:
            run.status, run.completed_at, run.cancel_requested = RunStatus.CANCELLED, utcnow(), True
            await cancel_open_tasks(session, tenant_id, run.id)
            action_name, event = (
                "RUN_CANCELLED",
                RunEvent(tenant_id, run.id, "run.status", {"status": "CANCELLED"}),
            )
        else:
            run.cancel_requested = True
            action_name, event = (
                "RUN_CANCEL_REQUESTED",
                RunEvent(tenant_id, run.id, "run.cancel_requested", {}),
            )
        await session.flush()
        await append_audit(
            session,
            tenant_id=tenant_id,
            action=action_name,
            actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
            actor_id=actor_id,
            workflow_run_id=run.id,
            details={"multitask": action},
        )
        await publish_event(session, event)


async def queue_run(
    session: AsyncSession,
    tenant_id: str,
    target: RunTarget,
    thread: AgentThread,
    *,
    new_thread: bool,
    run_input: Any,
    kwargs: dict[str, Any],
    started_by_id: str | None,
    multitask_strategy: MultitaskStrategy = "reject",
    run_id: str | None = None,
) -> WorkflowRun:
    """Queue a PENDING run of ``target`` on the (locked, or ``new_thread``) ``thread``.

    The run's id is ``run_id`` (a thread made for the run shares its id) or a fresh one. A new
    thread needs no busy check or update. The thread (when not inserted yet), the run, its audit
    entry, its first event (seq 1) and both wake-ups are one statement.

    Raises:
        eawe.errors.ConflictError: The thread is busy and the strategy is ``reject``.
    """
    if not new_thread:
        active = await thread_repo.active_runs(session, tenant_id, thread.id, for_update=True)
        if active and multitask_strategy == "reject":
            raise ConflictError(
                f"thread {thread.id} is busy with run {active[0].id}; "
                "use multitask_strategy enqueue, interrupt or rollback",
                field="multitask_strategy",
            )
        if active and multitask_strategy in ("interrupt", "rollback"):
            await cancel_active_runs(
                session,
                tenant_id,
                active,
                action=multitask_strategy,
                actor_id=started_by_id,  # type: ignore[arg-type]
            )
        thread.status = "busy"
        thread.metadata_ = _thread_metadata(target, thread.metadata_)
        thread.graph_id = thread.graph_id or target.graph_id
        thread.assistant_id = thread.assistant_id or target.assistant_id
        thread.updated_at = utcnow()
    version = target.version
    now = utcnow()
    run = WorkflowRun(
        id=run_id or new_id(),
        tenant_id=tenant_id,
        workflow_definition_id=version.workflow_definition_id if version is not None else None,
        workflow_version=version.version if version is not None else 1,
        graph_hash=version.graph_hash if version is not None else "",
        status=RunStatus.PENDING,
        input=run_input,
        started_by_id=started_by_id,
        thread_id=thread.id,
        graph_id=target.graph_id,
        assistant_id=target.assistant_id,
        kwargs=kwargs,
        multitask_strategy=multitask_strategy,
        event_seq=1,  # its first event, below
        attempts=0,
        cancel_requested=False,
        created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),  # timestamp(3)
    )
    run.updated_at = run.created_at
    audit = audit_row(
        tenant_id=tenant_id,
        action="RUN_CREATED",
        actor_type=ActorType.USER if started_by_id else ActorType.SYSTEM,
        actor_id=started_by_id,
        workflow_run_id=run.id,
        details={
            "workflow_id": target.workflow_id,
            "workflow_version": version.version if version is not None else None,
            "graph_id": target.graph_id,
            "thread_id": thread.id,
        },
    )
    event = RunEvent(tenant_id, run.id, "run.status", {"status": run.status.value})
    await insert_queued_run(
        session,
        run,
        audit,
        (event.type, {"data": event.data, "at": event.at}),
        thread=thread if inspect(thread).transient else None,
        notices=[(QUEUE_CHANNEL, run.id), event_notice(event)],
    )
    return run
