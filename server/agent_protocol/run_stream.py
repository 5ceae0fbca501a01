"""Following a workflow run as LangGraph stream parts: ``values``, ``updates`` and ``events``.

The worker that executes the run may live in another process, so the parts are rebuilt from the
engine's cross-process events and the run's checkpoints: after each finished node the latest
checkpoint gives the state (``values``) and the node's written keys (``updates``); a pause gives
the open interrupts (``__interrupt__``). Errors end the stream with an ``error`` part.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from checkpoints import RunEventStream
from eawe.db.models import RunStatus, WorkflowRun
from server.agent_protocol.encoding import jsonable
from server.graph_views import compile_version
from server.resources import ServerResources

__all__ = ["Part", "final_body", "follow_run", "load_graph"]

Part = tuple[str, Any]
"""(stream event name, data): ``("values", {...})``, ``("updates", {...})``, ``("error", {...})``."""

_SETTLED = {
    RunStatus.PAUSED_FOR_APPROVAL,
    RunStatus.PAUSED_WITH_ERROR,
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
}
_WAIT_SECONDS = 5.0


async def load_graph(resources: ServerResources, run: WorkflowRun) -> CompiledStateGraph:
    from eawe.db.repositories.workflows import get_version

    async with resources.database.session() as session:
        version = await get_version(session, run.tenant_id, run.workflow_definition_id, run.workflow_version)
        return await compile_version(resources.engine, session, run.tenant_id, version)


def _interrupts(snapshot: Any) -> list[dict[str, Any]]:
    return [{"id": i.id, "value": jsonable(i.value)} for i in snapshot.interrupts]


def _error(run_error: Any, status: str) -> dict[str, Any]:
    error = run_error if isinstance(run_error, dict) else {}
    return {
        "error": str(
            error.get("type") or ("Cancelled" if status == RunStatus.CANCELLED.value else "RunError")
        ),
        "message": str(error.get("message") or f"the run ended {status}"),
    }


async def _current_run(resources: ServerResources, tenant_id: str, run_id: str) -> WorkflowRun:
    from eawe.db.repositories.runs import get_run

    async with resources.database.session() as session:
        return await get_run(session, tenant_id, run_id)


async def follow_run(
    resources: ServerResources,
    events: RunEventStream,
    run: WorkflowRun,
    modes: set[str],
    *,
    launched: bool,
    is_disconnected: Callable[[], Any] | None = None,
) -> AsyncIterator[Part]:
    """Parts for ``run`` until it settles (paused, finished, failed).

    ``events`` must have been subscribed before the run was started or resumed (``launched``), so
    nothing is missed; when joining a run already under way, a settled run ends the stream at once.
    """
    graph = await load_graph(resources, run)
    config: RunnableConfig = {"configurable": {"thread_id": run.id}}
    last_values: Any = None

    async def values_part() -> tuple[Any, Any]:
        snapshot = await graph.aget_state(config)
        return snapshot, jsonable(snapshot.values)

    status: str | None = None
    if not launched:
        current = await _current_run(resources, run.tenant_id, run.id)
        status = current.status.value if current.status in _SETTLED else None
    while True:
        if status is None:
            if is_disconnected is not None and await is_disconnected():
                return
            event = await events.next(wait_seconds=_WAIT_SECONDS)
            if event is None or event.type == "stream.lagged":
                # Quiet, or events were dropped for a slow reader: ask the database where the run is.
                current = await _current_run(resources, run.tenant_id, run.id)
                if current.status in _SETTLED:
                    status = current.status.value
                continue
            if event.run_id != run.id:
                continue
            if "events" in modes:
                yield (
                    "events",
                    {
                        "event": "on_custom_event",
                        "name": f"eawe.{event.type}",
                        "run_id": run.id,
                        "data": jsonable(event.data),
                        "metadata": {"thread_id": run.id},
                        "tags": [],
                        "parent_ids": [],
                    },
                )
            if event.type == "node.finished":
                node_id = str(event.data.get("node_id"))
                _, values = await values_part()
                update = {k: values.get(k) for k in event.data.get("keys") or [] if isinstance(values, dict)}
                if "updates" in modes:
                    yield "updates", {node_id: update}
                if "values" in modes and values != last_values:
                    last_values = values
                    yield "values", values
                if "events" in modes:
                    yield (
                        "events",
                        {
                            "event": "on_chain_end",
                            "name": node_id,
                            "run_id": run.id,
                            "data": {"output": update},
                            "metadata": {"langgraph_node": node_id, "thread_id": run.id},
                            "tags": [f"graph:step:{node_id}"],
                            "parent_ids": [],
                        },
                    )
                continue
            if event.type != "run.status" or RunStatus(str(event.data.get("status"))) not in _SETTLED:
                continue
            status = str(event.data["status"])
        snapshot, values = await values_part()
        if status == RunStatus.PAUSED_FOR_APPROVAL.value:
            interrupts = _interrupts(snapshot)
            if "values" in modes and values != last_values:
                yield "values", values
            if "updates" in modes:
                yield "updates", {"__interrupt__": interrupts}
            elif "values" in modes:
                yield "values", {"__interrupt__": interrupts}  # as LangGraph's server does for values-only
        elif status == RunStatus.COMPLETED.value:
            if "values" in modes and values != last_values:
                yield "values", values
        else:
            settled = await _current_run(resources, run.tenant_id, run.id)
            yield "error", _error(settled.error, status)
        return


async def final_body(resources: ServerResources, run: WorkflowRun) -> dict[str, Any]:
    """What ``runs.wait`` / ``runs.join`` return: the state, with ``__interrupt__`` or ``__error__``."""
    current = await _current_run(resources, run.tenant_id, run.id)
    config: RunnableConfig = {"configurable": {"thread_id": current.id}}
    snapshot = await (await load_graph(resources, current)).aget_state(config)
    values = jsonable(snapshot.values) if isinstance(snapshot.values, dict) else {}
    if current.status in (RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR, RunStatus.CANCELLED):
        return {"__error__": _error(current.error, current.status.value)}
    if snapshot.interrupts:
        return {**values, "__interrupt__": _interrupts(snapshot)}
    return values
