"""The stored stream of a run: LangGraph stream parts as SSE events, in order, in PostgreSQL.

The worker executing a run may be another process than the one a client streams from, and a
client may join late or reconnect, so the parts a client asked for (``stream_mode``) are written
to ``RunStreamEvent`` with a per-run sequence (the SSE event id) and read back from there. Parts
are buffered and written in batches — with the step's own bookkeeping when a node finishes, or
after a short delay for token streams — each batch waking readers with one notification.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import BaseMessageChunk
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import RunEvent, notify_event
from checkpoints.protocol_log import PROTOCOL_EVENT, input_requested, lifecycle_event, wire_event
from eawe.db.repositories.protocol_events import last_protocol_seq
from eawe.db.repositories.run_outbox import append_outbox, reserve_event_seqs
from eawe.jsonable import jsonable

__all__ = ["LANGGRAPH_MODES", "STREAM_PARTS", "StreamRecorder", "graph_stream_modes", "part_wanted"]

STREAM_PARTS = "stream.parts"
"""The event that wakes stream readers when parts were written outside a step's bookkeeping."""

# What the Agent Protocol's stream modes need from LangGraph's ``astream``.
LANGGRAPH_MODES = {
    "values": "values",
    "updates": "updates",
    "messages": "messages",
    "messages-tuple": "messages",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
    "events": "updates",
}
_FLUSH_SECONDS = 0.05


_ALWAYS = frozenset({"metadata", "error", "end"})


def part_wanted(event: str, modes: set[str]) -> bool:
    """Whether a stored part (its SSE event name, e.g. ``updates|sub:1``) belongs to ``modes``."""
    base = event.split("|", 1)[0]
    if base in _ALWAYS:
        return True
    if base.startswith("messages/"):
        return "messages" in modes
    if base == "messages":
        return "messages-tuple" in modes
    return base in modes


def graph_stream_modes(requested: list[str]) -> list[str]:
    """LangGraph modes for the requested ones; ``updates`` always (the engine follows nodes by it)."""
    modes = {"updates"} | {LANGGRAPH_MODES[m] for m in requested if m in LANGGRAPH_MODES}
    return sorted(modes)


class StreamRecorder:
    """Turns ``astream(..., subgraphs=True)`` chunks into the requested SSE parts and stores them."""

    def __init__(
        self,
        tenant_id: str,
        run_id: str,
        requested: list[str],
        *,
        protocol_thread: str | None = None,
        graph_name: str = "",
    ) -> None:
        self.tenant_id = tenant_id
        self.run_id = run_id
        # Set for a run started through the thread-centric protocol: its parts are protocol events
        # (``checkpoints.protocol_log``) numbered across this thread's runs.
        self.protocol_thread = protocol_thread
        self.graph_name = graph_name
        self._next_thread_seq: int | None = None
        self._interrupts: dict[str, tuple[tuple[str, ...], Any]] = {}
        self._urgent = False
        # values and updates are always stored, so a client joining later can ask for them too.
        self.requested = set(requested) | {"values", "updates"}
        self._buffer: list[tuple[str, Any]] = []
        self._since = 0.0
        self._messages: dict[str, Any] = {}

    def _add(self, event: str, data: Any) -> None:
        if not self._buffer:
            self._since = time.monotonic()
        self._buffer.append((event, jsonable(data)))

    def add(self, event: str, data: Any) -> None:
        """Queue a part the engine itself emits (``metadata``, ``error``, ``end``)."""
        self._add(event, data)

    def add_chunk(self, namespace: tuple[str, ...], mode: str, data: Any) -> None:
        """Queue the parts one LangGraph chunk gives (nothing for modes nobody asked for)."""
        if self.protocol_thread is not None:
            self._add_protocol(namespace, mode, data)
            return
        suffix = "|" + "|".join(namespace) if namespace else ""
        if mode == "messages":
            self._add_message(suffix, data)
            return
        if mode == "updates" and "events" in self.requested and isinstance(data, dict):
            for node, update in data.items():
                if node == "__interrupt__":
                    continue
                self._add(
                    "events" + suffix,
                    {
                        "event": "on_chain_end",
                        "name": node,
                        "run_id": self.run_id,
                        "data": {"output": update},
                        "metadata": {"langgraph_node": node},
                        "tags": [],
                        "parent_ids": [],
                    },
                )
        if mode in self.requested:
            self._add(mode + suffix, data)

    def _add_message(self, suffix: str, data: Any) -> None:
        message, metadata = data if isinstance(data, tuple) and len(data) == 2 else (data, {})
        if "messages-tuple" in self.requested:
            self._add("messages" + suffix, [message, metadata])
        if "messages" not in self.requested:
            return
        key = str(getattr(message, "id", None) or id(message))
        if key not in self._messages:
            self._add("messages/metadata", {key: {"metadata": metadata}})
        if isinstance(message, BaseMessageChunk):
            previous = self._messages.get(key)
            merged = message if previous is None else previous + message
            self._messages[key] = merged
            self._add("messages/partial" + suffix, [merged])
        else:
            self._messages[key] = message
            self._add("messages/complete" + suffix, [message])

    def _add_protocol(self, namespace: tuple[str, ...], method: str, data: Any) -> None:
        if method == "updates" and isinstance(data, dict):
            for interrupt in data.get("__interrupt__") or ():
                interrupt_id = getattr(interrupt, "id", None)
                if isinstance(interrupt_id, str):
                    self._interrupts[interrupt_id] = (namespace, getattr(interrupt, "value", None))
                    # what led up to the interrupt is stored before the run settles on it, so a
                    # reader sees it ahead of ``input.requested``
                    self._urgent = True
        event = wire_event(namespace, method, data)
        if event is not None:
            self._add(PROTOCOL_EVENT, event)

    def protocol_started(self) -> None:
        """The run's ``running`` lifecycle event (a protocol run only)."""
        if self.protocol_thread is not None:
            self._interrupts.clear()
            self._add(PROTOCOL_EVENT, lifecycle_event("running", self.graph_name))

    def protocol_settled(self, outcome: str, error: str | None = None) -> None:
        """The run's closing lifecycle events (a protocol run only): ``interrupted`` (after one
        ``input.requested`` per open interrupt), ``completed`` or ``failed``."""
        if self.protocol_thread is None:
            return
        if outcome == "interrupted":
            for interrupt_id, (namespace, value) in self._interrupts.items():
                self._add(PROTOCOL_EVENT, input_requested(interrupt_id, value, namespace))
            self._add(PROTOCOL_EVENT, lifecycle_event("interrupted", self.graph_name))
        elif outcome == "failed":
            self._add(PROTOCOL_EVENT, lifecycle_event("failed", self.graph_name, error=error or "run failed"))
        else:
            self._add(PROTOCOL_EVENT, lifecycle_event("completed", self.graph_name))

    @property
    def needs_session(self) -> bool:
        """:meth:`take` must be given a session: the buffer holds the execution's first protocol
        parts, numbered after the thread's last stored one."""
        return (
            self.protocol_thread is not None
            and self._next_thread_seq is None
            and any(e == PROTOCOL_EVENT for e, _ in self._buffer)
        )

    async def _number_protocol_parts(
        self, session: AsyncSession | None, parts: list[tuple[str, Any]]
    ) -> None:
        """Give each protocol part its thread-wide ``seq`` (and ``event_id``)."""
        if self.protocol_thread is None or not any(e == PROTOCOL_EVENT for e, _ in parts):
            return
        if self._next_thread_seq is None:
            if session is None:
                raise RuntimeError("the first protocol parts of an execution need a session")
            self._next_thread_seq = await last_protocol_seq(session, self.protocol_thread) + 1
        for event, data in parts:
            if event == PROTOCOL_EVENT:
                data["type"] = "event"
                data["seq"] = self._next_thread_seq
                data["event_id"] = f"{self.run_id}:{self._next_thread_seq}"
                self._next_thread_seq += 1

    @property
    def due(self) -> bool:
        """Buffered parts have waited long enough to be written on their own."""
        return bool(self._buffer) and (self._urgent or time.monotonic() - self._since >= _FLUSH_SECONDS)

    async def take(self, session: AsyncSession | None) -> list[tuple[str, Any]]:
        """Empty the buffer: the parts to store, in order (protocol parts numbered; a session is
        needed only when :attr:`needs_session`)."""
        if not self._buffer:
            return []
        parts, self._buffer, self._urgent = self._buffer, [], False
        await self._number_protocol_parts(session, parts)
        return parts

    async def reserve(self, session: AsyncSession, count: int) -> int:
        """Take ``count`` outbox seqs of the run (its row stays locked until commit)."""
        if count == 0:
            return 0
        first = await reserve_event_seqs(session, self.run_id, count)
        if first is None:
            raise LookupError(f"run {self.run_id} does not exist")
        return first

    async def flush(self, session: AsyncSession, *, notify: bool = True) -> None:
        """Write the buffered parts in the caller's transaction; with ``notify``, wake the run's
        readers (not needed when the transaction publishes another event of the run)."""
        parts = await self.take(session)
        if not parts:
            return
        first = await self.reserve(session, len(parts))
        await append_outbox(session, self.tenant_id, self.run_id, first, parts)
        if notify:
            await notify_event(
                session, RunEvent(self.tenant_id, self.run_id, STREAM_PARTS, {"seq": first + len(parts) - 1})
            )
