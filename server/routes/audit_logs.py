"""``/v1/audit-logs``: query the tenant's audit log, its signed tree heads and Merkle proofs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from eawe import audit_proofs
from eawe.db.models import AuditLog
from eawe.db.pagination import paginate
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.schemas.admin import (
    AuditLogOut,
    AuditPublicKeysOut,
    AuditVerificationOut,
    ConsistencyProofOut,
    InclusionProofOut,
    TreeHeadOut,
)
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


@router.get(
    "/verify",
    response_model=AuditVerificationOut,
    summary="Recompute the tenant's tree and check its signed heads",
)
async def verify(principal: Requires.AUDIT_READ, resources: ResourcesDep) -> AuditVerificationOut:
    keys = resources.settings.audit_signer().public_keys()
    result, unsealed = await audit_proofs.verify_tenant_log(resources.database, principal.tenant_id, keys)
    return AuditVerificationOut(**result.as_dict(), unsealed=unsealed)


@router.get(
    "/tree-head", response_model=TreeHeadOut, summary="The latest signed tree head of the tenant's log"
)
async def tree_head(principal: Requires.AUDIT_READ, resources: ResourcesDep) -> TreeHeadOut:
    head = await audit_proofs.latest_head(resources.database, principal.tenant_id)
    return TreeHeadOut(**head.as_dict())


@router.get(
    "/consistency-proof",
    response_model=ConsistencyProofOut,
    summary="RFC 9162 consistency proof between two tree sizes",
)
async def consistency_proof(
    principal: Requires.AUDIT_READ,
    resources: ResourcesDep,
    first: Annotated[int, Query(ge=1, description="The earlier tree size")],
    second: Annotated[int | None, Query(ge=1, description="The later tree size (default: latest)")] = None,
) -> ConsistencyProofOut:
    return ConsistencyProofOut(
        **await audit_proofs.consistency(resources.database, principal.tenant_id, first, second)
    )


@router.get(
    "/public-keys", response_model=AuditPublicKeysOut, summary="Ed25519 public keys that sign tree heads"
)
async def public_keys(resources: ResourcesDep) -> AuditPublicKeysOut:
    # Public by nature (like a JWKS): verifiers fetch them without an account.
    signer = resources.settings.audit_signer()
    return AuditPublicKeysOut.model_validate({"keys": signer.public_keys().describe(signer.active_key_id)})


@router.get(
    "/{entry_id}/inclusion-proof",
    response_model=InclusionProofOut,
    summary="RFC 9162 inclusion proof of one entry in the tree of a given size",
)
async def inclusion_proof(
    entry_id: str,
    principal: Requires.AUDIT_READ,
    resources: ResourcesDep,
    tree_size: Annotated[int | None, Query(ge=1, description="Default: the latest signed head")] = None,
) -> InclusionProofOut:
    return InclusionProofOut(
        **await audit_proofs.inclusion(resources.database, principal.tenant_id, entry_id, tree_size)
    )
