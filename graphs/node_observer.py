"""Around every compiled node: a span, a latency sample, log ids and the node's token usage.

:func:`observe_node` wraps the node function the compiler builds, so every node type — built-in
or from a plugin — is measured the same way without knowing about it. Token usage comes from the
``usage_metadata`` of the chat model calls the node makes (LangChain's usage callback, scoped to
the node by a context variable); the record goes to the run's ``node_executions`` sink.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.tracers.context import register_configure_hook
from langgraph.errors import GraphBubbleUp
from opentelemetry.trace import Status, StatusCode

from agents.context import NodeContext, NodeExecutionRecord
from eawe.telemetry.logs import log_context, run_secret_scrubber
from eawe.telemetry.metrics import NODE_SECONDS
from eawe.telemetry.tracing import tracer

__all__ = ["observe_node"]

logger = logging.getLogger(__name__)

NodeCall = Callable[[], Awaitable[Mapping[str, Any] | None]]

# One context variable for the process (LangChain's own helper registers a new hook per call):
# each node sets its handler, so a subworkflow's inner nodes count their calls and the outer
# node does not count them twice.
_node_usage: ContextVar[UsageMetadataCallbackHandler | None] = ContextVar("eawe_node_usage", default=None)
register_configure_hook(_node_usage, inheritable=True)


@contextmanager
def _usage_scope() -> Iterator[UsageMetadataCallbackHandler]:
    handler = UsageMetadataCallbackHandler()
    token = _node_usage.set(handler)
    try:
        yield handler
    finally:
        _node_usage.reset(token)


def _usage(raw: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {
        model: {
            "input_tokens": int(u.get("input_tokens") or 0),
            "output_tokens": int(u.get("output_tokens") or 0),
            "total_tokens": int(u.get("total_tokens") or 0),
        }
        for model, u in raw.items()
    }


async def observe_node(node_type: str, ctx: NodeContext, call: NodeCall) -> Mapping[str, Any] | None:
    """Run ``call`` (one node execution) inside its span, log context and usage accounting."""
    run = ctx.run
    attributes = {
        "eawe.node.id": ctx.node_id,
        "eawe.node.type": node_type,
        "eawe.tenant.id": run.tenant_id,
        **({"eawe.run.id": run.run_id} if run.run_id else {}),
        **({"eawe.workflow.id": run.workflow_id} if run.workflow_id else {}),
    }
    started_at = datetime.now(UTC).replace(tzinfo=None)
    start = time.perf_counter()
    outcome = "failed"
    with (
        tracer().start_as_current_span(f"node {ctx.node_id}", attributes=attributes) as span,
        log_context(tenant_id=run.tenant_id, run_id=run.run_id, node_id=ctx.node_id),
        run_secret_scrubber(run.scrubber.scrub),
        _usage_scope() as usage,
    ):
        try:
            update = await call()
            outcome = "completed"
            return update
        except GraphBubbleUp:  # an interrupt (approval) or a Command to the parent: not an error
            outcome = "interrupted"
            raise
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            elapsed = time.perf_counter() - start
            tokens = _usage(usage.usage_metadata)
            span.set_attribute("eawe.node.outcome", outcome)
            if tokens:
                for kind in ("input_tokens", "output_tokens"):
                    span.set_attribute(f"gen_ai.usage.{kind}", sum(t[kind] for t in tokens.values()))
                span.set_attribute("gen_ai.request.model", sorted(tokens))
            NODE_SECONDS.labels(node_type=node_type, outcome=outcome).observe(elapsed)
            if run.node_executions is not None:
                record = NodeExecutionRecord(
                    node_id=ctx.node_id,
                    node_type=node_type,
                    outcome=outcome,
                    started_at=started_at,
                    duration_ms=round(elapsed * 1000),
                    token_usage=tokens,
                )
                try:
                    await run.node_executions(record)
                except Exception:  # accounting must never fail the node
                    logger.warning("node %s: recording its usage failed", ctx.node_id, exc_info=True)
