"""The audit log: append-only rows, sealed into a verifiable Merkle log per tenant.

Writers call :func:`append_audit` inside their own transaction: one INSERT, no lock, no read of
a chain head, so appenders never wait for each other (even within a tenant). The row gets ``seq``
from one global sequence (insertion order) and ``xactId``, its transaction's id.

The sealer (:mod:`eawe.audit_sealer`, one elected per database) later gives each row its place
in its tenant's tree (``leafIndex``, commit order), its RFC 9162 leaf hash ``hash =
HASH(0x00 || canonical entry)`` and ``prevHash``, the tree's root just before it, and publishes a
signed tree head. The database refuses every other change (``audit_seal_once`` migration).
Rows chained before the Merkle log keep their chain hashes (``hash = sha256(prevHash +
canonical entry)``) and were sealed first, in their old ``seq`` order.

:func:`entry_record` is the one shape an entry has outside the database (the API, the export,
the verifiers); :func:`entry_leaf_hash` is what the tree commits to.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.ids import new_id
from eawe.db.models import AuditLog, utcnow
from eawe.merkle import leaf_hash

__all__ = [
    "GENESIS_HASH",
    "ActorType",
    "append_audit",
    "audit_row",
    "canonical_entry",
    "entry_leaf_hash",
    "entry_record",
    "legacy_chain_hash",
    "redact",
]

GENESIS_HASH = "0" * 64
"""``prevHash`` of the first row of a chain written before the Merkle log."""

_SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|encrypted|private[_-]?key", re.I
)


class ActorType:
    USER = "USER"
    AGENT = "AGENT"
    SYSTEM = "SYSTEM"


def redact(value: Any) -> Any:
    """Replace values under secret-looking keys, recursively; the audit log never holds a secret."""
    if isinstance(value, dict):
        return {k: ("[REDACTED]" if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _ms(moment: datetime) -> datetime:
    # timestamp(3): keep milliseconds so the stored value is the one the row object carries.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def entry_record(row: AuditLog | Any) -> dict[str, Any]:
    """A row (or anything with its attributes) as the API, the export and the verifiers see it.

    Timestamps are ISO 8601 with milliseconds, as ``timestamp(3)`` stores them.
    """
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "seq": int(row.seq),
        "leaf_index": None if row.leaf_index is None else int(row.leaf_index),
        "workflow_run_id": row.workflow_run_id,
        "actor_id": row.actor_id,
        "actor_type": row.actor_type,
        "action": row.action,
        "details": row.details,
        "timestamp": row.timestamp.isoformat(timespec="milliseconds"),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def canonical_entry(entry: dict[str, Any]) -> str:
    """The bytes (as text) an entry's hash covers: its content and ``seq``, sorted-key JSON."""
    body = {
        "id": entry["id"],
        "tenant_id": entry["tenant_id"],
        "seq": int(entry["seq"]),
        "workflow_run_id": entry["workflow_run_id"],
        "actor_id": entry["actor_id"],
        "actor_type": entry["actor_type"],
        "action": entry["action"],
        "details": entry["details"],
        "timestamp": entry["timestamp"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_leaf_hash(entry: dict[str, Any]) -> bytes:
    """The RFC 9162 leaf hash of an entry: HASH(0x00 || canonical entry)."""
    return leaf_hash(canonical_entry(entry).encode())


def legacy_chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """The hash a row got in the hash chain that preceded the Merkle log."""
    return hashlib.sha256((prev_hash + canonical_entry(entry)).encode()).hexdigest()


def audit_row(
    *,
    tenant_id: str,
    action: str,
    actor_type: str = ActorType.SYSTEM,
    actor_id: str | None = None,
    workflow_run_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """A new entry, not yet added to a session: secret-looking keys in ``details`` redacted, and
    ``details`` as JSONB gives it back (what the sealer hashes)."""
    clean = redact(details) if details is not None else None
    clean = json.loads(json.dumps(clean, default=str)) if clean is not None else None
    return AuditLog(
        id=new_id(),
        tenant_id=tenant_id,
        workflow_run_id=workflow_run_id,
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        details=clean,
        timestamp=_ms(utcnow()),
    )


async def append_audit(
    session: AsyncSession,
    *,
    tenant_id: str,
    action: str,
    actor_type: str = ActorType.SYSTEM,
    actor_id: str | None = None,
    workflow_run_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one entry inside the caller's transaction: a single INSERT, no lock.

    Secret-looking keys in ``details`` are redacted. The entry is sealed (``leaf_index``,
    ``hash``, ``prev_hash``) by the sealer once this transaction and every older one has ended.
    """
    row = audit_row(
        tenant_id=tenant_id,
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        workflow_run_id=workflow_run_id,
        details=details,
    )
    session.add(row)
    await session.flush()
    return row
