"""The assistants MCP and A2A serve: published workflows (through their assistants).

A published workflow's default assistant has the workflow's id; an assistant created on a
workflow's graph is served too. Archived or unpublished workflows and code-graph assistants are
not (they have no published input schema): they answer 404, as another tenant's ids do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import WorkflowDefinition, WorkflowDefinitionVersion, WorkflowStatus
from eawe.db.repositories import assistants as assistant_repo
from eawe.db.repositories import workflows as workflow_repo
from eawe.errors import NotFoundError

__all__ = ["PublishedAssistant", "published_assistant", "published_workflow"]


@dataclass(frozen=True)
class PublishedAssistant:
    assistant_id: str
    name: str
    description: str | None
    workflow: WorkflowDefinition
    version: WorkflowDefinitionVersion


async def published_workflow(
    session: AsyncSession, tenant_id: str, workflow_id: str
) -> tuple[WorkflowDefinition, WorkflowDefinitionVersion]:
    """An ACTIVE workflow of the tenant and its newest published version.

    Raises:
        eawe.errors.NotFoundError: No such published workflow in the tenant.
    """
    workflow = await workflow_repo.get_workflow(session, tenant_id, workflow_id)
    if workflow.status != WorkflowStatus.ACTIVE:
        raise NotFoundError("workflow", workflow_id)
    return workflow, await workflow_repo.get_version(session, tenant_id, workflow.id)


async def published_assistant(session: AsyncSession, tenant_id: str, key: str) -> PublishedAssistant:
    """The assistant ``key`` names (an assistant id or a workflow's graph id), if it runs a published
    workflow of the tenant.

    Raises:
        eawe.errors.NotFoundError: Otherwise.
    """
    row = await assistant_repo.find_assistant(session, tenant_id, key)
    if row is None or row.workflow_definition_id is None:
        raise NotFoundError("assistant", key)
    try:
        workflow, version = await published_workflow(session, tenant_id, row.workflow_definition_id)
    except NotFoundError:
        raise NotFoundError("assistant", key) from None
    return PublishedAssistant(
        assistant_id=row.id,
        name=row.name or workflow.name,
        description=row.description or workflow.description,
        workflow=workflow,
        version=version,
    )
