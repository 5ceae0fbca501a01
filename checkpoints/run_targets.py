"""What a run executes: a published workflow version or a code graph, through an assistant.

An assistant names a graph id: a workflow's slug (its ``workflowDefinitionId`` is set) or a code
graph of the ``langgraph.json`` the process loaded. Every code graph has a default assistant in
every tenant, created on first use; a published workflow's default assistant is created when it
is published (assistant id = workflow id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.resources import EngineResources
from eawe.db.models import Assistant, WorkflowDefinitionVersion, WorkflowStatus
from eawe.db.repositories import assistants as assistant_repo
from eawe.db.repositories import workflows as workflow_repo
from eawe.errors import ConflictError, NotFoundError

__all__ = [
    "RunTarget",
    "ensure_code_graph_assistants",
    "resolve_assistant",
    "target_of_assistant",
    "target_of_workflow",
]


@dataclass(frozen=True)
class RunTarget:
    """The graph a run executes, with the assistant's config and context to merge into the run's."""

    graph_id: str
    assistant_id: str | None
    version: WorkflowDefinitionVersion | None = None
    """The pinned workflow version; None for a code graph."""
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def workflow_id(self) -> str | None:
        return self.version.workflow_definition_id if self.version is not None else None


async def ensure_code_graph_assistants(
    resources: EngineResources, session: AsyncSession, tenant_id: str
) -> None:
    """Create the tenant's default assistant of every code graph that has none yet."""
    for graph_id in resources.code_graphs.names():
        await assistant_repo.ensure_default_assistant(
            session,
            tenant_id,
            graph_id=graph_id,
            assistant_id=assistant_repo.default_assistant_id(tenant_id, graph_id),
        )


async def resolve_assistant(
    resources: EngineResources, session: AsyncSession, tenant_id: str, key: str
) -> Assistant:
    """The assistant ``key`` names: an assistant id, or a graph id (its default assistant).

    Raises:
        eawe.errors.NotFoundError: No such assistant or graph in the tenant.
    """
    row = await assistant_repo.find_assistant(session, tenant_id, key)
    if key in resources.code_graphs and (
        row is None or (row.id != key and (row.metadata_ or {}).get("created_by") != "system")
    ):  # the graph's default assistant is not there yet (a new tenant): create the defaults
        await ensure_code_graph_assistants(resources, session, tenant_id)
        row = await assistant_repo.find_assistant(session, tenant_id, key)
    if row is None:
        raise NotFoundError("assistant", key)
    return row


async def target_of_workflow(
    session: AsyncSession, tenant_id: str, workflow_id: str, version: int | None = None
) -> RunTarget:
    """A published version of the workflow (the newest by default).

    Raises:
        eawe.errors.NotFoundError: No such workflow (or version) in this tenant.
        eawe.errors.ConflictError: The workflow is archived or has no published version.
    """
    to_run = await workflow_repo.get_version_to_run(session, tenant_id, workflow_id, version)
    graph_id, status, pinned = to_run
    if status == WorkflowStatus.ARCHIVED:
        raise ConflictError(f"workflow {workflow_id} is archived", field="workflow_id")
    if pinned is None and version is not None:
        raise NotFoundError(f"workflow {workflow_id!r} version {version}")
    if pinned is None:
        raise ConflictError(
            f"workflow {workflow_id} has no published version; publish it first", field="workflow_id"
        )
    return RunTarget(graph_id=graph_id, assistant_id=workflow_id, version=pinned)


async def target_of_assistant(
    resources: EngineResources, session: AsyncSession, tenant_id: str, key: str
) -> RunTarget:
    """What a run of the assistant (or graph id) ``key`` executes."""
    assistant = await resolve_assistant(resources, session, tenant_id, key)
    config, context = dict(assistant.config or {}), dict(assistant.context or {})
    if assistant.workflow_definition_id is not None:
        workflow = await target_of_workflow(session, tenant_id, assistant.workflow_definition_id)
        return RunTarget(
            graph_id=workflow.graph_id,
            assistant_id=assistant.id,
            version=workflow.version,
            config=config,
            context=context,
        )
    if assistant.graph_id not in resources.code_graphs:
        raise NotFoundError("graph", assistant.graph_id)
    return RunTarget(graph_id=assistant.graph_id, assistant_id=assistant.id, config=config, context=context)
