"""Agent-Protocol assistants: the tenant's published workflows (read-only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from eawe.db.models import WorkflowDefinition, WorkflowStatus
from eawe.db.repositories import workflows as repo
from server.agent_protocol.encoding import iso, jsonable
from server.agent_protocol.launch import find_assistant
from server.agent_protocol.schemas import AssistantSearch
from server.agent_protocol.views import assistant_view
from server.deps import Requires, ResourcesDep, SessionDep
from server.graph_views import compile_version, state_json_schemas

__all__ = ["router"]

router = APIRouter(prefix="/assistants", tags=["agent-protocol"])


def _search_stmt(tenant_id: str, body: AssistantSearch) -> Any:
    stmt = select(WorkflowDefinition).where(
        WorkflowDefinition.tenant_id == tenant_id, WorkflowDefinition.status == WorkflowStatus.ACTIVE
    )
    if body.graph_id:
        stmt = stmt.where(WorkflowDefinition.id == body.graph_id)
    if body.name:
        stmt = stmt.where(WorkflowDefinition.name == body.name)
    return stmt


@router.post("/search", summary="Search assistants (published workflows)")
async def search_assistants(
    body: AssistantSearch, principal: Requires.WORKFLOWS_READ, session: SessionDep, resources: ResourcesDep
) -> list[dict[str, Any]]:
    limit = min(body.limit, resources.settings.page_size_max)
    stmt = _search_stmt(principal.tenant_id, body).order_by(WorkflowDefinition.id.desc())
    rows = (await session.scalars(stmt.offset(body.offset).limit(limit))).all()
    return [assistant_view(row) for row in rows]


@router.post("/count", summary="Count assistants")
async def count_assistants(
    body: AssistantSearch, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> int:
    return len((await session.scalars(_search_stmt(principal.tenant_id, body))).all())


@router.get("/{assistant_id}", summary="Get an assistant")
async def get_assistant(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> dict[str, Any]:
    return assistant_view(await find_assistant(session, principal.tenant_id, assistant_id))


@router.post("/{assistant_id}/versions", summary="Published versions of an assistant")
async def assistant_versions(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> list[dict[str, Any]]:
    workflow = await find_assistant(session, principal.tenant_id, assistant_id)
    return [
        {
            **assistant_view(workflow),
            "version": v.version,
            "created_at": iso(v.published_at),
            "metadata": {"graph_hash": v.graph_hash},
        }
        for v in await repo.list_versions(session, principal.tenant_id, workflow.id)
    ]


@router.get("/{assistant_id}/graph", summary="The compiled graph (LangGraph JSON)")
async def assistant_graph(
    assistant_id: str,
    principal: Requires.WORKFLOWS_READ,
    resources: ResourcesDep,
    xray: Annotated[str | None, Query()] = None,
) -> Response:
    depth: bool | int = False
    if xray not in (None, "", "false", "0"):
        depth = True if xray == "true" else int(xray) if xray.isdigit() else True
    async with resources.database.session() as session:
        workflow = await find_assistant(session, principal.tenant_id, assistant_id)
        version = await repo.get_version(session, principal.tenant_id, workflow.id)
        compiled = await compile_version(resources.engine, session, principal.tenant_id, version)
    drawable = compiled.get_graph(xray=depth).to_json()
    return Response(json.dumps(jsonable(drawable)), media_type="application/json")


@router.get("/{assistant_id}/schemas", summary="Input, output and state JSON schemas")
async def assistant_schemas(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> dict[str, Any]:
    workflow = await find_assistant(session, principal.tenant_id, assistant_id)
    version = await repo.get_version(session, principal.tenant_id, workflow.id)
    return {"graph_id": workflow.id, **state_json_schemas(version.definition_graph, "WorkflowState")}


@router.get("/{assistant_id}/subgraphs", summary="Subgraphs (EAWE reports none)")
async def assistant_subgraphs(
    assistant_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep
) -> dict[str, Any]:
    await find_assistant(session, principal.tenant_id, assistant_id)
    return {}
