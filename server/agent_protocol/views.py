"""EAWE objects in Agent-Protocol shapes: assistants, threads, thread states and runs.

* assistant = a published (ACTIVE) workflow definition; ``assistant_id`` = ``graph_id`` = its id;
* thread = one workflow run (an ``AgentThread`` created before its run, or the run itself; the
  LangGraph ``thread_id`` of its checkpoints is the run id), see ``thread_directory``;
* run = one execution on the thread: the start (``run_id`` = the workflow run id) and each
  resume by a decision (``run_id`` = the decided HITL task id). Their statuses are derived from
  the workflow run and its tasks, so nothing extra is stored.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import HITLStatus, HITLTask, RunStatus, WorkflowDefinition, WorkflowRun
from server.agent_protocol.encoding import iso, jsonable
from server.agent_protocol.thread_directory import ResolvedThread
from server.auth.run_visibility import metadata_error

__all__ = [
    "DECIDED",
    "ap_runs",
    "assistant_view",
    "empty_state_view",
    "latest_run_status",
    "snapshot_view",
    "thread_status",
    "thread_view",
]

DECIDED = (HITLStatus.APPROVED, HITLStatus.REJECTED, HITLStatus.EDITED_AND_APPROVED)

_THREAD_STATUS = {
    RunStatus.PENDING: "busy",
    RunStatus.RUNNING: "busy",
    RunStatus.PAUSED_FOR_APPROVAL: "interrupted",
    RunStatus.PAUSED_WITH_ERROR: "error",
    RunStatus.FAILED: "error",
    RunStatus.COMPLETED: "idle",
    RunStatus.CANCELLED: "idle",
}
_RUN_STATUS = {
    RunStatus.PENDING: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.PAUSED_FOR_APPROVAL: "success",  # ended at an interrupt, as LangGraph reports it
    RunStatus.COMPLETED: "success",
    RunStatus.FAILED: "error",
    RunStatus.PAUSED_WITH_ERROR: "error",
    RunStatus.CANCELLED: "interrupted",
}


def thread_status(run: WorkflowRun | None) -> str:
    return "idle" if run is None else _THREAD_STATUS[run.status]


def latest_run_status(run: WorkflowRun) -> str:
    return _RUN_STATUS[run.status]


def assistant_view(workflow: WorkflowDefinition) -> dict[str, Any]:
    return {
        "assistant_id": workflow.id,
        "graph_id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "config": {"configurable": {}},
        "context": {},
        "metadata": {"created_by": "eawe", "status": workflow.status.value},
        "version": workflow.published_version or 1,
        "created_at": iso(workflow.created_at),
        "updated_at": iso(workflow.updated_at),
    }


def _interrupts(snapshot: StateSnapshot | None) -> list[dict[str, Any]]:
    if snapshot is None:
        return []
    return [{"id": i.id, "value": jsonable(i.value)} for i in snapshot.interrupts]


def thread_view(
    thread: ResolvedThread, snapshot: StateSnapshot | None = None, *, content: bool = True
) -> dict[str, Any]:
    """A thread as the Agent Protocol's Thread; without ``content`` its ``values`` and interrupts are
    left out and its error keeps only its kind (a reader who may not see the run's content)."""
    run = thread.run
    metadata = dict(thread.metadata)
    values: Any = None
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if run is not None:
        metadata.update(
            {
                "assistant_id": run.workflow_definition_id,
                "graph_id": run.workflow_definition_id,
                "workflow_version": run.workflow_version,
                "run_status": run.status.value,
            }
        )
        if content:
            values = jsonable(snapshot.values) if snapshot is not None else jsonable(run.payload or run.input)
        if content and snapshot is not None:
            for task in snapshot.tasks:
                if task.interrupts:
                    interrupts[task.id] = [{"id": i.id, "value": jsonable(i.value)} for i in task.interrupts]
    view: dict[str, Any] = {
        "thread_id": thread.thread_id,
        "created_at": iso(thread.created_at),
        "updated_at": iso(run.updated_at if run is not None else thread.created_at),
        "metadata": jsonable(metadata),
        "status": thread_status(run),
        "values": values,
        "interrupts": interrupts,
        "config": {},
    }
    if run is not None and run.error:
        view["error"] = jsonable(run.error if content else metadata_error(run.error))
    return view


def _checkpoint(config: Any) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("checkpoint_id"):
        return None
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns") or "",
        "checkpoint_id": configurable["checkpoint_id"],
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def snapshot_view(snapshot: StateSnapshot, thread_id: str) -> dict[str, Any]:
    """A LangGraph ``StateSnapshot`` as the Agent Protocol's ThreadState (thread id = the public one)."""
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    for point in (checkpoint, parent):
        if point is not None:
            point["thread_id"] = thread_id
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": str(task.error) if task.error else None,
                "interrupts": [{"id": i.id, "value": jsonable(i.value)} for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": jsonable(getattr(task, "result", None)),
            }
            for task in snapshot.tasks
        ],
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": _interrupts(snapshot),
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state_view() -> dict[str, Any]:
    """The state of a thread no run has started on yet."""
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


async def ap_runs(session: AsyncSession, thread: ResolvedThread) -> list[dict[str, Any]]:
    """The executions on a thread, oldest first: the start, then one per decision that resumed it."""
    run = thread.run
    if run is None:
        return []
    decided = (
        await session.scalars(
            select(HITLTask)
            .where(
                HITLTask.tenant_id == run.tenant_id,
                HITLTask.workflow_run_id == run.id,
                HITLTask.status.in_(DECIDED),
            )
            .order_by(HITLTask.resolved_at, HITLTask.id)
        )
    ).all()
    items = [(run.id, run.created_at)] + [(task.id, task.resolved_at or task.created_at) for task in decided]
    views = []
    for index, (run_id, created) in enumerate(items):
        last = index == len(items) - 1
        views.append(
            {
                "run_id": run_id,
                "thread_id": thread.thread_id,
                "assistant_id": run.workflow_definition_id,
                "created_at": iso(created),
                "updated_at": iso(run.updated_at if last else created),
                "status": latest_run_status(run) if last else "success",
                "metadata": {"workflow_run_id": run.id, "kind": "start" if index == 0 else "resume"},
                "multitask_strategy": "reject",
                "kwargs": {},
            }
        )
    return views
