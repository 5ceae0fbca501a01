"""``/v1/audit-logs``: query the tenant's audit trail and verify its hash chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from eawe.audit import verify_chain
from eawe.db.models import AuditLog
from eawe.db.pagination import paginate
from server.deps import PageParamsDep, Requires, SessionDep
from server.schemas.admin import AuditLogOut, AuditVerificationOut
from server.schemas.common import PageOut

__all__ = ["router"]

router = APIRouter(prefix="/audit-logs", tags=["audit-logs"])


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@router.get("", response_model=PageOut[AuditLogOut], summary="Query the audit log (newest first)")
async def list_(
    principal: Requires.AUDIT_READ,
    session: SessionDep,
    page: PageParamsDep,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor_id: Annotated[str | None, Query(max_length=100)] = None,
    workflow_run_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; exclusive")] = None,
) -> PageOut[AuditLogOut]:
    stmt = select(AuditLog).where(AuditLog.tenant_id == principal.tenant_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor_id:
        stmt = stmt.where(AuditLog.actor_id == actor_id)
    if workflow_run_id:
        stmt = stmt.where(AuditLog.workflow_run_id == workflow_run_id)
    if since is not None:
        stmt = stmt.where(AuditLog.timestamp >= _naive_utc(since))
    if until is not None:
        stmt = stmt.where(AuditLog.timestamp < _naive_utc(until))
    result = await paginate(session, stmt, AuditLog.id, limit=page.limit, cursor=page.cursor)
    return PageOut[AuditLogOut](
        items=[AuditLogOut.model_validate(row) for row in result.items], next_cursor=result.next_cursor
    )


@router.get("/verify", response_model=AuditVerificationOut, summary="Verify the tenant's hash chain")
async def verify(principal: Requires.AUDIT_READ, session: SessionDep) -> AuditVerificationOut:
    return AuditVerificationOut(**(await verify_chain(session, principal.tenant_id)).as_dict())
