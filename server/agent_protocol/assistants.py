"""Agent-Protocol assistants: create, get, patch, delete, search, count, versions, latest, and the
graph, schemas and subgraphs of their graph.

An assistant is a graph id (a published workflow's slug, or a code graph of the served
``langgraph.json``) with config, context and metadata. Reading needs ``workflows:read``; creating,
changing and deleting assistants needs ``workflows:write`` (designers and administrators).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from langgraph.pregel import Pregel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.claimed_graph import tenant_store
from checkpoints.run_targets import ensure_code_graph_assistants, resolve_assistant
from eawe.db.models import Assistant, WorkflowDefinition, WorkflowStatus
from eawe.db.repositories import assistants as repo
from eawe.db.repositories import workflows as workflow_repo
from eawe.errors import Problem, ValidationError
from server.agent_protocol.encoding import jsonable
from server.agent_protocol.schemas import (
    AssistantCreate,
    AssistantLatest,
    AssistantPatch,
    AssistantSearch,
    AssistantVersions,
)
from server.agent_protocol.views import assistant_view
from server.deps import Principal, Requires, ResourcesDep, SessionDep
from server.graph_views import compile_version, state_json_schemas
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(prefix="/assistants", tags=["agent-protocol"])


async def _workflow_of_graph(
    session: AsyncSession, tenant_id: str, graph_id: str
) -> WorkflowDefinition | None:
    return await session.scalar(
        select(WorkflowDefinition).where(
            WorkflowDefinition.tenant_id == tenant_id,
            WorkflowDefinition.slug == graph_id,
            WorkflowDefinition.status == WorkflowStatus.ACTIVE,
        )
    )


async def _check_graph(
    resources: ServerResources, session: AsyncSession, tenant_id: str, graph_id: str
) -> str | None:
    """The workflow id ``graph_id`` names (None for a code graph); 422 when it names nothing."""
    if graph_id in resources.engine.resources.code_graphs:
        return None
    workflow = await _workflow_of_graph(session, tenant_id, graph_id)
    if workflow is None:
        raise ValidationError(
            Problem("graph_id", f"no graph {graph_id!r}: a published workflow's slug or a code graph")
        )
    return workflow.id


@router.post("", summary="Create an assistant")
async def create_assistant(
    body: AssistantCreate, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.transaction() as session:
        workflow_id = await _check_graph(resources, session, principal.tenant_id, body.graph_id)
        row = await repo.create_assistant(
            session,
            principal.tenant_id,
            graph_id=body.graph_id,
            assistant_id=body.assistant_id,
            workflow_definition_id=workflow_id,
            name=body.name,
            description=body.description,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
            if_exists=body.if_exists,
        )
        return assistant_view(row)


@router.post("/search", summary="Search assistants")
async def search_assistants(
    body: AssistantSearch, principal: Requires.WORKFLOWS_READ, session: SessionDep, resources: ResourcesDep
) -> list[dict[str, Any]]:
    await ensure_code_graph_assistants(resources.engine.resources, session, principal.tenant_id)
    await session.commit()
    rows = await repo.search_assistants(
        session,
        principal.tenant_id,
        graph_id=body.graph_id,
        name=body.name,
        metadata=body.metadata,
        limit=min(body.limit, resources.settings.page_size_max),
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    views = [assistant_view(row) for row in rows]
    if body.select:
        views = [{k: v for k, v in view.items() if k in body.select} for view in views]
    return views


@router.post("/count", summary="Count assistants")
async def count_assistants(
    body: AssistantSearch, principal: Requires.WORKFLOWS_READ, session: SessionDep, resources: ResourcesDep
) -> int:
    await ensure_code_graph_assistants(resources.engine.resources, session, principal.tenant_id)
    await session.commit()
    return await repo.count_assistants(
        session, principal.tenant_id, graph_id=body.graph_id, name=body.name, metadata=body.metadata
    )


async def _assistant(
    resources: ServerResources, session: AsyncSession, principal: Principal, key: str
) -> Assistant:
    row = await resolve_assistant(resources.engine.resources, session, principal.tenant_id, key)
    await session.commit()
    return row


@router.get("/{assistant_id}", summary="Get an assistant (by id, or a graph id for its default)")
async def get_assistant(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep, resources: ResourcesDep
) -> dict[str, Any]:
    return assistant_view(await _assistant(resources, session, principal, assistant_id))


@router.patch("/{assistant_id}", summary="Change an assistant (a new version)")
async def patch_assistant(
    assistant_id: str,
    principal: Requires.WORKFLOWS_WRITE,
    resources: ResourcesDep,
    body: AssistantPatch | None = None,
) -> dict[str, Any]:
    body = body or AssistantPatch()
    async with resources.database.transaction() as session:
        changes = body.model_dump(exclude_unset=True)
        if body.graph_id is not None:
            workflow_id = await _check_graph(resources, session, principal.tenant_id, body.graph_id)
            row = await repo.get_assistant(session, principal.tenant_id, assistant_id, for_update=True)
            row.workflow_definition_id = workflow_id
        row = await repo.update_assistant(session, principal.tenant_id, assistant_id, changes)
        return assistant_view(row)


@router.delete("/{assistant_id}", status_code=204, summary="Delete an assistant")
async def delete_assistant(
    assistant_id: str, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> Response:
    async with resources.database.transaction() as session:
        await repo.delete_assistant(session, principal.tenant_id, assistant_id)
    return Response(status_code=204)


@router.post("/{assistant_id}/versions", summary="An assistant's versions, newest first")
async def assistant_versions(
    assistant_id: str, body: AssistantVersions, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> list[dict[str, Any]]:
    rows = await repo.list_versions(
        session,
        principal.tenant_id,
        assistant_id,
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
    )
    return [assistant_view(row) for row in rows]


@router.post("/{assistant_id}/latest", summary="Make a saved version the current one")
async def set_latest(
    assistant_id: str, body: AssistantLatest, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.transaction() as session:
        return assistant_view(
            await repo.set_latest_version(session, principal.tenant_id, assistant_id, body.version)
        )


async def _graph(
    resources: ServerResources, session: AsyncSession, principal: Principal, key: str
) -> tuple[Assistant, Pregel]:
    row = await _assistant(resources, session, principal, key)
    engine = resources.engine.resources
    if row.workflow_definition_id is None:
        graph = await engine.code_graphs.instance(
            row.graph_id,
            checkpointer=engine.saver,
            store=tenant_store(engine, principal.tenant_id),
            access_context="assistants.read",
        )
        return row, graph
    version = await workflow_repo.get_version(session, principal.tenant_id, row.workflow_definition_id)
    return row, await compile_version(resources.engine, session, principal.tenant_id, version)


@router.get("/{assistant_id}/graph", summary="The assistant's graph (LangGraph JSON)")
async def assistant_graph(
    assistant_id: str,
    principal: Requires.WORKFLOWS_READ,
    session: SessionDep,
    resources: ResourcesDep,
    xray: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    depth: bool | int = False
    if xray not in (None, "", "false", "0"):
        depth = True if xray == "true" else int(xray) if xray.isdigit() else True
    _, graph = await _graph(resources, session, principal, assistant_id)
    drawable = (await graph.aget_graph(xray=depth)).to_json()
    return Response(json.dumps(jsonable(drawable)), media_type="application/json")


@router.get("/{assistant_id}/schemas", summary="Input, output, state, config and context JSON schemas")
async def assistant_schemas(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep, resources: ResourcesDep
) -> dict[str, Any]:
    row = await _assistant(resources, session, principal, assistant_id)
    if row.workflow_definition_id is not None:
        version = await workflow_repo.get_version(session, principal.tenant_id, row.workflow_definition_id)
        return {"graph_id": row.graph_id, **state_json_schemas(version.definition_graph, "WorkflowState")}
    _, graph = await _graph(resources, session, principal, assistant_id)

    def schema(fn: Any) -> Any:
        try:
            return jsonable(fn())
        except Exception:  # a state type JSON Schema cannot describe
            return None

    return {
        "graph_id": row.graph_id,
        "input_schema": schema(graph.get_input_jsonschema),
        "output_schema": schema(graph.get_output_jsonschema),
        "state_schema": schema(lambda: graph.get_input_jsonschema()),
        "config_schema": schema(graph.get_config_jsonschema),
        "context_schema": schema(graph.get_context_jsonschema),
    }


@router.get("/{assistant_id}/subgraphs", summary="The subgraphs of the assistant's graph")
async def assistant_subgraphs(
    assistant_id: str,
    principal: Requires.WORKFLOWS_READ,
    session: SessionDep,
    resources: ResourcesDep,
    recurse: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    _, graph = await _graph(resources, session, principal, assistant_id)
    found: dict[str, Any] = {}
    async for namespace, subgraph in graph.aget_subgraphs(recurse=recurse):
        found[namespace] = {"input_schema": jsonable(subgraph.get_input_jsonschema())}
    return found
