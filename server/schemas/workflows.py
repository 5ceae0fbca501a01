"""Bodies for workflows, runs and HITL tasks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.common import ApiModel, UtcDatetime

__all__ = [
    "GraphOut",
    "HitlDecisionIn",
    "HitlTaskOut",
    "RunCreate",
    "RunOut",
    "ValidateIn",
    "ValidationOut",
    "VersionOut",
    "WorkflowCreate",
    "WorkflowOut",
    "WorkflowUpdate",
]


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    definition_graph: dict[str, Any] = Field(description="The workflow definition JSON (nodes, edges, state)")


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    definition_graph: dict[str, Any] | None = None


class WorkflowOut(ApiModel):
    id: str
    name: str
    description: str | None
    status: str
    version: int = Field(description="The draft's edit counter")
    published_version: int | None = Field(description="The newest published version, if any")
    definition_graph: dict[str, Any]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class VersionOut(ApiModel):
    id: str
    workflow_id: str
    version: int
    graph_hash: str
    definition_graph: dict[str, Any]
    published_by_id: str | None
    published_at: UtcDatetime


class ValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_graph: dict[str, Any]


class ValidationOut(BaseModel):
    valid: bool
    graph_hash: str
    nodes: list[dict[str, str]]


class GraphOut(BaseModel):
    workflow_id: str
    version: int | None = Field(description="Published version rendered; null for the draft")
    format: Literal["mermaid"] = "mermaid"
    mermaid: str


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field(min_length=1, max_length=100)
    input: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="Published version to pin (default: newest)")
    thread_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Continue this thread from its latest checkpoint (default: a new thread)",
    )
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = Field(
        default="reject", description="What to do when the thread already has a run pending or running"
    )


class RunOut(ApiModel):
    id: str
    workflow_id: str | None
    thread_id: str | None = None
    graph_id: str = ""
    assistant_id: str | None = None
    workflow_version: int
    graph_hash: str
    status: str
    input: Any | None
    payload: Any | None = Field(description="The state values when the run last settled")
    state: Any | None = Field(description="Where the run is: next nodes, open interrupts, checkpoint id")
    error: Any | None
    started_by_id: str | None
    attempts: int
    cancel_requested: bool
    started_at: UtcDatetime | None
    completed_at: UtcDatetime | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    current_state: dict[str, Any] | None = Field(
        default=None, description="Live view of the latest checkpoint (GET /v1/runs/{id} only)"
    )
    pending_tasks: list[str] | None = Field(default=None, description="Open HITL task ids (GET only)")
    content_visible: bool = Field(
        description=(
            "Whether the caller may read the run's content (administrators, the starter and its "
            "reviewers); when false, input, payload, state and current_state are null and error "
            "keeps only its kind"
        ),
    )


class HitlDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "edit"]
    corrected_output: Any = Field(
        default=None, description="Required for 'edit': replaces the reviewed value"
    )
    reason: str | None = Field(default=None, max_length=4000, description="Required for 'reject'")


class HitlTaskOut(ApiModel):
    id: str
    workflow_run_id: str
    node_id: str
    status: str
    content_visible: bool = True
    task_data: Any
    original_agent_output: Any | None
    human_corrected_output: Any | None
    rejection_reason: str | None
    assigned_to_id: str
    assigned_role: str | None
    due_at: UtcDatetime | None
    decided_by_id: str | None
    workflow_version: int
    created_at: UtcDatetime
    resolved_at: UtcDatetime | None
