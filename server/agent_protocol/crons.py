"""Agent-Protocol crons: scheduled runs of an assistant, on a thread or on a new thread each tick.

Each tick is started by a worker as the cron's creator (``checkpoints.cron_scheduler``), so roles,
tenant isolation and the run rate limit apply as to any run; creating a cron needs
``runs:create``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from checkpoints.cron_scheduler import next_run_time
from checkpoints.run_targets import resolve_assistant
from eawe.db.models import Cron, utcnow
from eawe.db.repositories import crons as repo
from eawe.db.repositories import threads as thread_repo
from server.agent_protocol.encoding import iso, jsonable
from server.deps import Principal, Requires, ResourcesDep, SessionDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(tags=["agent-protocol"])

_PAYLOAD_KEYS = (
    "input",
    "config",
    "context",
    "metadata",
    "stream_mode",
    "interrupt_before",
    "interrupt_after",
    "multitask_strategy",
    "webhook",
    "checkpoint_id",
)


class CronCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    assistant_id: str = Field(min_length=1, max_length=200)
    schedule: str = Field(min_length=1, max_length=120)
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    end_time: datetime | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = Field(default=None, max_length=2000)
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None = None


class CronPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schedule: str | None = Field(default=None, min_length=1, max_length=120)
    end_time: datetime | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None
    enabled: bool | None = None


class CronSearch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    assistant_id: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: str | None = Field(default=None, max_length=40)
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


def cron_view(cron: Cron) -> dict[str, Any]:
    return {
        "cron_id": cron.id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "schedule": cron.schedule,
        "end_time": iso(cron.end_time),
        "next_run_date": iso(cron.next_run_at),
        "payload": jsonable(cron.payload),
        "metadata": jsonable(cron.metadata_ or {}),
        "enabled": cron.enabled,
        "user_id": cron.created_by_id,
        "created_at": iso(cron.created_at),
        "updated_at": iso(cron.updated_at),
    }


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


async def _create(
    resources: ServerResources, principal: Principal, thread_id: str | None, body: CronCreate
) -> Cron:
    next_at = next_run_time(body.schedule)
    async with resources.database.transaction() as session:
        assistant = await resolve_assistant(
            resources.engine.resources, session, principal.tenant_id, body.assistant_id
        )
        if thread_id is not None:
            await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        payload = {k: v for k, v in body.model_dump().items() if k in _PAYLOAD_KEYS and v is not None}
        return await repo.create_cron(
            session,
            principal.tenant_id,
            assistant_id=assistant.id,
            thread_id=thread_id,
            schedule=body.schedule,
            next_run_at=next_at,
            payload=jsonable(payload),
            metadata=body.metadata,
            end_time=_naive_utc(body.end_time),
            created_by_id=principal.user_id,
        )


@router.post("/threads/{thread_id}/runs/crons", summary="Schedule runs on a thread")
async def create_thread_cron(
    thread_id: str, body: CronCreate, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    return cron_view(await _create(resources, principal, thread_id, body))


@router.post("/runs/crons", summary="Schedule runs, each on a new thread")
async def create_cron(
    body: CronCreate, principal: Requires.RUNS_CREATE, resources: ResourcesDep
) -> dict[str, Any]:
    return cron_view(await _create(resources, principal, None, body))


@router.post("/runs/crons/search", summary="Search crons")
async def search_crons(
    body: CronSearch, principal: Requires.RUNS_READ, session: SessionDep
) -> list[dict[str, Any]]:
    rows = await repo.search_crons(
        session,
        principal.tenant_id,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
        enabled=body.enabled,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    views = [cron_view(row) for row in rows]
    if body.select:
        views = [{k: v for k, v in view.items() if k in body.select} for view in views]
    return views


@router.post("/runs/crons/count", summary="Count crons")
async def count_crons(body: CronSearch, principal: Requires.RUNS_READ, session: SessionDep) -> int:
    return await repo.count_crons(
        session, principal.tenant_id, assistant_id=body.assistant_id, thread_id=body.thread_id
    )


@router.patch("/runs/crons/{cron_id}", summary="Change a cron")
async def patch_cron(
    cron_id: str, principal: Requires.RUNS_CREATE, resources: ResourcesDep, body: CronPatch | None = None
) -> dict[str, Any]:
    body = body or CronPatch()
    async with resources.database.transaction() as session:
        cron = await repo.get_cron(session, principal.tenant_id, cron_id, for_update=True)
        if body.schedule is not None:
            cron.next_run_at = next_run_time(body.schedule)
            cron.schedule = body.schedule
        if body.end_time is not None:
            cron.end_time = _naive_utc(body.end_time)
        if body.input is not None:
            cron.payload = {**(cron.payload or {}), "input": jsonable(body.input)}
        if body.metadata is not None:
            cron.metadata_ = {**(cron.metadata_ or {}), **body.metadata}
        if body.enabled is not None:
            cron.enabled = body.enabled
        cron.updated_at = utcnow()
        await session.flush()
        return cron_view(cron)


@router.delete("/runs/crons/{cron_id}", status_code=204, summary="Delete a cron")
async def delete_cron(cron_id: str, principal: Requires.RUNS_CREATE, resources: ResourcesDep) -> Response:
    async with resources.database.transaction() as session:
        await repo.delete_cron(session, principal.tenant_id, cron_id)
    return Response(status_code=204)
