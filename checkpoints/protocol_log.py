"""A run's events in the Agent Protocol's thread-centric form (``langgraph-sdk`` ``threads.stream``).

A run started through ``/threads/{id}/commands`` (run kwargs ``protocol``) is executed with
LangGraph's own protocol event stream (``astream_events(version="v3")``): its events (values,
updates, messages as content-block deltas, tools, custom, subgraph lifecycle) are stored in the
run's stream as ``protocol`` parts, together with the run's own lifecycle (``running``, then
``input.requested`` per interrupt and ``interrupted``, or ``completed`` / ``failed``) written in the
transaction that settles the run. Each part carries a ``seq`` that grows across the thread's runs,
so a reader follows a thread (many runs) with one cursor and a reconnect replays from it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from langgraph.pregel import Pregel
from langgraph.stream._types import StreamTransformer

from eawe.db.repositories.protocol_events import PROTOCOL_EVENT

__all__ = ["PROTOCOL_EVENT", "input_requested", "lifecycle_event", "protocol_chunks", "wire_event"]


class _WireModes(StreamTransformer):
    """Asks the graph for the modes the wire carries beyond the built-in transformers' own:
    ``updates`` (the engine follows nodes by them) and ``tools`` (tool-call lifecycles)."""

    required_stream_modes = ("updates", "tools")

    def init(self) -> dict[str, Any]:
        return {}

    def process(self, event: Any) -> bool:
        return True


def _now_ms() -> int:
    return int(time.time() * 1000)


async def protocol_chunks(
    graph: Pregel, graph_input: Any, config: Any, **kwargs: Any
) -> AsyncIterator[tuple[tuple[str, ...], str, Any]]:
    """The graph's protocol events as ``(namespace, method, data)``, the shape of ``astream``'s
    ``(namespace, mode, chunk)`` with subgraphs, so the worker follows both the same way."""
    run_stream = await graph.astream_events(  # type: ignore[misc]  # v3 returns an awaitable
        graph_input, config, version="v3", transformers=[_WireModes], **kwargs
    )
    async with run_stream:
        async for event in run_stream:
            params = event.get("params") or {}
            data = params.get("data")
            namespace = tuple(params.get("namespace") or ())
            method = str(event.get("method") or "")
            if method == "lifecycle" and isinstance(data, Mapping) and data.get("namespace"):
                namespace = tuple(data["namespace"])  # a subgraph's lifecycle belongs to its namespace
            yield namespace, method, data


def wire_event(namespace: tuple[str, ...], method: str, data: Any) -> dict[str, Any] | None:
    """The protocol event for one ``(namespace, method, data)``, or None when the wire has no
    place for it (debug frames; whole messages, which the wire carries as content blocks)."""
    if method == "messages":
        payload = data[0] if isinstance(data, list | tuple) and len(data) == 2 else data
        if not (isinstance(payload, Mapping) and isinstance(payload.get("event"), str)):
            return None
        data = payload
    elif method == "updates" and isinstance(data, Mapping) and "__interrupt__" in data:
        data = {k: v for k, v in data.items() if k != "__interrupt__"}
    elif method not in ("values", "updates", "lifecycle", "tools", "custom", "tasks", "checkpoints"):
        return None
    return {"method": method, "params": {"namespace": list(namespace), "timestamp": _now_ms(), "data": data}}


def lifecycle_event(event: str, graph_name: str, **extra: Any) -> dict[str, Any]:
    return wire_event((), "lifecycle", {"event": event, "graph_name": graph_name, **extra}) or {}


def input_requested(interrupt_id: str, value: Any, namespace: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "method": "input.requested",
        "params": {
            "namespace": list(namespace),
            "timestamp": _now_ms(),
            "data": {"interrupt_id": interrupt_id, "payload": value, "value": value},
        },
    }
