"""Bodies for credentials and audit logs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.common import ApiModel, UtcDatetime

__all__ = [
    "AuditLogOut",
    "AuditVerificationOut",
    "CredentialCreate",
    "CredentialOut",
    "CredentialScopeUpdate",
]

_HOSTS_DESCRIPTION = (
    "Hosts the value may be sent to: 'host', 'host:port' or '*.domain' (subdomains). A tool node "
    "that uses the credential against any other host is refused."
)
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HostEntry = Annotated[str, Field(min_length=1, max_length=260)]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    type: str = Field(min_length=1, max_length=100, description='e.g. "API_KEY", "OAUTH2"')
    service_name: str = Field(min_length=1, max_length=200, description='e.g. "SALESFORCE"')
    value: str = Field(
        min_length=1, max_length=65536, description="The secret; encrypted at rest, never returned"
    )
    allowed_hosts: list[HostEntry] = Field(min_length=1, max_length=50, description=_HOSTS_DESCRIPTION)
    allowed_methods: list[HttpMethod] = Field(
        default_factory=list, max_length=5, description="HTTP methods it may be sent with; empty = any"
    )


class CredentialScopeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_hosts: list[HostEntry] | None = Field(
        default=None, min_length=1, max_length=50, description=_HOSTS_DESCRIPTION
    )
    allowed_methods: list[HttpMethod] | None = Field(default=None, max_length=5)


class CredentialOut(ApiModel):
    id: str
    name: str
    type: str
    service_name: str
    key_version: int
    allowed_hosts: list[str]
    allowed_methods: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class AuditLogOut(ApiModel):
    id: str
    seq: int
    action: str
    actor_type: str
    actor_id: str | None
    workflow_run_id: str | None
    details: Any | None
    timestamp: UtcDatetime
    prev_hash: str
    hash: str


class AuditVerificationOut(BaseModel):
    tenant_id: str
    checked: int
    ok: bool
    first_broken_id: str | None
    first_broken_seq: int | None
    reason: str | None
