"""``/v1/credentials``: encrypted third-party secrets. Responses carry metadata only."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eawe.credentials import (
    create_credential,
    credential_metadata,
    delete_credential,
    get_credential,
    list_credentials,
    update_credential_scope,
)
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.schemas.admin import CredentialCreate, CredentialOut, CredentialScopeUpdate
from server.schemas.common import PageOut

__all__ = ["router"]

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.post("", status_code=201, response_model=CredentialOut, summary="Store a credential")
async def create(
    body: CredentialCreate, principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep
) -> CredentialOut:
    async with resources.database.transaction() as session:
        row = await create_credential(
            session,
            resources.cipher,
            tenant_id=principal.tenant_id,
            name=body.name,
            type=body.type,
            service_name=body.service_name,
            secret=body.value,
            allowed_hosts=body.allowed_hosts,
            allowed_methods=list(body.allowed_methods),
            actor_id=principal.user_id,
        )
    return CredentialOut.model_validate(credential_metadata(row))


@router.get("", response_model=PageOut[CredentialOut], summary="List credentials (metadata only)")
async def list_(
    principal: Requires.CREDENTIALS_MANAGE, session: SessionDep, page: PageParamsDep
) -> PageOut[CredentialOut]:
    result = await list_credentials(session, principal.tenant_id, limit=page.limit, cursor=page.cursor)
    return PageOut[CredentialOut](
        items=[CredentialOut.model_validate(credential_metadata(c)) for c in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{credential_id}", response_model=CredentialOut, summary="Get a credential's metadata")
async def get(
    credential_id: str, principal: Requires.CREDENTIALS_MANAGE, session: SessionDep
) -> CredentialOut:
    return CredentialOut.model_validate(
        credential_metadata(await get_credential(session, principal.tenant_id, credential_id))
    )


@router.patch(
    "/{credential_id}", response_model=CredentialOut, summary="Change where a credential may be sent"
)
async def update_scope(
    credential_id: str,
    body: CredentialScopeUpdate,
    principal: Requires.CREDENTIALS_MANAGE,
    resources: ResourcesDep,
) -> CredentialOut:
    async with resources.database.transaction() as session:
        row = await update_credential_scope(
            session,
            principal.tenant_id,
            credential_id,
            allowed_hosts=body.allowed_hosts,
            allowed_methods=list(body.allowed_methods) if body.allowed_methods is not None else None,
            actor_id=principal.user_id,
        )
    return CredentialOut.model_validate(credential_metadata(row))


@router.delete("/{credential_id}", status_code=204, response_class=Response, summary="Delete a credential")
async def delete(
    credential_id: str, principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep
) -> Response:
    async with resources.database.transaction() as session:
        await delete_credential(session, principal.tenant_id, credential_id, actor_id=principal.user_id)
    return Response(status_code=204)
