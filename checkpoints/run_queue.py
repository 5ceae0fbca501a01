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

from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import RunEvent, enqueue_run, publish_event
from checkpoints.run_targets import RunTarget
from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import AgentThread, RunStatus, WorkflowRun, utcnow
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories.hitl import cancel_open_tasks
from eawe.errors import ConflictError, NotFoundError

__all__ = ["MultitaskStrategy", "cancel_active_runs", "open_thread", "queue_run"]

MultitaskStrategy = Literal["reject", "enqueue", "interrupt", "rollback"]


async def open_thread(
    session: AsyncSession,
    tenant_id: str,
    thread_id: str | None,
    *,
    if_not_exists: str = "reject",
    metadata: dict[str, Any] | None = None,
    created_by_id: str | None = None,
    new_thread_id: str | None = None,
) -> AgentThread:
    """The thread to queue on, locked: ``thread_id`` (created if missing with ``if_not_exists =
    "create"``), or a new one (``new_thread_id``: a run started without a thread gets a thread
    with the run's own id, so its id names both)."""
    if thread_id is None:
        return await thread_repo.create_thread(
            session, tenant_id, thread_id=new_thread_id, metadata=metadata, created_by_id=created_by_id
        )
    try:
        return await thread_repo.get_thread(session, tenant_id, thread_id, for_update=True)
    except NotFoundError:
        if if_not_exists != "create":
            raise
    return await thread_repo.create_thread(
        session, tenant_id, thread_id=thread_id, metadata=metadata, created_by_id=created_by_id
    )


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
    run_input: Any,
    kwargs: dict[str, Any],
    started_by_id: str | None,
    multitask_strategy: MultitaskStrategy = "reject",
    run_id: str | None = None,
) -> WorkflowRun:
    """Queue a PENDING run of ``target`` on the (locked) ``thread``.

    Raises:
        eawe.errors.ConflictError: The thread is busy and the strategy is ``reject``.
    """
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
    version = target.version
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
    )
    session.add(run)
    thread.status = "busy"
    # As LangGraph does: a thread's metadata names the graph and assistant its runs execute.
    thread.metadata_ = {
        "graph_id": target.graph_id,
        "assistant_id": target.assistant_id,
        **(thread.metadata_ or {}),
    }
    thread.graph_id = thread.graph_id or target.graph_id
    thread.assistant_id = thread.assistant_id or target.assistant_id
    thread.updated_at = utcnow()
    await session.flush()
    await append_audit(
        session,
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
    await publish_event(session, RunEvent(tenant_id, run.id, "run.status", {"status": run.status.value}))
    await enqueue_run(session, run.id)
    return run
