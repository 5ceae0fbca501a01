"""``/v1/users``: administrators manage users; everyone can read themselves and change their password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from eawe.db.models import Role
from eawe.db.repositories.users import (
    create_user,
    get_user,
    list_users,
    set_password,
    update_user,
    user_public,
)
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.schemas.common import PageOut
from server.schemas.identity import PasswordChange, PasswordReset, UserCreate, UserOut, UserUpdate

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201, response_model=UserOut, summary="Create a user")
async def create(body: UserCreate, principal: Requires.USERS_WRITE, resources: ResourcesDep) -> UserOut:
    async with resources.database.transaction() as session:
        user = await create_user(
            session,
            tenant_id=principal.tenant_id,
            email=body.email,
            password=body.password,
            role=body.role,
            name=body.name,
            groups=body.groups,
            actor_id=principal.user_id,
        )
    return UserOut.model_validate(user_public(user))


@router.get("", response_model=PageOut[UserOut], summary="List users")
async def list_(
    principal: Requires.USERS_READ,
    session: SessionDep,
    page: PageParamsDep,
    role: Annotated[Role | None, Query()] = None,
) -> PageOut[UserOut]:
    result = await list_users(session, principal.tenant_id, role=role, limit=page.limit, cursor=page.cursor)
    return PageOut[UserOut](
        items=[UserOut.model_validate(user_public(u)) for u in result.items], next_cursor=result.next_cursor
    )


@router.get("/me", response_model=UserOut, summary="The caller")
async def me(principal: Requires.SELF, session: SessionDep) -> UserOut:
    return UserOut.model_validate(
        user_public(await get_user(session, principal.tenant_id, principal.user_id))
    )


@router.post(
    "/me/password",
    status_code=204,
    response_class=Response,
    summary="Change my password (ends my other sessions)",
)
async def change_my_password(
    body: PasswordChange, principal: Requires.SELF, resources: ResourcesDep
) -> Response:
    async with resources.database.transaction() as session:
        await set_password(
            session,
            principal.tenant_id,
            principal.user_id,
            body.new_password,
            actor_id=principal.user_id,
            current_password=body.current_password,
        )
    return Response(status_code=204)


@router.get("/{user_id}", response_model=UserOut, summary="Get a user")
async def get(user_id: str, principal: Requires.USERS_READ, session: SessionDep) -> UserOut:
    return UserOut.model_validate(user_public(await get_user(session, principal.tenant_id, user_id)))


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    summary="Change a user's role, groups, name or active flag",
    responses={409: {"description": "Would demote or deactivate the tenant's last active administrator"}},
)
async def update(
    user_id: str, body: UserUpdate, principal: Requires.USERS_WRITE, resources: ResourcesDep
) -> UserOut:
    async with resources.database.transaction() as session:
        user = await update_user(
            session,
            principal.tenant_id,
            user_id,
            actor_id=principal.user_id,
            name=body.name,
            role=body.role,
            groups=body.groups,
            is_active=body.is_active,
        )
    return UserOut.model_validate(user_public(user))


@router.post(
    "/{user_id}/password",
    status_code=204,
    response_class=Response,
    summary="Reset a user's password (ends their sessions)",
)
async def reset_password(
    user_id: str, body: PasswordReset, principal: Requires.USERS_WRITE, resources: ResourcesDep
) -> Response:
    async with resources.database.transaction() as session:
        await set_password(
            session, principal.tenant_id, user_id, body.new_password, actor_id=principal.user_id
        )
    return Response(status_code=204)
