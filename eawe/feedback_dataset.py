"""The feedback dataset as JSON lines: one record per approval decision, for evaluation or fine-tuning.

The one path behind ``GET /v1/feedback/corrections`` and ``eawe hitl export``. Records are
read a page at a time (one short session per page), so a large dataset is never held in memory
and no database connection stays open while a slow client reads. Each line is one JSON object::

    {"input": <the run's input>, "output": <what the reviewer saw>,
     "corrected_output": <approved: the output; edited: the correction; rejected: null>,
     "label": "approved" | "edited" | "rejected", "reason": <the reviewer's reason or null>,
     "context": {"review_field", "instructions", "fields"},
     "reviewer_id", "reviewer_email", "task_id", "run_id", "node_id",
     "workflow_id", "workflow_slug", "workflow_name", "workflow_version",
     "created_at", "decided_at"}        (times: ISO 8601 UTC, e.g. 2026-01-31T09:30:00.000Z)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.database import Database
from eawe.db.models import WorkflowRun
from eawe.db.repositories.feedback import (
    LABEL_OF_STATUS,
    CorrectionFilters,
    CorrectionLabel,
    CorrectionRow,
    corrections_page,
)

__all__ = ["ReadableRuns", "correction_lines", "correction_record", "iter_corrections"]

ReadableRuns = Callable[[AsyncSession, list[WorkflowRun]], Awaitable[set[str]]]
"""Given a page's runs, the ids of those whose content the reader may see (the others are left out)."""


def _utc(moment: datetime | None) -> str | None:
    """A naive-UTC database time as the API writes times: ISO 8601, milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment is not None else None


def correction_record(row: CorrectionRow) -> dict[str, Any]:
    """One dataset record (see the module docstring for the shape)."""
    task = row.task
    label = LABEL_OF_STATUS[task.status]
    data = task.task_data if isinstance(task.task_data, dict) else {}
    corrected: Any
    if label == CorrectionLabel.APPROVED:
        corrected = task.original_agent_output
    elif label == CorrectionLabel.EDITED:
        corrected = task.human_corrected_output
    else:
        corrected = None
    return {
        "input": row.run.input,
        "output": task.original_agent_output,
        "corrected_output": corrected,
        "label": label.value,
        "reason": task.rejection_reason,
        "context": {
            "review_field": data.get("review_field"),
            "instructions": data.get("instructions"),
            "fields": data.get("fields") or {},
        },
        "reviewer_id": task.decided_by_id,
        "reviewer_email": row.reviewer_email,
        "task_id": task.id,
        "run_id": task.workflow_run_id,
        "node_id": task.node_id,
        "workflow_id": row.run.workflow_definition_id,
        "workflow_slug": row.workflow_slug,
        "workflow_name": row.workflow_name,
        "workflow_version": task.workflow_version,
        "created_at": _utc(task.created_at),
        "decided_at": _utc(task.resolved_at),
    }


async def iter_corrections(
    database: Database,
    tenant_id: str,
    filters: CorrectionFilters | None = None,
    *,
    readable: ReadableRuns | None = None,
    page_size: int = 200,
) -> AsyncIterator[dict[str, Any]]:
    """The tenant's decisions as records, oldest first, ``page_size`` rows per query.

    Args:
        readable: Keeps only the records of runs whose content the reader may see; None keeps all
            (an administrator, or the command line, which has the database itself).
    """
    filters = filters or CorrectionFilters()
    after: tuple[datetime, str] | None = None
    while True:
        async with database.session() as session:
            rows = await corrections_page(session, tenant_id, filters, after=after, limit=page_size)
            visible = (
                await readable(session, [row.run for row in rows]) if readable is not None and rows else None
            )
        for row in rows:
            if visible is None or row.run.id in visible:
                yield correction_record(row)
        if len(rows) < page_size:
            return
        last = rows[-1].task
        assert last.resolved_at is not None  # the page holds decided tasks only
        after = (last.resolved_at, last.id)


async def correction_lines(
    database: Database,
    tenant_id: str,
    filters: CorrectionFilters | None = None,
    *,
    readable: ReadableRuns | None = None,
    page_size: int = 200,
) -> AsyncIterator[str]:
    """:func:`iter_corrections` as JSON lines (each ends with a newline)."""
    async for record in iter_corrections(
        database, tenant_id, filters, readable=readable, page_size=page_size
    ):
        yield json.dumps(record, ensure_ascii=False, default=str) + "\n"
