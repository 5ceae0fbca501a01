"""The SSE body of ``GET /v1/runs/{id}/events``: the run's stored events, replayable by id.

Every event of a run is stored in its outbox with a per-run ``seq`` (the SSE ``id``), so the
stream first replays what is stored after the client's ``Last-Event-ID`` (everything, on a first
connection — also once the run has finished), then follows new events as they commit, and ends
once a ``run.status`` event settles the run (or pauses it, when asked). A ``run.status`` snapshot
without an id opens the stream so a client sees the current status at once.

A reader who may not see the run's content (``server.auth.run_visibility``) gets status events
only, each carrying the status and the error's kind, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from checkpoints import TERMINAL_STATUSES, RunEngine
from checkpoints.run_event_log import follow_run_events
from eawe.db.models import RunStatus
from eawe.db.repositories.runs import get_run
from server.auth.run_visibility import metadata_error

__all__ = ["PAUSED_STATUSES", "run_event_stream", "settled"]

PAUSED_STATUSES = frozenset({RunStatus.PAUSED_FOR_APPROVAL, RunStatus.PAUSED_WITH_ERROR})
_KEEPALIVE_SECONDS = 10.0


def settled(status: RunStatus | str, *, stop_on_pause: bool) -> bool:
    """True when a stream following a run should end at ``status``."""
    value = RunStatus(status)
    return value in TERMINAL_STATUSES or (stop_on_pause and value in PAUSED_STATUSES)


def _status_only(data: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {key: data[key] for key in ("status", "snapshot") if key in data}
    error = metadata_error(data.get("error"))
    if error is not None:
        kept["error"] = error
    return kept


def _message(seq: int | None, event_type: str, run_id: str, data: dict[str, Any], at: str) -> dict[str, str]:
    body = {"run_id": run_id, "type": event_type, "data": data, "at": at}
    message = {"event": event_type, "data": json.dumps(body, default=str)}
    if seq is not None:
        message["id"] = str(seq)
    return message


async def run_event_stream(
    engine: RunEngine,
    tenant_id: str,
    run_id: str,
    request: Request,
    *,
    after: int = 0,
    stop_on_pause: bool = False,
    content_visible: bool = False,
) -> AsyncIterator[dict[str, str]]:
    """SSE messages (``event``, ``id``, ``data``) for one run of one tenant, after seq ``after``.

    Without ``content_visible`` only ``run.status`` events are sent, reduced to status and error kind.
    """
    resources = engine.resources
    async with resources.database.session() as session:
        run = await get_run(session, tenant_id, run_id)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    yield _message(None, "run.status", run_id, {"status": run.status.value, "snapshot": True}, now)
    events = follow_run_events(
        resources.database,
        resources.events,
        tenant_id,
        run_id,
        after=after,
        wait_seconds=_KEEPALIVE_SECONDS,
    )
    async for event in events:
        if event is None:  # quiet: sse-starlette sends the pings; a settled run ends the stream
            if await request.is_disconnected():
                return
            async with resources.database.session() as session:
                current = await get_run(session, tenant_id, run_id)
            if settled(current.status, stop_on_pause=stop_on_pause):
                return
            continue
        if content_visible or event.type == "run.status":
            data = event.data if content_visible else _status_only(event.data)
            yield _message(event.seq, event.type, run_id, data, event.at)
        status = event.data.get("status") if event.type == "run.status" else None
        if isinstance(status, str) and settled(status, stop_on_pause=stop_on_pause):
            return
