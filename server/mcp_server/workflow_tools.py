"""The tenant's published workflows as MCP tools: listing them for a caller and calling one.

A tool is one assistant (a published workflow) the caller may run; its input schema is the
workflow's input state schema. Calling it starts a run as the caller through the engine — the
same path as ``POST /v1/runs``, so roles, tenant scoping, input validation and the rate limit
are the ones of the REST API — and waits (bounded) for the run to finish or pause.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp import types

from eawe.db.models import RunStatus, WorkflowDefinition, WorkflowStatus
from eawe.db.repositories import workflows as workflow_repo
from eawe.errors import NotFoundError, PermissionDeniedError
from server.auth.permissions import Permission
from server.auth.principal import Principal
from server.graph_views import state_json_schemas
from server.limits import enforce_run_rate_limit
from server.published_assistants import published_workflow
from server.resources import ServerResources
from server.run_outcome import RunOutcome, read_outcome, wait_until_settled

__all__ = ["call_workflow_tool", "list_workflow_tools", "tool_name", "workflow_id_of"]

_ID_LENGTH = 25  # eawe.db.ids.new_id
_SLUG_LENGTH = 64 - _ID_LENGTH - 1  # MCP tool names are at most 64 characters


def tool_name(workflow: WorkflowDefinition) -> str:
    """``<name as a slug>_<workflow id>``: readable, unique, and the id is recoverable."""
    slug = re.sub(r"[^a-z0-9]+", "_", workflow.name.lower()).strip("_")[:_SLUG_LENGTH].strip("_")
    return f"{slug or 'workflow'}_{workflow.id}"


def workflow_id_of(name: str) -> str:
    """The workflow id at the end of a tool name.

    Raises:
        eawe.errors.NotFoundError: The name is not one of EAWE's tool names.
    """
    if len(name) <= _ID_LENGTH or name[-_ID_LENGTH - 1] != "_":
        raise NotFoundError("tool", name)
    return name[-_ID_LENGTH:]


async def list_workflow_tools(resources: ServerResources, principal: Principal) -> list[types.Tool]:
    """One tool per published workflow of the caller's tenant — none if the caller may not run any."""
    if not principal.allows(Permission.RUNS_CREATE):
        return []
    tools: list[types.Tool] = []
    async with resources.session() as session:
        page = await workflow_repo.list_workflows(
            session, principal.tenant_id, status=WorkflowStatus.ACTIVE, limit=resources.settings.page_size_max
        )
        for workflow in page.items:
            version = await workflow_repo.get_version(session, principal.tenant_id, workflow.id)
            schemas = state_json_schemas(version.definition_graph, "WorkflowState")
            tools.append(
                types.Tool(
                    name=tool_name(workflow),
                    title=workflow.name,
                    description=workflow.description
                    or f"Run the published workflow {workflow.name!r} (version {version.version}).",
                    inputSchema=schemas["input_schema"],
                )
            )
    return tools


def _result(outcome: RunOutcome) -> types.CallToolResult:
    run = outcome.run
    body: dict[str, Any] = {"run_id": run.id, "status": run.status.value}
    is_error = False
    if run.status == RunStatus.COMPLETED:
        body["output"] = outcome.values
        text = json.dumps(outcome.values, ensure_ascii=False, default=str)
    elif run.status == RunStatus.PAUSED_FOR_APPROVAL:
        tasks = ", ".join(outcome.pending_task_ids) or "(none open)"
        text = (
            f"Waiting for approval: run {run.id} is paused at an approval step (HITL task {tasks}). "
            "A reviewer decides with POST /v1/hitl-tasks/{id}/decision; the run then resumes "
            f"(follow it with GET /v1/runs/{run.id})."
        )
        body.update(waiting_for_approval=True, hitl_task_ids=outcome.pending_task_ids, message=text)
    elif run.status in (RunStatus.PENDING, RunStatus.RUNNING):
        text = f"Run {run.id} is still {run.status.value}; follow it with GET /v1/runs/{run.id}."
        body["message"] = text
    else:
        is_error = True
        kind = outcome.error_kind
        text = f"Run {run.id} ended {run.status.value}" + (f": {kind}" if kind else "")
        if run.status == RunStatus.PAUSED_WITH_ERROR:
            text += f" (retry it with POST /v1/runs/{run.id}/retry)"
        body.update(message=text, error=kind)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structuredContent=body, isError=is_error
    )


async def call_workflow_tool(
    resources: ServerResources, principal: Principal, name: str, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Start the tool's workflow as ``principal`` and report the run once it settles (bounded wait).

    Raises:
        eawe.errors.PermissionDeniedError: The caller may not start runs.
        eawe.errors.NotFoundError: No such published workflow in the caller's tenant.
        eawe.errors.ValidationError: The arguments do not fit the workflow's input state.
    """
    if not principal.allows(Permission.RUNS_CREATE):
        raise PermissionDeniedError(
            f"role {principal.role.value} may not perform {Permission.RUNS_CREATE.value}"
        )
    workflow_id = workflow_id_of(name)
    async with resources.session() as session:
        workflow, _ = await published_workflow(session, principal.tenant_id, workflow_id)
        await enforce_run_rate_limit(
            session, principal.tenant_id, resources.settings.run_rate_limit_per_minute
        )
    run = await resources.engine.start_run(principal.tenant_id, workflow.id, arguments, principal.user_id)
    run = await wait_until_settled(
        resources.engine, principal.tenant_id, run.id, timeout_s=resources.settings.interop_wait_seconds
    )
    return _result(await read_outcome(resources.engine, principal.tenant_id, run))
