"""Request bodies of the Agent-Protocol routes. Unknown fields the SDK sends are accepted and ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SUPPORTED_STREAM_MODES",
    "AssistantSearch",
    "HistoryRequest",
    "RunRequest",
    "ThreadCreate",
    "ThreadSearch",
]

SUPPORTED_STREAM_MODES = frozenset({"values", "updates", "events"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AssistantSearch(_Lenient):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class ThreadCreate(_Lenient):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None


class ThreadSearch(_Lenient):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class HistoryRequest(_Lenient):
    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None


class RunRequest(_Lenient):
    """Body of ``runs.create|stream|wait``: ``input`` starts the workflow, ``command.resume`` decides."""

    assistant_id: str | None = Field(default=None, max_length=200)
    input: dict[str, Any] | None = None
    command: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    if_not_exists: Literal["reject", "create"] | None = None

    def modes(self) -> set[str]:
        """The requested stream modes EAWE produces (others are ignored)."""
        requested = [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)
        return {m for m in requested if m in SUPPORTED_STREAM_MODES} or {"values"}
