"""Request limits: definition size limits (422) and a per-tenant run rate limit (429).

Body sizes are capped before anything is parsed by :mod:`server.body_limits`. The rate limit
is a sliding one-minute window of run admissions in PostgreSQL
(:mod:`eawe.db.repositories.run_admissions`), exact under concurrency and across API processes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.repositories.run_admissions import admit_run
from eawe.db.tenant_scope import ScopedSession
from eawe.errors import Problem, ValidationError
from eawe.settings import Settings
from server.problems import RateLimitedError

__all__ = ["enforce_definition_limits", "enforce_run_rate_limit"]


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
    """Admit one run for ``tenant_id`` or raise 429 (``per_minute`` runs a minute per tenant, exact).

    The admission is recorded in its own transaction (``session`` is only used for its
    connection's engine), so it holds whatever the caller does next.
    """
    if per_minute <= 0:
        return
    async with (
        AsyncSession(session.bind, expire_on_commit=False, sync_session_class=ScopedSession) as own,
        own.begin(),
    ):
        wait = await admit_run(own, tenant_id, per_minute)
    if wait is not None:
        raise RateLimitedError(
            f"run creation is limited to {per_minute} per minute per tenant; retry later",
            retry_after_seconds=max(1, math.ceil(wait)),
        )
