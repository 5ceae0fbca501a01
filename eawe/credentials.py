"""Credentials for third-party systems, encrypted at the application layer.

AES-256-GCM with a random 96-bit nonce; the associated data binds each ciphertext to its
tenant, credential id and key version, so a ciphertext copied to another row or tenant fails
to decrypt. Keys come from settings (``version:base64key`` pairs); the highest version
encrypts, and :func:`rotate_credentials` re-encrypts older rows to it. Plaintext leaves this
module only through :func:`reveal_credential`, for the node that needs it.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.credential_scope import clean_allowed_hosts, clean_allowed_methods
from eawe.db.ids import new_id
from eawe.db.models import Credential
from eawe.db.pagination import Page, paginate
from eawe.errors import EAWEError, NotFoundError, Problem, ValidationError

__all__ = [
    "CredentialCipher",
    "CredentialDecryptError",
    "create_credential",
    "credential_metadata",
    "delete_credential",
    "get_credential",
    "list_credentials",
    "reveal_credential",
    "rotate_credentials",
    "update_credential_scope",
]

_NONCE = 12


class CredentialDecryptError(EAWEError):
    """The ciphertext does not belong to this row, tenant or key (or was altered)."""

    status_code = 500
    title = "Credential cannot be decrypted"


@dataclass(frozen=True)
class CredentialCipher:
    """AES-256-GCM over a set of versioned keys."""

    keys: dict[int, bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("credential_keys: at least one key is required")
        for version, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"credential_keys: key version {version} must be 32 bytes")

    @property
    def current_version(self) -> int:
        return max(self.keys)

    @staticmethod
    def _aad(tenant_id: str, credential_id: str, version: int) -> bytes:
        return f"eawe.credential|{tenant_id}|{credential_id}|{version}".encode()

    def encrypt(self, tenant_id: str, credential_id: str, plaintext: str) -> tuple[str, int]:
        """Encrypt with the newest key; returns (base64(nonce || ciphertext), key version)."""
        version = self.current_version
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.keys[version]).encrypt(
            nonce, plaintext.encode(), self._aad(tenant_id, credential_id, version)
        )
        return base64.b64encode(nonce + sealed).decode(), version

    def decrypt(self, tenant_id: str, credential_id: str, version: int, token: str) -> str:
        key = self.keys.get(version)
        if key is None:
            raise CredentialDecryptError(
                f"credential {credential_id}: key version {version} is not configured"
            )
        try:
            raw = base64.b64decode(token, validate=True)
            plain = AESGCM(key).decrypt(
                raw[:_NONCE], raw[_NONCE:], self._aad(tenant_id, credential_id, version)
            )
        except (InvalidTag, ValueError) as exc:
            raise CredentialDecryptError(
                f"credential {credential_id}: ciphertext does not match this tenant, row or key"
            ) from exc
        return plain.decode()


def credential_metadata(row: Credential) -> dict[str, Any]:
    """The public view of a credential: everything but the value."""
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "service_name": row.service_name,
        "key_version": row.key_version,
        "allowed_hosts": list(row.allowed_hosts or []),
        "allowed_methods": list(row.allowed_methods or []),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def create_credential(
    session: AsyncSession,
    cipher: CredentialCipher,
    *,
    tenant_id: str,
    name: str,
    type: str,
    service_name: str,
    secret: str,
    allowed_hosts: list[str] | None = None,
    allowed_methods: list[str] | None = None,
    actor_id: str | None = None,
) -> Credential:
    """Store a credential bound to ``allowed_hosts`` (none: usable nowhere until some are set)
    and ``allowed_methods`` (none: any method)."""
    problems = [
        Problem(field=f, message="must not be empty")
        for f, v in (("type", type), ("service_name", service_name), ("value", secret))
        if not v or not v.strip()
    ]
    hosts: list[str] = []
    methods: list[str] = []
    try:
        hosts = clean_allowed_hosts(allowed_hosts or [])
        methods = clean_allowed_methods(allowed_methods)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    credential_id = new_id()
    token, version = cipher.encrypt(tenant_id, credential_id, secret)
    row = Credential(
        id=credential_id,
        tenant_id=tenant_id,
        name=name,
        type=type,
        service_name=service_name,
        encrypted_value=token,
        key_version=version,
        allowed_hosts=hosts,
        allowed_methods=methods,
    )
    session.add(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="CREDENTIAL_CREATED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={
            "credential_id": credential_id,
            "name": name,
            "service_name": service_name,
            "allowed_hosts": hosts,
            "allowed_methods": methods,
        },
    )
    return row


async def update_credential_scope(
    session: AsyncSession,
    tenant_id: str,
    credential_id: str,
    *,
    allowed_hosts: list[str] | None = None,
    allowed_methods: list[str] | None = None,
    actor_id: str | None = None,
) -> Credential:
    """Re-bind a credential to other hosts or methods (the value is unchanged); audit-logged."""
    row = await get_credential(session, tenant_id, credential_id)
    if allowed_hosts is not None:
        if not allowed_hosts:
            raise ValidationError(Problem("allowed_hosts", "name at least one host"))
        row.allowed_hosts = clean_allowed_hosts(allowed_hosts)
    if allowed_methods is not None:
        row.allowed_methods = clean_allowed_methods(allowed_methods)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="CREDENTIAL_SCOPE_CHANGED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={
            "credential_id": credential_id,
            "allowed_hosts": list(row.allowed_hosts or []),
            "allowed_methods": list(row.allowed_methods or []),
        },
    )
    return row


async def get_credential(session: AsyncSession, tenant_id: str, credential_id: str) -> Credential:
    row = await session.scalar(
        select(Credential).where(Credential.tenant_id == tenant_id, Credential.id == credential_id)
    )
    if row is None:
        raise NotFoundError("credential", credential_id)
    return row


async def list_credentials(
    session: AsyncSession, tenant_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[Credential]:
    return await paginate(
        session,
        select(Credential).where(Credential.tenant_id == tenant_id),
        Credential.id,
        limit=limit,
        cursor=cursor,
    )


async def reveal_credential(
    session: AsyncSession, cipher: CredentialCipher, tenant_id: str, credential_id: str
) -> str:
    """Decrypt a credential of ``tenant_id`` (a foreign id is not found)."""
    row = await get_credential(session, tenant_id, credential_id)
    return cipher.decrypt(row.tenant_id, row.id, row.key_version, row.encrypted_value)


async def delete_credential(
    session: AsyncSession, tenant_id: str, credential_id: str, *, actor_id: str | None = None
) -> None:
    row = await get_credential(session, tenant_id, credential_id)
    await session.delete(row)
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="CREDENTIAL_DELETED",
        actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
        actor_id=actor_id,
        details={"credential_id": credential_id},
    )


async def rotate_credentials(
    session: AsyncSession, cipher: CredentialCipher, tenant_id: str | None = None
) -> int:
    """Re-encrypt every credential not on the newest key; returns how many were rotated."""
    stmt = select(Credential).where(Credential.key_version != cipher.current_version).with_for_update()
    if tenant_id is not None:
        stmt = stmt.where(Credential.tenant_id == tenant_id)
    rotated = 0
    for row in (await session.scalars(stmt)).all():
        plain = cipher.decrypt(row.tenant_id, row.id, row.key_version, row.encrypted_value)
        row.encrypted_value, row.key_version = cipher.encrypt(row.tenant_id, row.id, plain)
        rotated += 1
    await session.flush()
    return rotated
