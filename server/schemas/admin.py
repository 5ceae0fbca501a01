"""Bodies for credentials and audit logs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.common import ApiModel, UtcDatetime

__all__ = ["AuditLogOut", "AuditVerificationOut", "CredentialCreate", "CredentialOut"]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    type: str = Field(min_length=1, max_length=100, description='e.g. "API_KEY", "OAUTH2"')
    service_name: str = Field(min_length=1, max_length=200, description='e.g. "SALESFORCE"')
    value: str = Field(
        min_length=1, max_length=65536, description="The secret; encrypted at rest, never returned"
    )


class CredentialOut(ApiModel):
    id: str
    name: str
    type: str
    service_name: str
    key_version: int
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
