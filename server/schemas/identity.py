"""Bodies for tokens, users and API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from eawe.db.models import Role
from eawe.db.repositories.users import MIN_PASSWORD_LENGTH
from server.schemas.common import ApiModel, UtcDatetime

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "PasswordChange",
    "PasswordReset",
    "TokenOut",
    "UserCreate",
    "UserOut",
    "UserUpdate",
]

Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]
GroupName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Lifetime in seconds")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, description="Syntax-checked; internal domains allowed")
    password: Password
    name: str | None = Field(default=None, max_length=200)
    role: Role = Role.OPERATOR
    groups: list[GroupName] = Field(default_factory=list, max_length=100)


class UserUpdate(BaseModel):
    """Fields to change; omitted ones stay. ``is_active: false`` ends the user's sessions and keys."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    groups: list[GroupName] | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class PasswordReset(BaseModel):
    """An administrator sets a user's password; the user's existing sessions end."""

    model_config = ConfigDict(extra="forbid")

    new_password: Password


class PasswordChange(BaseModel):
    """A user changes their own password; their existing sessions end (log in again)."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


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
