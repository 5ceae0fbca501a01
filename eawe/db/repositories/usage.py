"""Node executions: their durations and model token usage, summed per run and per tenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import NodeExecution

__all__ = ["ModelUsage", "record_node_execution", "run_usage", "tenant_usage_by_model"]


async def record_node_execution(
    session: AsyncSession,
    *,
    tenant_id: str,
    run_id: str,
    node_id: str,
    node_type: str,
    outcome: str,
    started_at: datetime,
    duration_ms: int,
    token_usage: Mapping[str, Mapping[str, int]],
) -> NodeExecution:
    usage = {model: dict(counts) for model, counts in token_usage.items()}
    row = NodeExecution(
        tenant_id=tenant_id,
        workflow_run_id=run_id,
        node_id=node_id,
        node_type=node_type,
        outcome=outcome,
        started_at=started_at,
        duration_ms=duration_ms,
        token_usage=usage,
        input_tokens=sum(c.get("input_tokens", 0) for c in usage.values()),
        output_tokens=sum(c.get("output_tokens", 0) for c in usage.values()),
        total_tokens=sum(c.get("total_tokens", 0) for c in usage.values()),
    )
    session.add(row)
    await session.flush()
    return row


async def run_usage(session: AsyncSession, tenant_id: str, run_id: str) -> dict[str, Any]:
    """A run's usage: totals and one entry per node execution, in order.

    Returns:
        ``{"duration_ms", "input_tokens", "output_tokens", "total_tokens", "node_executions": [...]}``
        (zeros and an empty list for a run with none; the caller checks the run is the tenant's).
    """
    rows = (
        await session.scalars(
            select(NodeExecution)
            .where(NodeExecution.tenant_id == tenant_id, NodeExecution.workflow_run_id == run_id)
            .order_by(NodeExecution.started_at, NodeExecution.id)
        )
    ).all()
    return {
        "duration_ms": sum(r.duration_ms for r in rows),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "total_tokens": sum(r.total_tokens for r in rows),
        "node_executions": [
            {
                "node_id": r.node_id,
                "node_type": r.node_type,
                "outcome": r.outcome,
                "started_at": r.started_at,
                "duration_ms": r.duration_ms,
                "token_usage": r.token_usage,
            }
            for r in rows
        ],
    }


@dataclass(frozen=True)
class ModelUsage:
    model: str
    calls_in_nodes: int
    input_tokens: int
    output_tokens: int
    total_tokens: int


async def tenant_usage_by_model(
    session: AsyncSession, tenant_id: str, *, since: datetime, until: datetime
) -> tuple[list[ModelUsage], int, int]:
    """Token usage per model over ``[since, until)``, plus node executions and their total ms."""
    rows = await session.execute(
        text(
            """SELECT u.key AS model, count(*) AS nodes,
                      coalesce(sum((u.value->>'input_tokens')::bigint), 0) AS input_tokens,
                      coalesce(sum((u.value->>'output_tokens')::bigint), 0) AS output_tokens,
                      coalesce(sum((u.value->>'total_tokens')::bigint), 0) AS total_tokens
               FROM "NodeExecution" e, jsonb_each(e."tokenUsage") AS u
               WHERE e."tenantId" = :tenant AND e."createdAt" >= :since AND e."createdAt" < :until
               GROUP BY u.key ORDER BY u.key"""
        ),
        {"tenant": tenant_id, "since": since, "until": until},
    )
    models = [
        ModelUsage(r.model, int(r.nodes), int(r.input_tokens), int(r.output_tokens), int(r.total_tokens))
        for r in rows
    ]
    count, total_ms = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(NodeExecution.duration_ms), 0)).where(
                NodeExecution.tenant_id == tenant_id,
                NodeExecution.created_at >= since,
                NodeExecution.created_at < until,
            )
        )
    ).one()
    return models, int(count), int(total_ms)
