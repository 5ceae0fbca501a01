"""EAWE objects in Agent-Protocol shapes: assistants, threads, thread states and runs.

* assistant = an ``Assistant`` row: a graph id (a workflow's slug or a code graph's name) with
  config, context and metadata;
* thread = an ``AgentThread``: the LangGraph thread whose checkpoints its runs continue;
* run = a ``WorkflowRun`` on the thread.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from eawe.db.models import AgentThread, Assistant, AssistantVersion, RunStatus, WorkflowRun
from server.agent_protocol.encoding import iso, jsonable
from server.auth.run_visibility import metadata_error

__all__ = [
    "assistant_view",
    "empty_state_view",
    "run_status",
    "run_view",
    "snapshot_view",
    "thread_view",
]

_RUN_STATUS = {
    RunStatus.PENDING: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.PAUSED_FOR_APPROVAL: "success",  # ended at an interrupt, as LangGraph reports it
    RunStatus.COMPLETED: "success",
    RunStatus.FAILED: "error",
    RunStatus.PAUSED_WITH_ERROR: "error",
    RunStatus.CANCELLED: "interrupted",
}


def run_status(run: WorkflowRun) -> str:
    return _RUN_STATUS[run.status]


def assistant_view(row: Assistant | AssistantVersion) -> dict[str, Any]:
    assistant_id = row.assistant_id if isinstance(row, AssistantVersion) else row.id
    view = {
        "assistant_id": assistant_id,
        "graph_id": row.graph_id,
        "name": row.name,
        "description": row.description,
        "config": jsonable(row.config or {}),
        "context": jsonable(row.context or {}),
        "metadata": jsonable(row.metadata_ or {}),
        "version": row.version,
        "created_at": iso(row.created_at),
    }
    if isinstance(row, Assistant):
        view["updated_at"] = iso(row.updated_at)
    return view


def thread_view(
    thread: AgentThread, snapshot: StateSnapshot | None = None, *, content: bool = True, error: Any = None
) -> dict[str, Any]:
    """A thread as the Agent Protocol's Thread; without ``content`` its ``values`` and interrupts are
    left out and its error keeps only its kind (a reader who may not see the runs' content)."""
    values: Any = None
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if content and snapshot is not None:
        values = jsonable(snapshot.values)
        for task in snapshot.tasks:
            if task.interrupts:
                interrupts[task.id] = [{"id": i.id, "value": jsonable(i.value)} for i in task.interrupts]
    metadata = dict(thread.metadata_ or {})
    if thread.graph_id:
        metadata.setdefault("graph_id", thread.graph_id)
    if thread.assistant_id:
        metadata.setdefault("assistant_id", thread.assistant_id)
    view: dict[str, Any] = {
        "thread_id": thread.id,
        "created_at": iso(thread.created_at),
        "updated_at": iso(thread.updated_at),
        "state_updated_at": iso(thread.updated_at),
        "metadata": jsonable(metadata),
        "status": thread.status,
        "values": values,
        "interrupts": interrupts,
        "config": {},
    }
    if error:
        view["error"] = jsonable(error if content else metadata_error(error))
    return view


def run_view(run: WorkflowRun) -> dict[str, Any]:
    kwargs = dict(run.kwargs or {})
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "status": run_status(run),
        "metadata": jsonable(kwargs.get("metadata") or {}),
        "multitask_strategy": run.multitask_strategy,
        "kwargs": jsonable({k: v for k, v in kwargs.items() if k in ("config", "context", "stream_mode")}),
    }


def _interrupts(snapshot: StateSnapshot | None) -> list[dict[str, Any]]:
    if snapshot is None:
        return []
    return [{"id": i.id, "value": jsonable(i.value)} for i in snapshot.interrupts]


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
