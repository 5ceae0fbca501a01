"""Bodies for tokens, users and API keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from eawe.db.models import Role
from server.schemas.common import ApiModel, UtcDatetime

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "TokenOut", "UserCreate", "UserOut"]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Lifetime in seconds")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    name: str | None = Field(default=None, max_length=200)
    role: Role = Role.OPERATOR
    groups: list[str] = Field(default_factory=list, max_length=100)


class UserOut(ApiModel):
    id: str
    tenant_id: str
    email: str
    name: str | None
    role: Role
    groups: list[str]
    is_active: bool
    created_at: UtcDatetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    user_id: str | None = Field(default=None, description="User the key acts as (default: the caller)")


class ApiKeyOut(ApiModel):
    id: str
    name: str
    prefix: str
    user_id: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The API key. Shown once; store it now.")
