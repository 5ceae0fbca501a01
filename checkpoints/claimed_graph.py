"""The graph, context and LangGraph config a claimed run executes with.

A workflow run gets its pinned compiled version and an EAWE ``RunContext`` (tenant, principal,
retriever, models); a code-graph run gets the graph from the ``langgraph.json`` registry and the
context its request (and assistant) gave. Both run on the engine's checkpointer with the thread id
as ``thread_id``, and every checkpoint's metadata names the run, thread, graph and assistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel

from checkpoints.definitions import load_run_graph
from checkpoints.leases import ClaimedRun
from checkpoints.resources import EngineResources
from checkpoints.run_context import build_run_context
from checkpoints.step_journal import StepJournal
from graphs.validation import ValidatedWorkflow

__all__ = ["ClaimedGraph", "load_claimed_graph", "run_config", "tenant_store"]

# configurable keys a client may not set: they would redirect the checkpoints or the runtime.
_RESERVED = ("thread_id", "checkpoint_ns", "checkpoint_map", "__pregel_", "run_id")


@dataclass
class ClaimedGraph:
    graph: Pregel
    validated: ValidatedWorkflow | None
    """The validated definition of a workflow run; None for a code graph."""
    context: Any


def tenant_store(resources: EngineResources, tenant_id: str) -> Any:
    """The LangGraph store a tenant's graphs see (namespaced to the tenant), or None."""
    return resources.store.for_tenant(tenant_id) if resources.store is not None else None


def run_config(resources: EngineResources, claimed: ClaimedRun) -> RunnableConfig:
    """The run's LangGraph config: the client's configurable (minus reserved keys) on the thread."""
    requested = claimed.kwargs.get("config") or {}
    configurable = {
        k: v
        for k, v in (requested.get("configurable") or {}).items()
        if not any(k == r or k.startswith(r) for r in _RESERVED)
    }
    configurable["thread_id"] = claimed.thread_id
    metadata = {
        **{k: v for k, v in (claimed.kwargs.get("metadata") or {}).items() if isinstance(k, str)},
        "run_id": claimed.id,
        "thread_id": claimed.thread_id,
        "graph_id": claimed.graph_id,
        "assistant_id": claimed.assistant_id,
    }
    limit = requested.get("recursion_limit")
    return {
        "configurable": configurable,
        "metadata": metadata,
        "recursion_limit": limit
        if isinstance(limit, int) and 0 < limit <= 10_000
        else resources.recursion_limit,
    }


async def load_claimed_graph(
    resources: EngineResources,
    claimed: ClaimedRun,
    config: RunnableConfig,
    *,
    journal: StepJournal,
) -> ClaimedGraph:
    """The graph and context of ``claimed``; a workflow's nodes record their audit entries and
    usage in ``journal`` (committed with their step).

    Raises:
        eawe.errors.EAWEError: The pinned version or code graph can no longer be loaded.
        checkpoints.run_context.StarterDeactivatedError: The starter was deactivated.
    """
    if claimed.workflow_id is None:
        context = claimed.kwargs.get("context") or None
        graph = await resources.code_graphs.instance(
            claimed.graph_id,
            checkpointer=resources.saver,
            store=tenant_store(resources, claimed.tenant_id),
            config=config,
            context=context,
        )
        return ClaimedGraph(graph, None, context)
    compiled, validated = await load_run_graph(
        resources,
        tenant_id=claimed.tenant_id,
        workflow_id=claimed.workflow_id,
        version=claimed.workflow_version,
        graph_hash=claimed.graph_hash,
    )
    context = build_run_context(resources, claimed, workflow_id=claimed.workflow_id, journal=journal)
    bound: Pregel = compiled
    if resources.store is not None:  # the cached compiled graph, with the tenant's store
        bound = resources.store.bind(compiled, claimed.tenant_id)
    return ClaimedGraph(bound, validated, context)
