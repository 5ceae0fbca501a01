"""Who is calling: the :class:`Principal` and the dependencies that authenticate and authorise.

A request carries either a JWT (``Authorization: Bearer <jwt>``) or an API key
(``Authorization: Bearer eawe_...`` or ``X-Api-Key: eawe_...``; the header LangGraph's SDK
sends). ``X-Api-Key`` may also carry a JWT, so the SDK works with a login token too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select, update

from eawe.db.models import ApiKey, Role, User, utcnow
from eawe.db.repositories.api_keys import looks_like_api_key, resolve_api_key
from eawe.db.tenant_scope import bind_tenant, system_scope, tenant_scope
from eawe.errors import PermissionDeniedError
from server.auth.permissions import Permission, role_allows
from server.auth.tokens import AccessTokenClaims, decode_access_token
from server.problems import AuthenticationError
from server.resources import ServerResources, get_resources

__all__ = ["Principal", "PrincipalDep", "authenticate", "require"]

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. Every tenant-scoped query takes ``tenant_id`` from here."""

    tenant_id: str
    user_id: str
    email: str
    role: Role
    groups: tuple[str, ...] = field(default_factory=tuple)
    api_key_id: str | None = None

    def allows(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("Authorization header must be 'Bearer <token>'")
        return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _principal(user: User, api_key_id: str | None = None) -> Principal:
    return Principal(
        tenant_id=user.tenant_id,
        user_id=user.id,
        email=user.email,
        role=user.role,
        groups=tuple(user.groups or ()),
        api_key_id=api_key_id,
    )


async def _from_api_key(resources: ServerResources, raw: str) -> Principal:
    digest = hashlib.sha256(raw.encode()).hexdigest()
    # A key names no tenant until it is looked up: the lookup by hash spans every tenant.
    with system_scope():
        return await _resolve_api_key(resources, raw, digest)


async def _resolve_api_key(resources: ServerResources, raw: str, digest: str) -> Principal:
    async with resources.database.session() as session:
        cached_key_id = resources.verified_api_keys.get(digest)
        if cached_key_id is not None:
            # Hash already verified in this process; still re-read the row so revocation is immediate.
            row = await session.scalar(select(ApiKey).where(ApiKey.id == cached_key_id))
            user = await session.get(User, row.user_id) if row is not None else None
            if row is None or row.revoked_at is not None or user is None or not user.is_active:
                resources.verified_api_keys.pop(digest, None)
                raise AuthenticationError("invalid or revoked API key")
        else:
            resolved = await resolve_api_key(session, raw)
            if resolved is None:
                raise AuthenticationError("invalid or revoked API key")
            row, user = resolved.row, resolved.user
            resources.remember_api_key(digest, row.id)
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
            await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
            await session.commit()
        return _principal(user, api_key_id=row.id)


async def _from_jwt(resources: ServerResources, token: str) -> Principal:
    claims = decode_access_token(resources.settings, token)
    with tenant_scope(claims.tenant_id):
        return await _user_of_claims(resources, claims)


async def _user_of_claims(resources: ServerResources, claims: AccessTokenClaims) -> Principal:
    async with resources.database.session() as session:
        user = await session.scalar(
            select(User).where(User.id == claims.user_id, User.tenant_id == claims.tenant_id)
        )
    if user is None or not user.is_active:
        raise AuthenticationError("invalid access token")
    if claims.session_epoch != user.session_epoch:
        # A password change or reset, or a deactivation, ended the sessions issued before it.
        raise AuthenticationError("access token revoked: log in again")
    return _principal(user)


async def authenticate(request: Request) -> Principal:
    """Resolve the caller or raise 401. Cached per request."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        bind_tenant(cached.tenant_id)
        return cached
    token = _bearer(request)
    if token is None:
        raise AuthenticationError("authentication required: send 'Authorization: Bearer <token>'")
    resources = get_resources(request)
    principal = await (
        _from_api_key(resources, token) if looks_like_api_key(token) else _from_jwt(resources, token)
    )
    request.state.principal = principal
    # The rest of the request sees this tenant's rows only (PostgreSQL row-level security).
    bind_tenant(principal.tenant_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and then checks ``permission`` against the role matrix."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.allows(permission):
            raise PermissionDeniedError(f"role {principal.role.value} may not perform {permission.value}")
        return principal

    dependency.required_permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return dependency
