"""Tenants and their bootstrap administrator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import append_audit
from eawe.db.ids import new_id
from eawe.db.models import Role, Tenant, User
from eawe.db.repositories.users import create_user
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError

__all__ = [
    "LOCAL_TENANT",
    "TenantSummary",
    "TenantWithAdmin",
    "create_tenant",
    "create_tenant_with_admin",
    "find_or_create_local_tenant",
    "find_tenant",
    "get_tenant",
    "list_tenants",
]

LOCAL_TENANT = "local"
"""The command line's default tenant: the only one created on demand."""


@dataclass(frozen=True)
class TenantWithAdmin:
    tenant: Tenant
    admin: User


async def create_tenant(session: AsyncSession, name: str) -> Tenant:
    clean = (name or "").strip()
    if not clean:
        raise ValidationError(Problem(field="name", message="must not be empty"))
    if len(clean) > 200:
        raise ValidationError(Problem(field="name", message="must be at most 200 characters"))
    if await session.scalar(select(func.count()).where(Tenant.name == clean)):
        raise ConflictError(f"a tenant named {clean!r} already exists", field="name")
    tenant = Tenant(id=new_id(), name=clean)
    session.add(tenant)
    await session.flush()
    await append_audit(session, tenant_id=tenant.id, action="TENANT_CREATED", details={"name": clean})
    return tenant


async def create_tenant_with_admin(
    session: AsyncSession, *, name: str, admin_email: str, admin_password: str, admin_name: str | None = None
) -> TenantWithAdmin:
    """Create a tenant and its first ADMINISTRATOR in the caller's transaction (all or nothing)."""
    tenant = await create_tenant(session, name)
    admin = await create_user(
        session,
        tenant_id=tenant.id,
        email=admin_email,
        password=admin_password,
        role=Role.ADMINISTRATOR,
        name=admin_name,
    )
    return TenantWithAdmin(tenant=tenant, admin=admin)


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError("tenant", tenant_id)
    return tenant


async def find_or_create_local_tenant(session: AsyncSession, name_or_id: str) -> Tenant:
    """The tenant by id or name; only :data:`LOCAL_TENANT` is created when missing (a typo must
    not make a tenant).

    Raises:
        eawe.errors.NotFoundError: No such tenant.
    """
    try:
        return await find_tenant(session, name_or_id)
    except NotFoundError:
        if name_or_id != LOCAL_TENANT:
            raise
    return await create_tenant(session, name_or_id)


async def find_tenant(session: AsyncSession, name_or_id: str) -> Tenant:
    """The tenant by id or name (never created).

    Raises:
        eawe.errors.NotFoundError: No such tenant.
    """
    tenant = await session.scalar(
        select(Tenant).where((Tenant.id == name_or_id) | (Tenant.name == name_or_id)).limit(1)
    )
    if tenant is None:
        raise NotFoundError("tenant", name_or_id)
    return tenant


@dataclass(frozen=True)
class TenantSummary:
    tenant: Tenant
    users: int


async def list_tenants(session: AsyncSession) -> list[TenantSummary]:
    """Every tenant with its number of users, oldest first (for the operator's command line)."""
    users = select(func.count()).where(User.tenant_id == Tenant.id).correlate(Tenant).scalar_subquery()
    rows = (await session.execute(select(Tenant, users).order_by(Tenant.created_at, Tenant.id))).all()
    return [TenantSummary(tenant=tenant, users=int(count)) for tenant, count in rows]
