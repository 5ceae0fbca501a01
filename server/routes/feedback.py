"""``GET /v1/feedback/corrections``: the feedback dataset, one JSON line per approval decision.

Who may read it: ADMINISTRATOR and OPERATOR (the ``hitl:read`` permission, as for the approval
tasks it is made of). An administrator gets every decision of the tenant; an operator those of
runs whose content they may read (runs they started or review: :mod:`server.auth.run_visibility`,
the rule the task routes apply). A DESIGNER may not: the records carry run content and reviewer
identities, which designers are not shown anywhere else (they cannot read approval tasks).

The body is JSON Lines (``application/jsonl``, FastAPI's streaming of a generator endpoint, each
line documented as :class:`CorrectionRecord`), sent while it is read a page at a time
(:mod:`eawe.feedback_dataset`, the same path as ``eawe hitl export``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import WorkflowRun
from eawe.db.repositories.feedback import CorrectionFilters, CorrectionLabel
from eawe.errors import Problem, ValidationError
from eawe.feedback_dataset import iter_corrections
from server.auth.run_visibility import runs_with_readable_content
from server.deps import Requires, ResourcesDep

__all__ = ["CorrectionRecord", "router"]

router = APIRouter(prefix="/feedback", tags=["feedback"])


class CorrectionContext(BaseModel):
    review_field: str | None = Field(description="The state field under review")
    instructions: str | None = Field(description="The approval node's instructions, as rendered")
    fields: dict[str, Any] = Field(description="The other state fields shown to the reviewer")


class CorrectionRecord(BaseModel):
    """One line of the dataset: one approval decision."""

    input: Any = Field(description="The run's input")
    output: Any = Field(description="The output the reviewer saw")
    corrected_output: Any = Field(
        description="approved: the output as it was; edited: the reviewer's correction; rejected: null"
    )
    label: CorrectionLabel
    reason: str | None = Field(description="The reviewer's reason (always given for a rejection)")
    context: CorrectionContext
    reviewer_id: str | None
    reviewer_email: str | None
    task_id: str
    run_id: str
    node_id: str
    workflow_id: str | None
    workflow_slug: str | None
    workflow_name: str | None
    workflow_version: int
    created_at: str = Field(description="When the task was created (ISO 8601, UTC)")
    decided_at: str = Field(description="When it was decided (ISO 8601, UTC)")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _filters(
    workflow_id: Annotated[
        str | None, Query(max_length=100, description="Decisions of this workflow")
    ] = None,
    workflow_slug: Annotated[
        str | None, Query(max_length=200, description="Decisions of the workflow with this slug")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Decided at or after (ISO 8601; without a time zone: UTC)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Decided before (ISO 8601; without a time zone: UTC)")
    ] = None,
    label: Annotated[CorrectionLabel | None, Query(description="Only this kind of decision")] = None,
) -> CorrectionFilters:
    """The query as filters, checked before the stream starts (a 422 cannot follow a 200)."""
    start = _naive_utc(since) if since is not None else None
    end = _naive_utc(until) if until is not None else None
    if start is not None and end is not None and start >= end:
        raise ValidationError(Problem("since", "must be before until"))
    return CorrectionFilters(
        workflow_id=workflow_id, workflow_slug=workflow_slug, since=start, until=end, label=label
    )


@router.get(
    "/corrections",
    summary="The feedback dataset: one JSON line per approval decision, oldest first",
    response_description="JSON Lines (`application/jsonl`), each a `CorrectionRecord`",
)
async def corrections(
    principal: Requires.HITL_READ,
    resources: ResourcesDep,
    filters: Annotated[CorrectionFilters, Depends(_filters)],
    response: Response,
) -> AsyncIterator[CorrectionRecord]:
    response.headers["Content-Disposition"] = 'attachment; filename="corrections.jsonl"'

    async def readable(session: AsyncSession, runs: list[WorkflowRun]) -> set[str]:
        return await runs_with_readable_content(session, principal, runs)

    async for record in iter_corrections(resources.database, principal.tenant_id, filters, readable=readable):
        yield CorrectionRecord.model_validate(record)
