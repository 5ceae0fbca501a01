"""The span of one run execution, continuing the trace of the request that created the run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from eawe.db.models import RunStatus
from eawe.db.repositories.run_traces import trace_carrier
from eawe.telemetry.logs import log_context
from eawe.telemetry.tracing import context_from, tracer, tracing_enabled

if TYPE_CHECKING:
    from checkpoints.leases import ClaimedRun
    from checkpoints.resources import EngineResources

__all__ = ["run_traced"]


async def run_traced(
    resources: EngineResources,
    claimed: ClaimedRun,
    execute: Callable[[], Awaitable[RunStatus | None]],
) -> RunStatus | None:
    """``await execute()`` inside the ``run.execute`` span (a child of the creating request's
    span) and with the run's ids on every log line; node spans nest under it."""
    parent = None
    if tracing_enabled():  # read the stored context only when spans go somewhere
        async with resources.database.session() as session:
            parent = context_from(await trace_carrier(session, claimed.id))
    attributes: dict[str, AttributeValue] = {
        "eawe.run.id": claimed.id,
        "eawe.tenant.id": claimed.tenant_id,
        "eawe.workflow.id": claimed.workflow_id,
        "eawe.workflow.version": claimed.workflow_version,
        "eawe.run.attempt": claimed.attempts,
        "eawe.run.recovered": claimed.recovered,
        "eawe.worker.id": resources.worker_id,
    }
    with (
        tracer().start_as_current_span(
            "run.execute", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ) as span,
        log_context(tenant_id=claimed.tenant_id, run_id=claimed.id),
    ):
        status = await execute()
        span.set_attribute("eawe.run.status", status.value if status else "LEASE_LOST")
        return status
