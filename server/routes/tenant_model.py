"""``/v1/tenant/model``: the tenant's own chat model (administrators). Unset: the deployment's
default (``OPENAI_API_KEY`` or the deterministic local model)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from eawe.db.repositories.tenant_models import (
    TenantModelSettings,
    clear_tenant_model,
    get_tenant_model,
    set_tenant_model,
)
from server.deps import Requires, ResourcesDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/tenant/model", tags=["tenant-model"])


@router.get("", summary="The tenant's chat model (null: the deployment default)")
async def get(principal: Requires.CREDENTIALS_MANAGE, session: SessionDep) -> dict[str, Any]:
    current = await get_tenant_model(session, principal.tenant_id)
    return {"model": current.model_dump() if current else None}


@router.put("", summary="Route the tenant's llm nodes to its own OpenAI-compatible endpoint")
async def put(
    body: TenantModelSettings, principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep
) -> dict[str, Any]:
    async with resources.database.transaction() as session:
        stored = await set_tenant_model(session, principal.tenant_id, body, actor_id=principal.user_id)
    return {"model": stored.model_dump()}


@router.delete("", status_code=204, response_class=Response, summary="Back to the deployment default")
async def delete(principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep) -> Response:
    async with resources.database.transaction() as session:
        await clear_tenant_model(session, principal.tenant_id, actor_id=principal.user_id)
    return Response(status_code=204)
