"""``/v1/workflows``: definitions (drafts), validation, publishing, versions and a Mermaid view.

A definition is validated and test-compiled whenever its graph is stored, so a draft is always
runnable once published; errors name the node id and the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from eawe.db.models import WorkflowDefinition, WorkflowDefinitionVersion, WorkflowStatus
from eawe.db.pagination import paginate
from eawe.db.repositories import workflows as repo
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.graph_views import compile_draft, compile_version
from server.limits import enforce_definition_limits
from server.schemas.common import PageOut
from server.schemas.workflows import (
    MAX_VERSION,
    GraphOut,
    ValidateIn,
    ValidationOut,
    VersionOut,
    WorkflowCreate,
    WorkflowOut,
    WorkflowUpdate,
)

__all__ = ["router"]

router = APIRouter(prefix="/workflows", tags=["workflows"])


def _out(row: WorkflowDefinition) -> WorkflowOut:
    return WorkflowOut.model_validate(repo.workflow_public(row))


@router.post("/validate", response_model=ValidationOut, summary="Validate and test-compile a definition")
async def validate(
    body: ValidateIn, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> ValidationOut:
    enforce_definition_limits(body.definition_graph, resources.settings)
    validated = await resources.engine.validate(principal.tenant_id, body.definition_graph)
    return ValidationOut(
        valid=True,
        graph_hash=validated.graph_hash,
        nodes=[{"id": n.id, "type": n.type} for n in validated.definition.nodes],
    )


@router.post("", status_code=201, response_model=WorkflowOut, summary="Create a draft workflow")
async def create(
    body: WorkflowCreate, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> WorkflowOut:
    enforce_definition_limits(body.definition_graph, resources.settings)
    await resources.engine.validate(principal.tenant_id, body.definition_graph)
    async with resources.database.transaction() as session:
        row = await repo.create_workflow(
            session,
            tenant_id=principal.tenant_id,
            name=body.name,
            description=body.description,
            definition_graph=body.definition_graph,
            actor_id=principal.user_id,
        )
    return _out(row)


@router.get("", response_model=PageOut[WorkflowOut], summary="List workflows")
async def list_(
    principal: Requires.WORKFLOWS_READ,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[WorkflowStatus | None, Query()] = None,
) -> PageOut[WorkflowOut]:
    result = await repo.list_workflows(
        session, principal.tenant_id, status=status, limit=page.limit, cursor=page.cursor
    )
    return PageOut[WorkflowOut](items=[_out(r) for r in result.items], next_cursor=result.next_cursor)


@router.get(
    "/{workflow_id}",
    response_model=WorkflowOut,
    summary="Get a workflow",
    description="An archived workflow (after DELETE) is still returned, with `status` ARCHIVED.",
)
async def get(workflow_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep) -> WorkflowOut:
    return _out(await repo.get_workflow(session, principal.tenant_id, workflow_id))


@router.patch("/{workflow_id}", response_model=WorkflowOut, summary="Edit the draft")
async def update(
    workflow_id: str, body: WorkflowUpdate, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> WorkflowOut:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("definition_graph") is not None:
        enforce_definition_limits(changes["definition_graph"], resources.settings)
        await resources.engine.validate(principal.tenant_id, changes["definition_graph"])
    else:
        changes.pop("definition_graph", None)
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    async with resources.database.transaction() as session:
        row = await repo.update_workflow(
            session, principal.tenant_id, workflow_id, actor_id=principal.user_id, **changes
        )
    return _out(row)


@router.delete(
    "/{workflow_id}",
    response_model=WorkflowOut,
    summary="Archive a workflow",
    description=(
        "Archives, never erases: runs keep their pinned versions, so the workflow stays readable "
        "(GET answers 200 with `status` ARCHIVED) but can no longer be edited, published or run. "
        "Answers the archived workflow; archiving it again changes nothing."
    ),
)
async def delete(
    workflow_id: str, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> WorkflowOut:
    """Workflows are archived, not erased: runs keep their pinned versions, no new run starts."""
    return await archive(workflow_id, principal, resources)


@router.post("/{workflow_id}/archive", response_model=WorkflowOut, summary="Archive a workflow")
async def archive(
    workflow_id: str, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> WorkflowOut:
    async with resources.database.transaction() as session:
        row = await repo.archive_workflow(
            session, principal.tenant_id, workflow_id, actor_id=principal.user_id
        )
    return _out(row)


@router.post("/{workflow_id}/publish", response_model=VersionOut, summary="Publish the draft as a version")
async def publish(
    workflow_id: str, principal: Requires.WORKFLOWS_WRITE, resources: ResourcesDep
) -> VersionOut:
    version = await resources.engine.publish(principal.tenant_id, workflow_id, actor_id=principal.user_id)
    return VersionOut.model_validate(repo.version_public(version))


@router.get("/{workflow_id}/versions", response_model=PageOut[VersionOut], summary="Published versions")
async def versions(
    workflow_id: str, principal: Requires.WORKFLOWS_READ, session: SessionDep, page: PageParamsDep
) -> PageOut[VersionOut]:
    await repo.get_workflow(session, principal.tenant_id, workflow_id)
    stmt = select(WorkflowDefinitionVersion).where(
        WorkflowDefinitionVersion.tenant_id == principal.tenant_id,
        WorkflowDefinitionVersion.workflow_definition_id == workflow_id,
    )
    result = await paginate(session, stmt, WorkflowDefinitionVersion.id, limit=page.limit, cursor=page.cursor)
    return PageOut[VersionOut](
        items=[VersionOut.model_validate(repo.version_public(v)) for v in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{workflow_id}/versions/{version}", response_model=VersionOut, summary="One published version")
async def get_version(
    workflow_id: str,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    principal: Requires.WORKFLOWS_READ,
    session: SessionDep,
) -> VersionOut:
    row = await repo.get_version(session, principal.tenant_id, workflow_id, version)
    return VersionOut.model_validate(repo.version_public(row))


@router.get("/{workflow_id}/graph", response_model=GraphOut, summary="The workflow as a Mermaid diagram")
async def graph(
    workflow_id: str,
    principal: Requires.WORKFLOWS_READ,
    resources: ResourcesDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="A published version; default: the draft")
    ] = None,
) -> GraphOut:
    async with resources.database.session() as session:
        workflow = await repo.get_workflow(session, principal.tenant_id, workflow_id)
        if version is None:
            compiled = await compile_draft(
                resources.engine, session, principal.tenant_id, workflow.definition_graph
            )
        else:
            row = await repo.get_version(session, principal.tenant_id, workflow_id, version)
            compiled = await compile_version(resources.engine, session, principal.tenant_id, row)
    return GraphOut(workflow_id=workflow_id, version=version, mermaid=compiled.get_graph().draw_mermaid())
