"""Reading a run's events back from its outbox: replay by seq, then follow as they commit.

The outbox (``eawe.db.repositories.run_outbox``) holds the engine's events of a run next to the
LangGraph stream parts; :data:`RUN_EVENT_TYPES` are the engine's. A reader replays what is stored
after the last seq it saw (an SSE ``Last-Event-ID``), then waits for a wake-up from
:class:`~checkpoints.events.RunEventHub` (or a keep-alive timeout) and reads again, so a client
that connects late, reconnects, or arrives after the run finished sees every event once, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from checkpoints.events import RunEventHub
from eawe.db.database import Database
from eawe.db.repositories.run_outbox import outbox_after
from eawe.db.tenant_scope import scoped_by_tenant_argument

__all__ = ["RUN_EVENT_TYPES", "StoredRunEvent", "follow_run_events", "read_run_events"]

RUN_EVENT_TYPES = frozenset(
    {
        "run.status",
        "run.cancel_requested",
        "node.finished",
        "node.usage",
        "agent.audit",
        "task.created",
        "task.decided",
        "task.escalated",
    }
)
"""The engine's event types (``data`` described in :class:`checkpoints.events.RunEvent`)."""

_PAGE = 500


@dataclass(frozen=True)
class StoredRunEvent:
    """One event of a run as stored: ``seq`` is its stable id within the run."""

    seq: int
    tenant_id: str
    run_id: str
    type: str
    data: dict[str, Any]
    at: str


@scoped_by_tenant_argument
async def read_run_events(
    database: Database, tenant_id: str, run_id: str, *, after: int = 0, limit: int = _PAGE
) -> list[StoredRunEvent]:
    """The run's events after seq ``after`` (nothing for another tenant's run)."""
    async with database.session() as session:
        rows = await outbox_after(session, tenant_id, run_id, after, events=RUN_EVENT_TYPES, limit=limit)
    return [
        StoredRunEvent(
            seq=row.seq,
            tenant_id=row.tenant_id,
            run_id=row.run_id,
            type=row.event,
            data=dict((row.data or {}).get("data") or {}),
            at=str((row.data or {}).get("at") or row.created_at.isoformat(timespec="milliseconds")),
        )
        for row in rows
    ]


async def follow_run_events(
    database: Database,
    hub: RunEventHub | None,
    tenant_id: str,
    run_id: str,
    *,
    after: int = 0,
    wait_seconds: float = 10.0,
) -> AsyncIterator[StoredRunEvent | None]:
    """The run's stored events after ``after``, then each new one as it commits; ``None`` after
    ``wait_seconds`` without one (a keep-alive: the caller may re-check the run and stop).

    Without a hub (an engine opened without events) the outbox is polled every half second.
    """
    if hub is None:
        while True:
            events = await read_run_events(database, tenant_id, run_id, after=after)
            for event in events:
                after = event.seq
                yield event
            if not events:
                await asyncio.sleep(0.5)
                yield None
    async with hub.subscribe(tenant_id, run_id) as wakeups:  # before reading: nothing is missed
        while True:
            events = await read_run_events(database, tenant_id, run_id, after=after)
            for event in events:
                after = event.seq
                yield event
            if len(events) == _PAGE:
                continue
            if await wakeups.next(wait_seconds) is None:
                yield None
