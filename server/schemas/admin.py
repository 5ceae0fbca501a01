"""Bodies for credentials and audit logs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.common import ApiModel, UtcDatetime

__all__ = [
    "AuditLogOut",
    "AuditPublicKeysOut",
    "AuditVerificationOut",
    "ConsistencyProofOut",
    "CredentialCreate",
    "CredentialOut",
    "InclusionProofOut",
    "TreeHeadOut",
]


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
    leaf_index: int | None = Field(description="Place in the tenant's Merkle tree; null until sealed")
    prev_hash: str | None = Field(description="The tree's root before this entry (hex); null until sealed")
    hash: str | None = Field(description="The entry's RFC 9162 leaf hash (hex); null until sealed")


class AuditVerificationOut(BaseModel):
    tenant_id: str
    checked: int
    ok: bool
    first_broken_id: str | None
    first_broken_seq: int | None
    reason: str | None
    tree_size: int = Field(description="Size of the latest signed tree head that verified")
    root_hash: str | None
    heads_checked: int
    unsealed: int = Field(description="Entries not sealed yet (not covered by this check)")


class TreeHeadOut(BaseModel):
    """A signed tree head: Ed25519 over eawe.audit_keys.tree_head_message."""

    tenant_id: str
    tree_size: int
    root_hash: str
    timestamp: int = Field(description="Epoch milliseconds")
    key_id: str
    signature: str = Field(description="Base64 Ed25519 signature")
    algorithm: str


class InclusionProofOut(BaseModel):
    entry_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    audit_path: list[str] = Field(description="RFC 9162 §2.1.3 inclusion proof, hex")
    tree_head: TreeHeadOut | None = Field(description="The signed head of this size, when one was published")


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    proof: list[str] = Field(description="RFC 9162 §2.1.4 consistency proof, hex")
    first_tree_head: TreeHeadOut | None
    second_tree_head: TreeHeadOut | None


class AuditPublicKeyOut(BaseModel):
    key_id: str
    algorithm: str
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64")
    public_key_pem: str
    active: bool = Field(description="Signs new tree heads")


class AuditPublicKeysOut(BaseModel):
    keys: list[AuditPublicKeyOut]
