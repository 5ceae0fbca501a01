"""Run events across processes: the run's outbox, ``NOTIFY`` for the rare ones, coalesced wake-ups.

Every run event is a row of the run's outbox (``eawe.db.repositories.run_outbox``) written in the
transaction that made it true, so a reader that connects late or reconnects replays it by seq.
Readers learn that there is something new to read in one of two ways:

* :func:`publish_event` — status changes, decisions, cancellations (a few per run): the outbox row
  plus a ``NOTIFY`` in the same transaction, carrying the event.
* :meth:`RunEventHub.poke` — after a step commits (many per second): no ``NOTIFY`` in the step's
  transaction (PostgreSQL serialises commits that notified on one database-wide lock). In-process
  readers are woken at once; other processes get one ``NOTIFY`` per process every
  ``POKE_SECONDS`` naming every run that moved meanwhile.

:class:`RunEventHub` holds one listening connection per process and fans events out to in-process
subscribers (the SSE routes) and wakes the worker when a run is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.repositories.run_outbox import append_outbox, reserve_event_seqs

__all__ = [
    "EVENTS_CHANNEL",
    "POKE_SECONDS",
    "QUEUE_CHANNEL",
    "RUN_WAKEUP",
    "WAKE_CHANNEL",
    "RunEvent",
    "RunEventHub",
    "RunEventStream",
    "enqueue_run",
    "event_notice",
    "notify_event",
    "publish_event",
]

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "eawe_run_events"
QUEUE_CHANNEL = "eawe_run_queue"
WAKE_CHANNEL = "eawe_run_wakeups"
RUN_WAKEUP = "stream.parts"
"""The event type a reader receives when the run's outbox has new rows (read them from there)."""
POKE_SECONDS = 0.05
"""How long a process gathers step wake-ups before it sends them to other processes in one NOTIFY."""
_MAX_PAYLOAD = 7000  # NOTIFY payloads must stay under 8000 bytes
_POKES_PER_NOTIFY = 60  # (tenant id, run id) pairs per wake-up NOTIFY, well under the limit


@dataclass(frozen=True)
class RunEvent:
    """One thing that happened to a run.

    ``type`` is one of ``run.status`` (data: status, error), ``node.finished`` (data: node_id,
    node_type, keys), ``task.created`` / ``task.decided`` (data: task_id, node_id, status),
    ``run.cancel_requested`` and, for a subscriber that fell behind, ``stream.lagged``.
    """

    tenant_id: str
    run_id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encode(event: RunEvent) -> str:
    payload = json.dumps(event.as_dict(), default=str, separators=(",", ":"))
    if len(payload.encode()) > _MAX_PAYLOAD:
        small = RunEvent(
            event.tenant_id, event.run_id, event.type, {"truncated": True, "keys": sorted(event.data)}
        )
        payload = json.dumps(small.as_dict(), default=str, separators=(",", ":"))
    return payload


def event_notice(event: RunEvent) -> tuple[str, str]:
    """The (channel, payload) of the notification delivering ``event`` to live subscribers."""
    return EVENTS_CHANNEL, _encode(event)


async def notify_event(session: AsyncSession, event: RunEvent) -> None:
    """Deliver ``event`` to live subscribers when the session's transaction commits (not stored)."""
    channel, payload = event_notice(event)
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


async def publish_event(session: AsyncSession, event: RunEvent) -> None:
    """Store ``event`` in its run's outbox and deliver it live, when the transaction commits.

    For events outside a worker's steps (decisions, cancellations, timers); the worker's own
    events go with its steps (``checkpoints.step_journal``).
    """
    first = await reserve_event_seqs(session, event.run_id, 1)
    if first is not None:
        await append_outbox(
            session,
            event.tenant_id,
            event.run_id,
            first,
            [(event.type, {"data": event.data, "at": event.at})],
        )
    await notify_event(session, event)


async def enqueue_run(session: AsyncSession, run_id: str) -> None:
    """Wake workers for ``run_id`` when the session's transaction commits."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": QUEUE_CHANNEL, "payload": run_id}
    )


class RunEventStream:
    """An async iterator of one subscriber's events (bounded; a slow reader gets ``stream.lagged``)."""

    def __init__(self, tenant_id: str, run_id: str | None, max_queue: int) -> None:
        self.tenant_id = tenant_id
        self.run_id = run_id
        self._queue: asyncio.Queue[RunEvent] = asyncio.Queue(maxsize=max_queue)

    def matches(self, event: RunEvent) -> bool:
        return event.tenant_id == self.tenant_id and (self.run_id is None or event.run_id == self.run_id)

    def put(self, event: RunEvent) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            event = RunEvent(event.tenant_id, event.run_id, "stream.lagged", {"dropped": 1})
        self._queue.put_nowait(event)

    def __aiter__(self) -> RunEventStream:
        return self

    async def __anext__(self) -> RunEvent:
        return await self._queue.get()

    async def next(self, wait_seconds: float | None = None) -> RunEvent | None:
        """The next event, or None after ``wait_seconds`` (for SSE keep-alives)."""
        try:
            return await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return None


class RunEventHub:
    """One ``LISTEN`` connection per process, fanned out to subscribers and queue watchers."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._streams: set[RunEventStream] = set()
        self._queue_watchers: set[Callable[[str], None]] = set()
        self._cancel_watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._id = uuid.uuid4().hex
        self._poked: set[tuple[str, str]] = set()
        self._poker: asyncio.Task[None] | None = None
        self._sender: psycopg.AsyncConnection[Any] | None = None

    async def start(self) -> None:
        """Connect and start listening (returns once LISTEN is active)."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="eawe-run-events")
            await asyncio.wait_for(self._ready.wait(), timeout=30)

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._poker, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._poker = None
        if self._sender is not None:
            with contextlib.suppress(Exception):
                await self._sender.close()
            self._sender = None

    def poke(self, tenant_id: str, run_id: str) -> None:
        """The run's outbox has new rows: wake its readers here now, elsewhere within ``POKE_SECONDS``."""
        self._deliver(RunEvent(tenant_id, run_id, RUN_WAKEUP))
        if self._stopping:
            return
        self._poked.add((tenant_id, run_id))
        if self._poker is None or self._poker.done():
            self._poker = asyncio.create_task(self._send_pokes(), name="eawe-run-wakeups")

    async def _send_pokes(self) -> None:
        await asyncio.sleep(POKE_SECONDS)
        runs, self._poked = sorted(self._poked), set()
        try:
            if self._sender is None or self._sender.closed:
                self._sender = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            for start in range(0, len(runs), _POKES_PER_NOTIFY):
                payload = json.dumps({"from": self._id, "runs": runs[start : start + _POKES_PER_NOTIFY]})
                await self._sender.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # other processes' readers fall back to their keep-alive re-read
            logger.warning("sending run wake-ups failed (%s)", type(exc).__name__)
            if self._sender is not None:
                with contextlib.suppress(Exception):
                    await self._sender.close()
                self._sender = None

    async def _listen(self) -> None:
        delay = 0.5
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    await conn.execute(f"LISTEN {QUEUE_CHANNEL}")
                    await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    self._ready.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        self._dispatch(notify.channel, notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or the network blinked: listen again
                logger.warning(
                    "run event listener lost its connection (%s); reconnecting", type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == QUEUE_CHANNEL:
            for watcher in list(self._queue_watchers):
                watcher(payload)
            return
        if channel == WAKE_CHANNEL:
            self._dispatch_pokes(payload)
            return
        try:
            event = RunEvent(**json.loads(payload))
        except (ValueError, TypeError):
            logger.warning("ignoring a malformed run event")
            return
        self._deliver(event)

    def _dispatch_pokes(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            if message.get("from") == self._id:
                return  # this process woke its own readers already
            runs = [(str(tenant), str(run)) for tenant, run in message["runs"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            logger.warning("ignoring a malformed run wake-up")
            return
        for tenant_id, run_id in runs:
            self._deliver(RunEvent(tenant_id, run_id, RUN_WAKEUP))

    def _deliver(self, event: RunEvent) -> None:
        if event.type == "run.cancel_requested":
            for flag in self._cancel_watchers.get(event.run_id, ()):
                flag.set()
        for stream in list(self._streams):
            if stream.matches(event):
                stream.put(event)

    @asynccontextmanager
    async def subscribe(
        self, tenant_id: str, run_id: str | None = None, *, max_queue: int = 1000
    ) -> AsyncIterator[RunEventStream]:
        """Events of one tenant (optionally one run) while the context is open.

        Example::

            async with hub.subscribe(tenant_id, run_id) as events:
                async for event in events:
                    ...
        """
        stream = RunEventStream(tenant_id, run_id, max_queue)
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    def watch_queue(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(run_id)`` when a run is queued; returns an unsubscribe function."""
        self._queue_watchers.add(callback)
        return lambda: self._queue_watchers.discard(callback)

    @contextlib.contextmanager
    def watch_cancel(self, run_id: str) -> Any:
        """An ``asyncio.Event`` set when cancellation of ``run_id`` is requested (any process)."""
        flag = asyncio.Event()
        self._cancel_watchers.setdefault(run_id, set()).add(flag)
        try:
            yield flag
        finally:
            watchers = self._cancel_watchers.get(run_id, set())
            watchers.discard(flag)
            if not watchers:
                self._cancel_watchers.pop(run_id, None)
