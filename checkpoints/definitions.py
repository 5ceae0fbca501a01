"""Loading a run's pinned definition and compiling it (cached), subworkflows included.

A run pins (workflow id, version, graph hash). Subworkflow references are resolved to published
versions of the same tenant before compiling, and the versions they resolved to are part of the
cache key, so publishing a new child version never changes a graph that is already cached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.resources import EngineResources
from eawe.db.models import WorkflowDefinitionVersion
from eawe.db.repositories.workflows import get_version
from eawe.errors import NotFoundError, Problem, ValidationError
from graphs.compiler import ResolvedWorkflow, compile_workflow
from graphs.validation import ValidatedWorkflow, validate_definition

__all__ = ["load_run_graph", "prefetch_subworkflows", "validate_for_tenant"]

_MAX_SUBWORKFLOWS = 100


def _references(definition: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    refs: list[tuple[str, int | None]] = []
    for node in definition.get("nodes") or []:
        if not isinstance(node, Mapping) or node.get("type") != "subworkflow":
            continue
        config = node.get("config") or {}
        if isinstance(config, Mapping):
            if isinstance(config.get("workflow_id"), str):
                version = config.get("version")
                refs.append((config["workflow_id"], version if isinstance(version, int) else None))
            if isinstance(config.get("definition"), Mapping):
                refs.extend(_references(config["definition"]))
    return refs


async def prefetch_subworkflows(
    session: AsyncSession, tenant_id: str, definition: Mapping[str, Any]
) -> dict[tuple[str, int | None], ResolvedWorkflow]:
    """Every published definition ``definition`` reaches through subworkflow references."""
    found: dict[tuple[str, int | None], ResolvedWorkflow] = {}
    pending = _references(definition)
    while pending:
        key = pending.pop()
        if key in found:
            continue
        if len(found) >= _MAX_SUBWORKFLOWS:
            raise ValidationError(Problem("nodes", f"more than {_MAX_SUBWORKFLOWS} subworkflows"))
        try:
            row = await get_version(session, tenant_id, key[0], key[1])
        except NotFoundError:
            continue  # validation reports it, naming the node
        found[key] = ResolvedWorkflow(key[0], row.version, row.definition_graph)
        pending.extend(_references(row.definition_graph))
    return found


async def validate_for_tenant(
    resources: EngineResources, session: AsyncSession, tenant_id: str, definition: Any
) -> ValidatedWorkflow:
    """Validate a definition, resolving its subworkflow references within the tenant, and test-compile it.

    Raises:
        eawe.errors.ValidationError: Every problem found.
    """
    resolved = (
        await prefetch_subworkflows(session, tenant_id, definition) if isinstance(definition, Mapping) else {}
    )

    def lookup(workflow_id: str, version: int | None) -> Mapping[str, Any] | None:
        hit = resolved.get((workflow_id, version))
        return hit.definition if hit else None

    def check() -> ValidatedWorkflow:
        validated = validate_definition(
            definition,
            resources.registry,
            lookup_subworkflow=lookup,
            recursion_limit=resources.recursion_limit,
        )
        compile_workflow(validated, resources.registry, subworkflows=lambda wid, v: resolved.get((wid, v)))
        return validated

    # Validating and test-compiling a large definition takes CPU time: off the event loop.
    return await asyncio.to_thread(check)


async def load_run_graph(
    resources: EngineResources,
    session: AsyncSession | None = None,
    *,
    tenant_id: str,
    workflow_id: str,
    version: int,
    graph_hash: str,
    row: WorkflowDefinitionVersion | None = None,
) -> tuple[CompiledStateGraph, ValidatedWorkflow]:
    """The compiled graph of a pinned (workflow, version, hash), from the cache when possible.

    ``row`` is that version when the caller has just read it in this tenant (not read again).
    Without a ``session`` a cached version that calls no subworkflow is returned without reading
    anything (a published version never changes; which newest subworkflow versions a call would
    resolve to can, so those are always read); otherwise one read session is opened.
    """
    if session is None:
        cached = resources.graphs.get((workflow_id, version, f"{graph_hash}|"))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        async with resources.database.session() as own:
            return await load_run_graph(
                resources,
                own,
                tenant_id=tenant_id,
                workflow_id=workflow_id,
                version=version,
                graph_hash=graph_hash,
            )
    if row is None or (row.tenant_id, row.workflow_definition_id, row.version) != (
        tenant_id,
        workflow_id,
        version,
    ):
        row = await get_version(session, tenant_id, workflow_id, version)
    if row.graph_hash != graph_hash:
        raise ValidationError(
            Problem(
                "graph_hash", f"version {version} of {workflow_id!r} does not have the hash this run pinned"
            )
        )
    resolved = await prefetch_subworkflows(session, tenant_id, row.definition_graph)
    pins = ",".join(
        f"{wid}@{v}->{r.version}" for (wid, v), r in sorted(resolved.items(), key=lambda kv: str(kv[0]))
    )

    def lookup(workflow_id: str, version: int | None) -> Mapping[str, Any] | None:
        hit = resolved.get((workflow_id, version))
        return hit.definition if hit else None

    def build() -> tuple[CompiledStateGraph, ValidatedWorkflow]:
        validated = validate_definition(
            row.definition_graph,
            resources.registry,
            lookup_subworkflow=lookup,
            recursion_limit=resources.recursion_limit,
        )
        graph = compile_workflow(
            validated,
            resources.registry,
            checkpointer=resources.saver,
            subworkflows=lambda wid, v: resolved.get((wid, v)),
            name=f"{workflow_id}@{version}",
        )
        return graph, validated

    return resources.graphs.get_or_compile((workflow_id, version, f"{graph_hash}|{pins}"), build)
