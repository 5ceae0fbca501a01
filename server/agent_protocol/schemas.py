"""Request bodies of the Agent-Protocol routes, as langgraph-sdk sends them.

Unknown fields the SDK sends are accepted and ignored; the fields EAWE acts on are bounded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "STREAM_MODES",
    "AssistantCreate",
    "AssistantLatest",
    "AssistantPatch",
    "AssistantSearch",
    "AssistantVersions",
    "HistoryRequest",
    "RunRequest",
    "RunsCancel",
    "ThreadCreate",
    "ThreadPatch",
    "ThreadPrune",
    "ThreadSearch",
    "ThreadStateCheckpoint",
    "ThreadStateUpdate",
]

STREAM_MODES = frozenset(
    {"values", "updates", "messages", "messages-tuple", "events", "debug", "tasks", "checkpoints", "custom"}
)
_Id = Field(default=None, min_length=1, max_length=200)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Sorted(_Lenient):
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: str | None = Field(default=None, max_length=40)
    sort_order: Literal["asc", "desc"] | None = None


class AssistantCreate(_Lenient):
    graph_id: str = Field(min_length=1, max_length=200)
    assistant_id: str | None = _Id
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class AssistantPatch(_Lenient):
    graph_id: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class AssistantSearch(_Sorted):
    graph_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    select: list[str] | None = None


class AssistantVersions(_Lenient):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class AssistantLatest(_Lenient):
    version: int = Field(ge=1)


class ThreadCreate(_Lenient):
    thread_id: str | None = _Id
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    graph_id: str | None = Field(default=None, max_length=200)


class ThreadPatch(_Lenient):
    metadata: dict[str, Any] | None = None


class ThreadSearch(_Sorted):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    values: dict[str, Any] | None = None
    select: list[str] | None = None


class ThreadPrune(_Lenient):
    thread_ids: list[str] = Field(min_length=1, max_length=1000)
    strategy: Literal["delete", "keep_latest"] = "delete"


class HistoryRequest(_Lenient):
    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class ThreadStateUpdate(_Lenient):
    values: Any = None
    as_node: str | None = Field(default=None, max_length=200)
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = Field(default=None, max_length=200)


class ThreadStateCheckpoint(_Lenient):
    checkpoint: dict[str, Any]
    subgraphs: bool = False


class RunsCancel(_Lenient):
    run_ids: list[str] | None = Field(default=None, max_length=1000)
    thread_id: str | None = _Id
    status: Literal["pending", "running", "all"] | None = None


class RunRequest(_Lenient):
    """Body of ``runs.create|stream|wait``."""

    assistant_id: str | None = Field(default=None, max_length=200)
    input: Any = None
    command: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = Field(default=None, max_length=200)
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = Field(default=None, max_length=2000)
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None = None
    if_not_exists: Literal["reject", "create"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: int | None = Field(default=None, ge=0, le=86400)

    def modes(self) -> list[str]:
        """The requested stream modes (``values`` when none); unknown ones are refused earlier."""
        requested = [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)
        return requested or ["values"]

    def fork_checkpoint_id(self) -> str | None:
        return self.checkpoint_id or (self.checkpoint or {}).get("checkpoint_id")
