"""``/v1/runs``: start (202, executed by a worker), list, inspect, cancel, retry, and an SSE event stream."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from eawe.db.models import HITLStatus, RunStatus, WorkflowRun
from eawe.db.repositories import runs as repo
from eawe.db.repositories.hitl import tasks_for_run
from eawe.db.repositories.usage import run_usage
from eawe.errors import EAWEError
from server.auth.run_visibility import can_read_run_content, metadata_error, runs_with_readable_content
from server.deps import PageParamsDep, Principal, Requires, ResourcesDep, SessionDep
from server.limits import enforce_run_rate_limit
from server.resources import ServerResources
from server.run_events import run_event_stream
from server.schemas.common import PageOut
from server.schemas.workflows import RunCreate, RunOut

__all__ = ["router"]

router = APIRouter(prefix="/runs", tags=["runs"])
_log = logging.getLogger(__name__)


def _out(row: WorkflowRun, content_visible: bool, **extra: Any) -> RunOut:
    body = {**repo.run_public(row), **extra, "content_visible": content_visible}
    if not content_visible:
        body.update(input=None, payload=None, state=None, current_state=None, error=metadata_error(row.error))
    return RunOut.model_validate(body)


async def _visible_out(resources: ServerResources, principal: Principal, row: WorkflowRun) -> RunOut:
    async with resources.database.session() as session:
        return _out(row, await can_read_run_content(session, principal, row))


@router.post(
    "",
    status_code=202,
    response_model=RunOut,
    summary="Start a run (queued; a worker executes it)",
    responses={429: {"description": "The tenant's run-creation rate limit was reached"}},
)
async def create(body: RunCreate, principal: Requires.RUNS_CREATE, resources: ResourcesDep) -> RunOut:
    async with resources.database.session() as session:
        await enforce_run_rate_limit(
            session, principal.tenant_id, resources.settings.run_rate_limit_per_minute
        )
    run = await resources.engine.start_run(
        principal.tenant_id,
        body.workflow_id,
        body.input,
        principal.user_id,
        version=body.version,
        thread_id=body.thread_id,
        multitask_strategy=body.multitask_strategy,
    )
    return _out(run, content_visible=True)  # the caller is its starter


@router.get("", response_model=PageOut[RunOut], summary="List runs")
async def list_(
    principal: Requires.RUNS_READ,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[RunStatus | None, Query()] = None,
    workflow_id: Annotated[str | None, Query(max_length=100)] = None,
) -> PageOut[RunOut]:
    result = await repo.list_runs(
        session,
        principal.tenant_id,
        status=status,
        workflow_id=workflow_id,
        limit=page.limit,
        cursor=page.cursor,
    )
    readable = await runs_with_readable_content(session, principal, result.items)
    return PageOut[RunOut](
        items=[_out(r, r.id in readable) for r in result.items], next_cursor=result.next_cursor
    )


@router.get("/{run_id}", response_model=RunOut, summary="Get a run with its current state")
async def get(run_id: str, principal: Requires.RUNS_READ, resources: ResourcesDep) -> RunOut:
    async with resources.database.session() as session:
        run = await repo.get_run(session, principal.tenant_id, run_id)
        pending = await tasks_for_run(session, principal.tenant_id, run_id, status=HITLStatus.PENDING)
        visible = await can_read_run_content(session, principal, run)
        usage = await run_usage(session, principal.tenant_id, run.id)
    if not visible:
        return _out(run, False, pending_tasks=[t.id for t in pending], usage=usage)
    try:
        current: dict[str, Any] | None = await resources.engine.run_state(principal.tenant_id, run_id)
    except EAWEError:
        # The pinned version no longer compiles (e.g. a node type was uninstalled): still show the run.
        _log.warning("run %s: current state unavailable", run_id, exc_info=True)
        current = None
    return _out(run, True, current_state=current, pending_tasks=[t.id for t in pending], usage=usage)


@router.post("/{run_id}/cancel", response_model=RunOut, summary="Cancel a run")
async def cancel(run_id: str, principal: Requires.RUNS_CONTROL, resources: ResourcesDep) -> RunOut:
    run = await resources.engine.cancel(principal.tenant_id, run_id, actor_id=principal.user_id)
    return await _visible_out(resources, principal, run)


@router.post(
    "/{run_id}/retry", status_code=202, response_model=RunOut, summary="Retry a run paused with an error"
)
async def retry(run_id: str, principal: Requires.RUNS_CONTROL, resources: ResourcesDep) -> RunOut:
    run = await resources.engine.retry(principal.tenant_id, run_id, actor_id=principal.user_id)
    return await _visible_out(resources, principal, run)


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    summary="Server-Sent Events: status changes, finished nodes, HITL tasks (replayable by Last-Event-ID)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    run_id: str,
    request: Request,
    principal: Requires.RUNS_READ,
    resources: ResourcesDep,
    stop_on_pause: Annotated[bool, Query(description="End the stream when the run pauses")] = False,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=2_147_483_647,
            description="Replay the events after this id (the `id` of the last event received)",
        ),
    ] = None,
) -> EventSourceResponse:
    async with resources.database.session() as session:
        run = await repo.get_run(session, principal.tenant_id, run_id)  # 404 before the stream starts
        content_visible = await can_read_run_content(session, principal, run)
    stream = run_event_stream(
        resources.engine,
        principal.tenant_id,
        run_id,
        request,
        after=last_event_id or 0,
        stop_on_pause=stop_on_pause,
        content_visible=content_visible,
    )
    return EventSourceResponse(stream, ping=15)
