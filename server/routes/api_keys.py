"""``/v1/api-keys``: keys for machine clients. The key is in the create response only."""

from __future__ import annotations

from fastapi import APIRouter

from eawe.db.repositories.api_keys import api_key_public, create_api_key, list_api_keys, revoke_api_key
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.schemas.common import PageOut
from server.schemas.identity import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

__all__ = ["router"]

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated, summary="Create an API key (shown once)")
async def create(
    body: ApiKeyCreate, principal: Requires.API_KEYS_MANAGE, resources: ResourcesDep
) -> ApiKeyCreated:
    async with resources.database.transaction() as session:
        issued = await create_api_key(
            session,
            tenant_id=principal.tenant_id,
            user_id=body.user_id or principal.user_id,
            name=body.name,
            actor_id=principal.user_id,
        )
    return ApiKeyCreated.model_validate({**api_key_public(issued.row), "key": issued.plaintext})


@router.get("", response_model=PageOut[ApiKeyOut], summary="List API keys")
async def list_(
    principal: Requires.API_KEYS_MANAGE, session: SessionDep, page: PageParamsDep
) -> PageOut[ApiKeyOut]:
    result = await list_api_keys(session, principal.tenant_id, limit=page.limit, cursor=page.cursor)
    return PageOut[ApiKeyOut](
        items=[ApiKeyOut.model_validate(api_key_public(k)) for k in result.items],
        next_cursor=result.next_cursor,
    )


@router.delete("/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke(key_id: str, principal: Requires.API_KEYS_MANAGE, resources: ResourcesDep) -> ApiKeyOut:
    async with resources.database.transaction() as session:
        row = await revoke_api_key(session, principal.tenant_id, key_id, actor_id=principal.user_id)
    resources.verified_api_keys.clear()
    return ApiKeyOut.model_validate(api_key_public(row))
