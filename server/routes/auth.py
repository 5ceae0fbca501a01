"""``POST /v1/auth/token``: the OAuth2 password flow (``username`` = email)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from eawe.audit import ActorType, append_audit
from eawe.db.repositories.users import get_user_by_email_for_login
from eawe.db.tenant_scope import bind_tenant, system_scope
from eawe.passwords import hash_password, verify_password
from server.auth.tokens import issue_access_token
from server.deps import ResourcesDep
from server.problems import AuthenticationError
from server.schemas.identity import TokenOut

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])

# Verified against when the email is unknown, so both paths cost one Argon2 verification.
_DUMMY_HASH = hash_password("eawe-timing-equaliser")


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in (OAuth2 password flow)",
    responses={429: {"description": "Too many failed logins for this account or client address"}},
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, resources: ResourcesDep
) -> TokenOut:
    address = request.client.host if request.client else "unknown"
    throttle = resources.login_throttle
    await throttle.check(form.username, address)
    with system_scope():  # an e-mail address names no tenant until it is looked up
        async with resources.database.session() as session:
            user = await get_user_by_email_for_login(session, form.username)
    async with resources.database.transaction() as session:
        # Argon2 costs ~50 ms of CPU: off the event loop, so logins cannot stall other requests.
        ok = await asyncio.to_thread(verify_password, user.password if user else _DUMMY_HASH, form.password)
        if user is None or not ok or not user.is_active:
            await throttle.record_failure(form.username, address)
            raise AuthenticationError("incorrect email or password")
        bind_tenant(user.tenant_id)
        await append_audit(
            session,
            tenant_id=user.tenant_id,
            action="USER_LOGGED_IN",
            actor_type=ActorType.USER,
            actor_id=user.id,
        )
    access_token, lifetime = issue_access_token(
        resources.settings, user_id=user.id, tenant_id=user.tenant_id, session_epoch=user.session_epoch
    )
    return TokenOut(access_token=access_token, expires_in=lifetime)
