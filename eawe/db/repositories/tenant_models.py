"""A tenant's own chat model: an OpenAI-compatible endpoint, a model name and a stored credential.

Kept under ``"model"`` in ``Tenant.settings``. Only the credential's *name or id* is stored here;
the secret stays encrypted in the tenant's credential store until a request is sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.models import Credential, Tenant
from eawe.errors import NotFoundError, Problem, ValidationError

__all__ = [
    "TENANT_MODEL_KEY",
    "TenantModelSettings",
    "clear_tenant_model",
    "get_tenant_model",
    "set_tenant_model",
    "tenant_model_of",
]

TENANT_MODEL_KEY = "model"
"""The key of ``Tenant.settings`` that holds the tenant's model."""
_KEY = TENANT_MODEL_KEY


class TenantModelSettings(BaseModel):
    """Where a tenant's ``llm`` nodes go (an ``llm`` node's own ``model`` overrides the name)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(max_length=2000, description="OpenAI-compatible API base, e.g. https://host/v1")
    model: str = Field(min_length=1, max_length=200)
    credential: str = Field(min_length=1, max_length=200, description="Name or id of a stored credential")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


async def get_tenant_model(session: AsyncSession, tenant_id: str) -> TenantModelSettings | None:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError("tenant", tenant_id)
    return tenant_model_of((tenant.settings or {}).get(_KEY))


def tenant_model_of(raw: Any) -> TenantModelSettings | None:
    """The settings stored under :data:`TENANT_MODEL_KEY` (None when the tenant has none)."""
    return TenantModelSettings.model_validate(raw) if raw else None


async def set_tenant_model(
    session: AsyncSession, tenant_id: str, settings: TenantModelSettings, *, actor_id: str | None
) -> TenantModelSettings:
    """Store the tenant's model; the credential must exist in the same tenant."""
    found = await session.scalar(
        select(Credential.id).where(
            Credential.tenant_id == tenant_id,
            or_(Credential.id == settings.credential, Credential.name == settings.credential),
        )
    )
    if found is None:
        raise ValidationError(Problem("credential", "no credential with this name or id in your tenant"))
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFoundError("tenant", tenant_id)
    tenant.settings = {**(tenant.settings or {}), _KEY: settings.model_dump()}
    await _audit(session, tenant_id, actor_id, {"base_url": settings.base_url, "model": settings.model})
    return settings


async def clear_tenant_model(session: AsyncSession, tenant_id: str, *, actor_id: str | None) -> None:
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFoundError("tenant", tenant_id)
    tenant.settings = {k: v for k, v in (tenant.settings or {}).items() if k != _KEY}
    await _audit(session, tenant_id, actor_id, {"cleared": True})


async def _audit(
    session: AsyncSession, tenant_id: str, actor_id: str | None, details: dict[str, Any]
) -> None:
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="TENANT_MODEL_CHANGED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details=details,
    )
