"""Users: always scoped by tenant, except the login lookup by (globally unique) email."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.networks import EmailStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import Role, User
from eawe.db.pagination import Page, paginate
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError
from eawe.passwords import hash_password

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "create_user",
    "get_user",
    "get_user_by_email_for_login",
    "list_users",
    "normalize_email",
    "parse_role",
    "user_public",
]

MIN_PASSWORD_LENGTH = 8
_EMAIL = TypeAdapter(EmailStr)


def normalize_email(email: str, field: str = "email") -> str:
    """Validate and lower-case an email address, or raise naming ``field``."""
    try:
        return str(_EMAIL.validate_python(email.strip() if isinstance(email, str) else email)).lower()
    except PydanticValidationError as exc:
        reason = exc.errors()[0].get("msg", "invalid email address")
        raise ValidationError(Problem(field=field, message=f"invalid email address: {reason}")) from None


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
