"""``approval``: stop for a human. Approve, reject (with a reason) or edit-and-approve.

The node calls LangGraph ``interrupt()`` first thing — nothing before it has a side effect,
because the node runs again from its first line when the run resumes. The engine turns the
interrupt into a HITLTask; the decision comes back as the resume value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field, model_validator

from agents.config_types import NodeConfig, NodeRef, StateKey, Template
from agents.context import NodeContext
from agents.registry import APPROVAL_INTERRUPT, DefiniteNodeError, RouteInfo, node_type
from agents.templates import render_template

__all__ = [
    "APPROVALS_FIELD",
    "ApprovalConfig",
    "ApprovalDecision",
    "ApprovalRejectedError",
    "OverdueEscalation",
    "approval_node",
]

APPROVALS_FIELD = "eawe_approvals"
"""Reserved state field: ``{node_id: {"decision", "reviewer_id", "task_id", "reason"}}``."""


class ApprovalRejectedError(DefiniteNodeError):
    """A reviewer rejected and the node has no ``on_reject`` route: the run fails."""

    def __init__(self, node_id: str, reason: str) -> None:
        self.node_id = node_id
        self.reason = reason
        super().__init__(f"approval {node_id!r} rejected: {reason}")


class OverdueEscalation(NodeConfig):
    """What happens when the task is still pending at its due time (``due_in_minutes``)."""

    action: Literal["reassign", "fail"] = Field(
        description="`reassign`: to `to_role` and/or `to_user`; `fail`: the run fails"
    )
    to_role: Literal["ADMINISTRATOR", "DESIGNER", "OPERATOR"] | None = None
    to_user: str | None = Field(default=None, description="Email or id of the new reviewer")

    @model_validator(mode="after")
    def _target(self) -> OverdueEscalation:
        if self.action == "reassign" and self.to_role is None and not self.to_user:
            raise ValueError("reassign needs to_role, to_user, or both")
        return self


class ApprovalConfig(NodeConfig):
    """Config of an ``approval`` node; name a role, a user (email or id), or both."""

    review: StateKey = Field(description="The state field under review; an edit replaces it")
    assignee_role: Literal["ADMINISTRATOR", "DESIGNER", "OPERATOR"] | None = None
    assignee_user: str | None = Field(default=None, description="Email or id of the reviewer")
    instructions: Template | None = None
    show: list[StateKey] = Field(default_factory=list, description="More fields shown to the reviewer")
    due_in_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)
    on_reject: NodeRef | None = Field(
        default=None, description="Where a rejection goes; unset: the run fails"
    )
    allow_edit: bool = True
    on_overdue: OverdueEscalation | None = Field(
        default=None, description="Escalation when the task is overdue (needs due_in_minutes)"
    )

    @model_validator(mode="after")
    def _assignee(self) -> ApprovalConfig:
        if self.assignee_role is None and not self.assignee_user:
            raise ValueError("name an assignee_role, an assignee_user, or both")
        if self.on_overdue is not None and self.due_in_minutes is None:
            raise ValueError("on_overdue needs due_in_minutes")
        return self


class ApprovalDecision(BaseModel):
    """The resume value of an approval interrupt."""

    decision: Literal["approve", "reject", "edit"]
    corrected_output: Any = None
    reason: str | None = None
    reviewer_id: str | None = None
    task_id: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ApprovalDecision:
        if self.decision == "reject" and not (self.reason or "").strip():
            raise ValueError("a rejection needs a reason")
        if self.decision == "edit" and self.corrected_output is None:
            raise ValueError("an edit needs corrected_output")
        return self


def approval_request(state: Mapping[str, Any], config: ApprovalConfig, node_id: str) -> dict[str, Any]:
    """The interrupt payload: everything the engine needs to create the HITLTask."""
    return {
        "kind": APPROVAL_INTERRUPT,
        "node_id": node_id,
        "review_field": config.review,
        "original_output": state.get(config.review),
        "task_data": {
            "instructions": render_template(config.instructions, state) if config.instructions else None,
            "review_field": config.review,
            "value": state.get(config.review),
            "fields": {name: state.get(name) for name in config.show},
            "allow_edit": config.allow_edit,
            "on_overdue": config.on_overdue.model_dump() if config.on_overdue else None,
        },
        "assignee_role": config.assignee_role,
        "assignee_user": config.assignee_user,
        "due_in_minutes": config.due_in_minutes,
        "allow_edit": config.allow_edit,
    }


def after_approval(state: Mapping[str, Any], config: ApprovalConfig, info: RouteInfo) -> Any:
    record = (state.get(APPROVALS_FIELD) or {}).get(info.node_id) or {}
    if record.get("decision") == "reject" and config.on_reject:
        return config.on_reject
    return list(info.static_targets) or "END"


@node_type(
    "approval",
    config=ApprovalConfig,
    description="Pause for a human decision",
    route=after_approval,
    title="Approval",
    category="Human",
    interrupts=(APPROVAL_INTERRUPT,),
    reserved_state=(APPROVALS_FIELD,),
)
async def approval_node(state: Mapping[str, Any], config: ApprovalConfig, ctx: NodeContext) -> dict[str, Any]:
    """Pause for a human decision."""
    raw = interrupt(approval_request(state, config, ctx.node_id))
    decision = ApprovalDecision.model_validate(raw)
    record = {
        "decision": decision.decision,
        "reviewer_id": decision.reviewer_id,
        "task_id": decision.task_id,
        "reason": decision.reason,
    }
    update: dict[str, Any] = {APPROVALS_FIELD: {ctx.node_id: record}}
    if decision.decision == "edit":
        if not config.allow_edit:
            raise ValueError(f"approval {ctx.node_id!r} does not allow edits")
        update[config.review] = decision.corrected_output
    elif decision.decision == "reject" and config.on_reject is None:
        raise ApprovalRejectedError(ctx.node_id, decision.reason or "")
    return update
