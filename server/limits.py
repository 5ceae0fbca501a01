"""Request limits: definition size limits (422) and a per-tenant run rate limit (429).

Body sizes are capped before anything is parsed by :mod:`server.body_limits`. The rate limit
counts the tenant's WorkflowRun rows created in the last minute, in PostgreSQL, so it holds
across every API process without an in-memory counter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import WorkflowRun, utcnow
from eawe.errors import Problem, ValidationError
from eawe.settings import Settings
from server.problems import RateLimitedError

__all__ = ["enforce_definition_limits", "enforce_run_rate_limit"]

_WINDOW = timedelta(minutes=1)


def enforce_definition_limits(definition: Any, settings: Settings, field: str = "definition_graph") -> None:
    """Refuse a definition with more nodes (or edges) than allowed, before it is validated.

    Validation and test-compilation grow with the graph; bounding the node count first bounds
    the work of every request that stores or validates a definition.

    Raises:
        ValidationError: Naming ``definition_graph.nodes`` or ``definition_graph.edges``.
    """
    if not isinstance(definition, Mapping):
        return  # the validator names the shape problem
    limit = settings.max_definition_nodes
    for key, most in (("nodes", limit), ("edges", 4 * limit)):
        items = definition.get(key)
        if isinstance(items, Sequence) and not isinstance(items, str) and len(items) > most:
            raise ValidationError(
                Problem(
                    field=f"{field}.{key}",
                    message=f"has {len(items)} {key}; the limit is {most} (max_definition_nodes)",
                )
            )


async def enforce_run_rate_limit(session: AsyncSession, tenant_id: str, per_minute: int) -> None:
    """Raise 429 when ``tenant_id`` created ``per_minute`` runs or more in the last minute."""
    if per_minute <= 0:
        return
    since = utcnow() - _WINDOW
    recent = await session.scalar(
        select(func.count()).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.created_at > since)
    )
    if int(recent or 0) >= per_minute:
        oldest = await session.scalar(
            select(func.min(WorkflowRun.created_at)).where(
                WorkflowRun.tenant_id == tenant_id, WorkflowRun.created_at > since
            )
        )
        wait = max(1, int(((oldest or utcnow()) + _WINDOW - utcnow()).total_seconds()) + 1)
        raise RateLimitedError(
            f"run creation is limited to {per_minute} per minute per tenant; retry later",
            retry_after_seconds=wait,
        )
