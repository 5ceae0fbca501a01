"""API keys for machine clients: ``eawe_<prefix>_<secret>``, shown once, stored as Argon2id.

The prefix is a public lookup handle (unique, random); the whole key is hashed, so a
database dump does not yield usable keys. A key acts as its user (role and groups), is
scoped to the user's tenant, and stops working the moment it is revoked or the user is
deactivated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import ApiKey, User, utcnow
from eawe.db.pagination import Page, paginate
from eawe.db.repositories.users import get_user
from eawe.errors import NotFoundError, Problem, ValidationError
from eawe.passwords import hash_password, verify_password

__all__ = [
    "KEY_MARKER",
    "IssuedApiKey",
    "ResolvedApiKey",
    "api_key_public",
    "create_api_key",
    "get_api_key",
    "list_api_keys",
    "looks_like_api_key",
    "resolve_api_key",
    "revoke_api_key",
]

KEY_MARKER = "eawe_"
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_PREFIX_LENGTH = 12
_MAX_NAME = 200


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly created key: ``plaintext`` exists only in this object and the one response."""

    row: ApiKey
    plaintext: str


@dataclass(frozen=True)
class ResolvedApiKey:
    row: ApiKey
    user: User


def looks_like_api_key(value: str) -> bool:
    """True for strings shaped like an EAWE API key (JWTs never start with the marker)."""
    return value.startswith(KEY_MARKER)


def _split(raw: str) -> tuple[str, str] | None:
    if not looks_like_api_key(raw):
        return None
    prefix, sep, secret = raw[len(KEY_MARKER) :].partition("_")
    if not sep or len(prefix) != _PREFIX_LENGTH or not secret:
        return None
    return prefix, secret


async def create_api_key(
    session: AsyncSession, *, tenant_id: str, user_id: str, name: str, actor_id: str | None = None
) -> IssuedApiKey:
    """Issue a key acting as ``user_id`` (a user of ``tenant_id``; a foreign user is not found)."""
    clean = (name or "").strip()
    if not clean:
        raise ValidationError(Problem(field="name", message="must not be empty"))
    if len(clean) > _MAX_NAME:
        raise ValidationError(Problem(field="name", message=f"must be at most {_MAX_NAME} characters"))
    user = await get_user(session, tenant_id, user_id)
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(_PREFIX_LENGTH))
    plaintext = f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=new_id(),
        tenant_id=tenant_id,
        user_id=user.id,
        name=clean,
        prefix=prefix,
        key_hash=hash_password(plaintext),
    )
    session.add(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="API_KEY_CREATED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={"api_key_id": row.id, "name": clean, "prefix": prefix, "user_id": user.id},
    )
    return IssuedApiKey(row=row, plaintext=plaintext)


async def get_api_key(session: AsyncSession, tenant_id: str, key_id: str) -> ApiKey:
    row = await session.scalar(select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id))
    if row is None:
        raise NotFoundError("api key", key_id)
    return row


async def list_api_keys(
    session: AsyncSession,
    tenant_id: str,
    *,
    user_id: str | None = None,
    include_revoked: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return await paginate(session, stmt, ApiKey.id, limit=limit, cursor=cursor)


async def revoke_api_key(
    session: AsyncSession, tenant_id: str, key_id: str, *, actor_id: str | None = None
) -> ApiKey:
    """Revoke a key (idempotent: revoking twice keeps the first time)."""
    row = await get_api_key(session, tenant_id, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="API_KEY_REVOKED",
            actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
            actor_id=actor_id,
            details={"api_key_id": row.id, "prefix": row.prefix},
        )
    return row


async def resolve_api_key(session: AsyncSession, raw: str) -> ResolvedApiKey | None:
    """The live key and active user behind ``raw``, or None (wrong, revoked, or user inactive).

    Like login, this lookup is tenant-less: the key identifies its tenant.
    """
    parts = _split(raw)
    if parts is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == parts[0]))
    if row is None or row.revoked_at is not None:
        return None
    if not verify_password(row.key_hash, raw):
        return None
    user = await session.scalar(select(User).where(User.id == row.user_id, User.tenant_id == row.tenant_id))
    if user is None or not user.is_active:
        return None
    return ResolvedApiKey(row=row, user=user)


def api_key_public(row: ApiKey) -> dict[str, Any]:
    """Everything about a key except its hash (the secret itself is never stored)."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }
