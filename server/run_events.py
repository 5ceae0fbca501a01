"""The SSE body of ``GET /v1/runs/{id}/events``.

Subscribe first, then read the run, so nothing that happens in between is missed: the first event
is a ``run.status`` snapshot, then live events follow until the run finishes (or pauses, when asked).
A reader who may not see the run's content (``server.auth.run_visibility``) gets status events only,
each carrying the status and the error's kind, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from checkpoints import TERMINAL_STATUSES, RunEngine
from checkpoints.stream_log import STREAM_PARTS
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


def _message(seq: int, event_type: str, run_id: str, data: dict[str, Any], at: str) -> dict[str, str]:
    body = {"run_id": run_id, "type": event_type, "data": data, "at": at}
    return {"event": event_type, "id": str(seq), "data": json.dumps(body, default=str)}


async def run_event_stream(
    engine: RunEngine,
    tenant_id: str,
    run_id: str,
    request: Request,
    *,
    stop_on_pause: bool = False,
    content_visible: bool = False,
) -> AsyncIterator[dict[str, str]]:
    """SSE messages (``event``, ``id``, ``data``) for one run of one tenant.

    Without ``content_visible`` only ``run.status`` events are sent, reduced to status and error kind.
    """
    async with engine.subscribe(tenant_id, run_id) as events:
        async with engine.resources.database.session() as session:
            run = await get_run(session, tenant_id, run_id)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        seq = 0
        yield _message(seq, "run.status", run_id, {"status": run.status.value, "snapshot": True}, now)
        if settled(run.status, stop_on_pause=stop_on_pause):
            return
        while not await request.is_disconnected():
            event = await events.next(wait_seconds=_KEEPALIVE_SECONDS)
            if event is not None and event.type == STREAM_PARTS:
                continue  # a wake-up for Agent-Protocol stream readers, not a run event
            if event is not None and (content_visible or event.type == "run.status"):
                data = event.data if content_visible else _status_only(event.data)
                seq += 1
                yield _message(seq, event.type, event.run_id, data, event.at)
            if event is not None:
                status = event.data.get("status") if event.type == "run.status" else None
                if status and settled(status, stop_on_pause=stop_on_pause):
                    return
            if event is None or event.type == "stream.lagged":
                # Quiet (sse-starlette sends the pings) or events dropped for a slow reader:
                # a run that settled meanwhile still ends the stream.
                async with engine.resources.database.session() as session:
                    current = await get_run(session, tenant_id, run_id)
                if settled(current.status, stop_on_pause=stop_on_pause):
                    seq += 1
                    now = datetime.now(UTC).isoformat(timespec="milliseconds")
                    yield _message(
                        seq, "run.status", run_id, {"status": current.status.value, "snapshot": True}, now
                    )
                    return
