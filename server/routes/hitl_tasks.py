"""``/v1/hitl-tasks``: the approval inbox. A decision is applied exactly once; a second one is 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import HITLStatus, HITLTask, User, WorkflowRun
from eawe.db.repositories import hitl as repo
from server.auth.run_visibility import runs_with_readable_content
from server.deps import PageParamsDep, Principal, Requires, ResourcesDep, SessionDep
from server.schemas.common import PageOut
from server.schemas.workflows import HitlDecisionIn, HitlTaskOut

__all__ = ["router"]

router = APIRouter(prefix="/hitl-tasks", tags=["hitl-tasks"])


_CONTENT_FIELDS = ("task_data", "original_agent_output", "human_corrected_output", "rejection_reason")


async def _outs(session: AsyncSession, principal: Principal, rows: list[HITLTask]) -> list[HitlTaskOut]:
    """Tasks as the caller may see them: a task's data is its run's content (server/auth/run_visibility)."""
    run_ids = {row.workflow_run_id for row in rows}
    runs = (
        (await session.scalars(select(WorkflowRun).where(WorkflowRun.id.in_(run_ids)))).all() if rows else []
    )
    readable = await runs_with_readable_content(session, principal, runs)
    out = []
    for row in rows:
        body = repo.task_public(row)
        body["content_visible"] = row.workflow_run_id in readable
        if not body["content_visible"]:
            body.update(dict.fromkeys(_CONTENT_FIELDS))
        out.append(HitlTaskOut.model_validate(body))
    return out


async def _out(session: AsyncSession, principal: Principal, row: HITLTask) -> HitlTaskOut:
    return (await _outs(session, principal, [row]))[0]


def _as_user(principal: Principal) -> User:
    # list_tasks only reads id and role to match "assigned to me or to my role".
    return User(id=principal.user_id, role=principal.role, tenant_id=principal.tenant_id)


@router.get("", response_model=PageOut[HitlTaskOut], summary="List tasks (filter by status, run, or mine)")
async def list_(
    principal: Requires.HITL_READ,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[HITLStatus | None, Query()] = None,
    workflow_run_id: Annotated[str | None, Query(max_length=100)] = None,
    mine: Annotated[bool, Query(description="Only tasks assigned to me or to my role")] = False,
) -> PageOut[HitlTaskOut]:
    result = await repo.list_tasks(
        session,
        principal.tenant_id,
        status=status,
        run_id=workflow_run_id,
        assignable_to=_as_user(principal) if mine else None,
        limit=page.limit,
        cursor=page.cursor,
    )
    items = await _outs(session, principal, list(result.items))
    return PageOut[HitlTaskOut](items=items, next_cursor=result.next_cursor)


@router.get(
    "/inbox",
    response_model=PageOut[HitlTaskOut],
    summary="My open tasks (assigned to me or my role), the soonest due first",
)
async def inbox(
    principal: Requires.HITL_READ, session: SessionDep, page: PageParamsDep
) -> PageOut[HitlTaskOut]:
    result = await repo.list_inbox(
        session, principal.tenant_id, _as_user(principal), limit=page.limit, cursor=page.cursor
    )
    items = await _outs(session, principal, list(result.items))
    return PageOut[HitlTaskOut](items=items, next_cursor=result.next_cursor)


@router.get("/{task_id}", response_model=HitlTaskOut, summary="Get a task")
async def get(task_id: str, principal: Requires.HITL_READ, session: SessionDep) -> HitlTaskOut:
    return await _out(session, principal, await repo.get_task(session, principal.tenant_id, task_id))


@router.post(
    "/{task_id}/decision",
    response_model=HitlTaskOut,
    summary="Approve, reject or edit-and-approve (once)",
    responses={409: {"description": "The task was already decided"}},
)
async def decide(
    task_id: str,
    body: HitlDecisionIn,
    principal: Requires.HITL_DECIDE,
    resources: ResourcesDep,
    session: SessionDep,
) -> HitlTaskOut:
    task = await resources.engine.decide(
        principal.tenant_id, task_id, body.model_dump(exclude_none=True), actor_id=principal.user_id
    )
    return await _out(session, principal, task)
