"""Waiting for a run to settle and reading what it produced, for the MCP and A2A front doors.

Both protocols answer a call with the run's result, so they block until the run is finished or
paused — bounded by ``Settings.interop_wait_seconds``, after which they report the run as still
working instead of holding the request open. Events come from the engine's public
``subscribe``; the run row is re-read whenever the stream is quiet, so a missed event never
stalls the wait.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from checkpoints import RunEngine
from eawe.db.models import HITLStatus, RunStatus, WorkflowRun
from eawe.db.repositories.hitl import tasks_for_run
from eawe.db.repositories.runs import get_run
from eawe.errors import EAWEError
from server.run_events import settled

__all__ = ["RunOutcome", "read_outcome", "wait_until_settled"]

_log = logging.getLogger(__name__)
_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class RunOutcome:
    """A run as the protocols report it.

    Attributes:
        run: The WorkflowRun row as last read.
        values: The state values of its latest checkpoint (None if not readable).
        pending_task_ids: Open HITL tasks (a run PAUSED_FOR_APPROVAL has at least one).
    """

    run: WorkflowRun
    values: dict[str, Any] | None = None
    pending_task_ids: list[str] = field(default_factory=list)

    @property
    def status(self) -> RunStatus:
        return self.run.status

    @property
    def error_kind(self) -> str | None:
        """The error's type (and node) — never its text, which may quote run content."""
        error = self.run.error
        if not isinstance(error, dict):
            return None
        kind = str(error.get("type") or "error")
        return f"{kind} at node {error['node_id']}" if error.get("node_id") else kind


async def _current(engine: RunEngine, tenant_id: str, run_id: str) -> WorkflowRun:
    async with engine.resources.database.session() as session:
        return await get_run(session, tenant_id, run_id)


async def wait_until_settled(
    engine: RunEngine, tenant_id: str, run_id: str, *, timeout_s: float
) -> WorkflowRun:
    """The run once it is finished or paused, or as it is after ``timeout_s`` seconds.

    Raises:
        eawe.errors.NotFoundError: No such run in this tenant.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout_s
    async with engine.subscribe(tenant_id, run_id) as events:
        run = await _current(engine, tenant_id, run_id)  # after subscribing: nothing is missed
        while not settled(run.status, stop_on_pause=True):
            remaining = give_up - loop.time()
            if remaining <= 0:
                return run
            event = await events.next(wait_seconds=min(remaining, _POLL_SECONDS))
            status = event.data.get("status") if event is not None and event.type == "run.status" else None
            if event is None or event.type == "stream.lagged" or status:
                run = await _current(engine, tenant_id, run_id)
    return run


async def read_outcome(
    engine: RunEngine, tenant_id: str, run: WorkflowRun, *, with_values: bool = True
) -> RunOutcome:
    """The run's open approval tasks and, ``with_values``, its state values (run content: only for
    a caller who may read it)."""
    async with engine.resources.database.session() as session:
        pending = await tasks_for_run(session, tenant_id, run.id, status=HITLStatus.PENDING)
    values: dict[str, Any] | None = None
    if not with_values:
        return RunOutcome(run=run, pending_task_ids=[t.id for t in pending])
    try:
        values = (await engine.run_state(tenant_id, run.id))["values"]
    except EAWEError:
        _log.warning("run %s: state unavailable", run.id, exc_info=True)
        values = None
    return RunOutcome(run=run, values=values, pending_task_ids=[t.id for t in pending])
