"""The feedback dataset: decided approval tasks with what the reviewer saw and what they made of it.

One page at a time, oldest decision first (keyset on decision time, then task id), always
scoped by tenant. :mod:`eawe.feedback_dataset` turns the rows into JSON lines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from eawe.db.models import HITLStatus, HITLTask, User, WorkflowDefinition, WorkflowRun

__all__ = ["CorrectionFilters", "CorrectionLabel", "CorrectionRow", "corrections_page", "workflow_id_of"]


class CorrectionLabel(enum.StrEnum):
    """A decision, as a dataset label."""

    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


LABEL_OF_STATUS = {
    HITLStatus.APPROVED: CorrectionLabel.APPROVED,
    HITLStatus.EDITED_AND_APPROVED: CorrectionLabel.EDITED,
    HITLStatus.REJECTED: CorrectionLabel.REJECTED,
}
_STATUS_OF_LABEL = {label: status for status, label in LABEL_OF_STATUS.items()}


@dataclass(frozen=True)
class CorrectionFilters:
    """Which decisions to export; ``since`` is inclusive, ``until`` exclusive (naive UTC)."""

    workflow_id: str | None = None
    workflow_slug: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    label: CorrectionLabel | None = None


@dataclass(frozen=True)
class CorrectionRow:
    task: HITLTask
    run: WorkflowRun
    workflow_slug: str | None
    workflow_name: str | None
    reviewer_email: str | None


async def corrections_page(
    session: AsyncSession,
    tenant_id: str,
    filters: CorrectionFilters,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 200,
) -> list[CorrectionRow]:
    """Up to ``limit`` decided tasks of ``tenant_id`` after the ``(resolved_at, task id)`` key ``after``.

    The run is loaded with the columns the record and the content rule need only (not its state).
    """
    statuses = [_STATUS_OF_LABEL[filters.label]] if filters.label is not None else list(LABEL_OF_STATUS)
    stmt = (
        select(HITLTask, WorkflowRun, WorkflowDefinition.slug, WorkflowDefinition.name, User.email)
        .join(WorkflowRun, WorkflowRun.id == HITLTask.workflow_run_id)
        .outerjoin(WorkflowDefinition, WorkflowDefinition.id == WorkflowRun.workflow_definition_id)
        .outerjoin(User, User.id == HITLTask.decided_by_id)
        .where(
            HITLTask.tenant_id == tenant_id,
            WorkflowRun.tenant_id == tenant_id,
            HITLTask.status.in_(statuses),
            HITLTask.resolved_at.is_not(None),
        )
        .options(
            load_only(
                WorkflowRun.id,
                WorkflowRun.tenant_id,
                WorkflowRun.started_by_id,
                WorkflowRun.workflow_definition_id,
                WorkflowRun.input,
            )
        )
    )
    if filters.workflow_id is not None:
        stmt = stmt.where(WorkflowRun.workflow_definition_id == filters.workflow_id)
    if filters.workflow_slug is not None:
        stmt = stmt.where(WorkflowDefinition.slug == filters.workflow_slug)
    if filters.since is not None:
        stmt = stmt.where(HITLTask.resolved_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(HITLTask.resolved_at < filters.until)
    if after is not None:
        stmt = stmt.where(
            tuple_(HITLTask.resolved_at, HITLTask.id) > tuple_(literal(after[0]), literal(after[1]))
        )
    stmt = stmt.order_by(HITLTask.resolved_at, HITLTask.id).limit(limit)
    return [
        CorrectionRow(task=task, run=run, workflow_slug=slug, workflow_name=name, reviewer_email=email)
        for task, run, slug, name, email in (await session.execute(stmt)).all()
    ]


async def workflow_id_of(session: AsyncSession, tenant_id: str, id_or_slug: str) -> str | None:
    """The id of the tenant's workflow with this id or slug; None if it has none."""
    return await session.scalar(
        select(WorkflowDefinition.id).where(
            WorkflowDefinition.tenant_id == tenant_id,
            or_(WorkflowDefinition.id == id_or_slug, WorkflowDefinition.slug == id_or_slug),
        )
    )
