"""``POST /v1/auth/token``: the OAuth2 password flow (``username`` = email)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from eawe.audit import ActorType, append_audit
from eawe.db.repositories.users import get_user_by_email_for_login
from eawe.passwords import hash_password, verify_password
from server.auth.tokens import issue_access_token
from server.deps import ResourcesDep
from server.problems import AuthenticationError
from server.schemas.identity import TokenOut

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])

# Verified against when the email is unknown, so both paths cost one Argon2 verification.
_DUMMY_HASH = hash_password("eawe-timing-equaliser")


@router.post("/token", response_model=TokenOut, summary="Log in (OAuth2 password flow)")
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], resources: ResourcesDep) -> TokenOut:
    async with resources.database.transaction() as session:
        user = await get_user_by_email_for_login(session, form.username)
        ok = verify_password(user.password if user else _DUMMY_HASH, form.password)
        if user is None or not ok or not user.is_active:
            raise AuthenticationError("incorrect email or password")
        await append_audit(
            session,
            tenant_id=user.tenant_id,
            action="USER_LOGGED_IN",
            actor_type=ActorType.USER,
            actor_id=user.id,
        )
    access_token, lifetime = issue_access_token(resources.settings, user_id=user.id, tenant_id=user.tenant_id)
    return TokenOut(access_token=access_token, expires_in=lifetime)
