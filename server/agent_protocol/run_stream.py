"""Following a run's stored stream (``RunStreamEvent``) until the run settles, and its final body.

The parts are what the worker stored while it executed the run (``checkpoints.stream_log``), so a
client sees the same parts whichever process it is connected to, and one that joins late or
reconnects with ``Last-Event-ID`` gets every part after that id. A run settles when it is no
longer pending or running (finished, failed, cancelled, or paused for approval).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from checkpoints.stream_log import part_wanted
from eawe.db.models import RunStatus, WorkflowRun
from eawe.db.repositories.runs import get_run
from eawe.db.repositories.threads import stream_events_after
from server.agent_protocol.encoding import jsonable
from server.resources import ServerResources

__all__ = ["StoredPart", "final_body", "follow_stream", "settled", "wait_settled"]

StoredPart = tuple[int, str, Any]
"""(seq, SSE event name, data)."""

_WAIT_SECONDS = 1.0


def settled(run: WorkflowRun) -> bool:
    return run.status not in (RunStatus.PENDING, RunStatus.RUNNING)


async def follow_stream(
    resources: ServerResources,
    tenant_id: str,
    run_id: str,
    *,
    after_seq: int = 0,
    modes: set[str] | None = None,
    is_disconnected: Callable[[], Any] | None = None,
) -> AsyncIterator[StoredPart]:
    """Every stored part of the run after ``after_seq`` (of ``modes``, default all), then the new
    ones, until it settles."""
    async with resources.engine.subscribe(tenant_id, run_id) as events:
        while True:
            async with resources.database.session() as session:
                run = await get_run(session, tenant_id, run_id)  # status first: parts then include
                done = settled(run)  # everything written with the settling transaction
                rows = await stream_events_after(session, tenant_id, run_id, after_seq)
            for row in rows:
                after_seq = row.seq
                if modes is None or part_wanted(row.event, modes):
                    yield row.seq, row.event, row.data
            if rows:
                continue
            if done:
                return
            if is_disconnected is not None and await is_disconnected():
                return
            await events.next(wait_seconds=_WAIT_SECONDS)


async def wait_settled(
    resources: ServerResources,
    tenant_id: str,
    run_id: str,
    *,
    is_disconnected: Callable[[], Any] | None = None,
) -> None:
    """Until the run settles (or the caller goes away), without reading its parts.

    Re-reads the run on its status events, when the subscriber fell behind, and at least every
    second (a step's wake-up alone does not), so ``runs.wait`` and ``join`` cost one read per
    status change rather than one per step.
    """
    loop = asyncio.get_running_loop()
    async with resources.engine.subscribe(tenant_id, run_id) as events:
        while True:
            async with resources.database.session() as session:
                run = await get_run(session, tenant_id, run_id)
            if settled(run) or (is_disconnected is not None and await is_disconnected()):
                return
            reread_at = loop.time() + _WAIT_SECONDS
            while (remaining := reread_at - loop.time()) > 0:
                event = await events.next(wait_seconds=remaining)
                if event is None or event.type in ("run.status", "stream.lagged"):
                    break


def _error(run: WorkflowRun) -> dict[str, Any]:
    error = run.error if isinstance(run.error, dict) else {}
    kind = error.get("type") or ("Cancelled" if run.status == RunStatus.CANCELLED else "RunError")
    return {"error": str(kind), "message": str(error.get("message") or f"the run ended {run.status.value}")}


async def final_body(resources: ServerResources, tenant_id: str, run_id: str) -> dict[str, Any]:
    """What ``runs.wait`` / ``runs.join`` return: the thread's state, with ``__interrupt__`` or
    ``__error__``."""
    async with resources.database.session() as session:
        run = await get_run(session, tenant_id, run_id)
    if run.status in (RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR, RunStatus.CANCELLED):
        return {"__error__": _error(run)}
    snapshot = await resources.engine.threads.state(tenant_id, run.thread_id) if run.thread_id else None
    if snapshot is None:
        return jsonable(run.payload) if isinstance(run.payload, dict) else {}
    values = jsonable(snapshot.values) if isinstance(snapshot.values, dict) else {}
    if snapshot.interrupts:
        return {
            **values,
            "__interrupt__": [{"id": i.id, "value": jsonable(i.value)} for i in snapshot.interrupts],
        }
    return values
