"""``GET /v1/usage``: the tenant's model token usage and cost over a date range (administrators).

Cost comes from ``EAWE_MODEL_PRICES`` (per million input and output tokens); a model without a
price costs 0 and is listed in ``unpriced_models``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from eawe.db.repositories.usage import tenant_usage_by_model
from eawe.errors import Problem, ValidationError
from server.deps import Requires, ResourcesDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/usage", tags=["usage"])


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@router.get("", summary="Token usage and cost per model over [since, until)")
async def usage(
    principal: Requires.AUDIT_READ,
    session: SessionDep,
    resources: ResourcesDep,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive; default 30 days ago")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive; default now")] = None,
) -> dict[str, Any]:
    end = _naive_utc(until) if until else datetime.now(UTC).replace(tzinfo=None)
    start = _naive_utc(since) if since else end - timedelta(days=30)
    if start >= end:
        raise ValidationError(Problem("since", "must be before until"))
    models, executions, duration_ms = await tenant_usage_by_model(
        session, principal.tenant_id, since=start, until=end
    )
    prices = resources.settings.model_prices
    items: list[dict[str, Any]] = []
    total_cost = 0.0
    for m in models:
        price = prices.get(m.model)
        cost = (
            (m.input_tokens * price.input_per_million + m.output_tokens * price.output_per_million) / 1e6
            if price
            else 0.0
        )
        total_cost += cost
        items.append(
            {
                "model": m.model,
                "node_executions": m.calls_in_nodes,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
                "total_tokens": m.total_tokens,
                "cost": round(cost, 6),
                "priced": price is not None,
            }
        )
    return {
        "since": start,
        "until": end,
        "currency": resources.settings.price_currency,
        "items": items,
        "total_cost": round(total_cost, 6),
        "unpriced_models": [m.model for m in models if m.model not in prices],
        "node_executions": executions,
        "node_duration_ms": duration_ms,
    }
