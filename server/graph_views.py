"""Compiled views of workflow definitions for display: Mermaid, LangGraph graph JSON, JSON schemas.

Published versions come from the engine's compiled-graph cache; drafts are validated and compiled
on the spot (subworkflow references resolved within the tenant).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints import RunEngine
from checkpoints.definitions import load_run_graph, prefetch_subworkflows
from eawe.db.models import WorkflowDefinitionVersion
from graphs.compiler import compile_workflow
from graphs.spec import WorkflowDefinition
from graphs.validation import validate_definition

__all__ = ["compile_draft", "compile_version", "state_json_schemas"]

_JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array"}


async def compile_draft(
    engine: RunEngine, session: AsyncSession, tenant_id: str, definition: Mapping[str, Any]
) -> CompiledStateGraph:
    """Validate and compile a draft definition (raises ValidationError naming fields and nodes)."""
    resolved = await prefetch_subworkflows(session, tenant_id, definition)

    def lookup(workflow_id: str, version: int | None) -> Mapping[str, Any] | None:
        hit = resolved.get((workflow_id, version))
        return hit.definition if hit else None

    registry = engine.resources.registry

    def build() -> CompiledStateGraph:
        validated = validate_definition(definition, registry, lookup_subworkflow=lookup)
        return compile_workflow(validated, registry, subworkflows=lambda wid, v: resolved.get((wid, v)))

    # CPU-bound and growing with the graph: off the event loop.
    return await asyncio.to_thread(build)


async def compile_version(
    engine: RunEngine, session: AsyncSession, tenant_id: str, version: WorkflowDefinitionVersion
) -> CompiledStateGraph:
    """The cached compiled graph of a published version (with the engine's checkpointer)."""
    graph, _ = await load_run_graph(
        engine.resources,
        session,
        tenant_id=tenant_id,
        workflow_id=version.workflow_definition_id,
        version=version.version,
        graph_hash=version.graph_hash,
    )
    return graph


def state_json_schemas(definition_graph: Mapping[str, Any], title: str) -> dict[str, Any]:
    """``input_schema`` / ``output_schema`` / ``state_schema`` from the definition's ``state`` block."""
    definition = WorkflowDefinition.model_validate(definition_graph)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in definition.state.items():
        prop: dict[str, Any] = {"title": name}
        if spec.type in _JSON_TYPES:
            prop["type"] = spec.type
        if spec.description:
            prop["description"] = spec.description
        if spec.default is not None:
            prop["default"] = spec.default
        properties[name] = prop
        if spec.required:
            required.append(name)
    state = {"title": title, "type": "object", "properties": properties}
    return {
        "input_schema": {**state, "title": f"{title}Input", "required": required} if required else state,
        "output_schema": {**state, "title": f"{title}Output"},
        "state_schema": state,
        "config_schema": None,
        "context_schema": None,
    }
