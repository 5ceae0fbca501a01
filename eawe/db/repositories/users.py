"""Users: always scoped by tenant, except the login lookup by (globally unique) email."""

from __future__ import annotations

import asyncio
from typing import Any

import email_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import Role, User
from eawe.db.pagination import Page, paginate
from eawe.db.unique_conflicts import conflict_on_duplicate
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError
from eawe.passwords import hash_password, verify_password

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "create_user",
    "get_user",
    "get_user_by_email_for_login",
    "list_users",
    "normalize_email",
    "parse_role",
    "set_password",
    "update_user",
    "user_public",
]

MIN_PASSWORD_LENGTH = 8

# Enterprises run mail on internal names (corp.local, acme.test, *.internal); email-validator
# refuses RFC 6761 special-use names, and its documented way to allow some is to edit this list.
_INTERNAL_DOMAINS = {"local", "test", "localhost", "internal", "home.arpa"}
email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
    name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name not in _INTERNAL_DOMAINS
]


def normalize_email(email: str, field: str = "email") -> str:
    """Validate (syntax only, no DNS) and lower-case an email address, or raise naming ``field``."""
    if not isinstance(email, str):
        raise ValidationError(Problem(field=field, message="invalid email address: must be a string"))
    try:
        checked = email_validator.validate_email(email.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError(Problem(field=field, message=f"invalid email address: {exc}")) from None
    return checked.normalized.lower()


def parse_role(value: Role | str, field: str = "role") -> Role:
    try:
        return value if isinstance(value, Role) else Role(str(value).upper())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValidationError(
            Problem(field=field, message=f"unknown role {value!r}; valid: {valid}")
        ) from None


def _clean_groups(groups: list[str] | None, field: str = "groups") -> list[str]:
    out: list[str] = []
    for index, group in enumerate(groups or []):
        if not isinstance(group, str) or not group.strip():
            raise ValidationError(
                Problem(field=f"{field}[{index}]", message="group names must be non-empty strings")
            )
        if group.strip() not in out:
            out.append(group.strip())
    return out


async def create_user(
    session: AsyncSession,
    *,
    tenant_id: str,
    email: str,
    password: str,
    role: Role | str = Role.OPERATOR,
    name: str | None = None,
    groups: list[str] | None = None,
    actor_id: str | None = None,
) -> User:
    """Create a user in ``tenant_id``; the caller's transaction keeps it all-or-nothing."""
    problems: list[Problem] = []
    try:
        clean_email = normalize_email(email)
    except ValidationError as exc:
        problems.extend(exc.problems)
        clean_email = ""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            Problem(field="password", message=f"must be at least {MIN_PASSWORD_LENGTH} characters")
        )
    try:
        clean_role = parse_role(role)
    except ValidationError as exc:
        problems.extend(exc.problems)
    try:
        clean_groups = _clean_groups(groups)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    taken = await session.scalar(select(func.count()).where(User.email == clean_email))
    if taken:
        raise ConflictError(f"a user with email {clean_email!r} already exists", field="email")
    user = User(
        id=new_id(),
        tenant_id=tenant_id,
        email=clean_email,
        password=hash_password(password),
        role=clean_role,
        name=name,
        groups=clean_groups,
    )
    async with conflict_on_duplicate(  # the address may be another tenant's, which this one cannot see
        session, ConflictError(f"a user with email {clean_email!r} already exists", field="email")
    ):
        session.add(user)
        await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="USER_CREATED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={"user_id": user.id, "email": clean_email, "role": clean_role.value, "groups": clean_groups},
    )
    return user


async def _is_last_active_admin(session: AsyncSession, user: User) -> bool:
    if user.role != Role.ADMINISTRATOR or not user.is_active:
        return False
    others = await session.scalar(
        select(func.count()).where(
            User.tenant_id == user.tenant_id,
            User.role == Role.ADMINISTRATOR,
            User.is_active.is_(True),
            User.id != user.id,
        )
    )
    return not others


async def update_user(
    session: AsyncSession,
    tenant_id: str,
    user_id: str,
    *,
    actor_id: str | None,
    name: str | None = None,
    role: Role | str | None = None,
    groups: list[str] | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user's name, role, groups or active flag (None = unchanged); audit-logged.

    Deactivating a user ends their sessions and API keys at once; reactivating does not revive
    tokens issued before. The tenant's last active administrator can be neither demoted nor
    deactivated (409), so a tenant never locks itself out.
    """
    user = await session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.id == user_id).with_for_update()
    )
    if user is None:
        raise NotFoundError("user", user_id)
    changes: dict[str, Any] = {}
    new_role = parse_role(role) if role is not None else None
    new_groups = _clean_groups(groups) if groups is not None else None
    losing_admin = (new_role is not None and new_role != Role.ADMINISTRATOR) or is_active is False
    if losing_admin and await _is_last_active_admin(session, user):
        field = "is_active" if is_active is False else "role"
        raise ConflictError(
            "the tenant's last active administrator cannot be demoted or deactivated", field=field
        )
    if name is not None and name != user.name:
        changes["name"] = name
        user.name = name
    if new_role is not None and new_role != user.role:
        changes["role"] = {"from": user.role.value, "to": new_role.value}
        user.role = new_role
    if new_groups is not None and new_groups != list(user.groups or []):
        changes["groups"] = {"from": list(user.groups or []), "to": new_groups}
        user.groups = new_groups
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = is_active
        user.is_active = is_active
        if not is_active:
            user.session_epoch += 1
    if changes:
        await session.flush()
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="USER_UPDATED",
            actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
            actor_id=actor_id,
            details={"user_id": user.id, "changes": changes},
        )
    return user


async def set_password(
    session: AsyncSession,
    tenant_id: str,
    user_id: str,
    new_password: str,
    *,
    actor_id: str | None,
    current_password: str | None = None,
) -> User:
    """Set a new password and end every session issued before; audit-logged (never the password).

    With ``current_password`` (a user changing their own) it must match; without it this is an
    administrator's reset.
    """
    user = await session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.id == user_id).with_for_update()
    )
    if user is None:
        raise NotFoundError("user", user_id)
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(Problem("new_password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if current_password is not None and not await asyncio.to_thread(
        verify_password, user.password, current_password
    ):
        raise ValidationError(Problem("current_password", "is not the user's current password"))
    user.password = await asyncio.to_thread(hash_password, new_password)
    user.session_epoch += 1
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="USER_PASSWORD_CHANGED" if current_password is not None else "USER_PASSWORD_RESET",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={"user_id": user.id},
    )
    return user


async def get_user(session: AsyncSession, tenant_id: str, user_id: str) -> User:
    user = await session.scalar(select(User).where(User.tenant_id == tenant_id, User.id == user_id))
    if user is None:
        raise NotFoundError("user", user_id)
    return user


async def get_user_by_email_for_login(session: AsyncSession, email: str) -> User | None:
    """The only tenant-less lookup: login identifies the tenant from the (unique) email."""
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def list_users(
    session: AsyncSession,
    tenant_id: str,
    *,
    role: Role | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[User]:
    stmt = select(User).where(User.tenant_id == tenant_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    return await paginate(session, stmt, User.id, limit=limit, cursor=cursor)


def user_public(user: User) -> dict[str, Any]:
    """A user without the password hash."""
    return {
        "id": user.id,
        "tenant_id": user.tenant_id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "groups": list(user.groups or []),
        "is_active": user.is_active,
        "created_at": user.created_at,
    }
