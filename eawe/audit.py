"""The audit log: append-only in the database, hash-chained per tenant in here.

Each tenant's rows carry ``seq`` 1, 2, 3, ... and ``hash = sha256(prev_hash + canonical row)``,
with ``prev_hash`` of the first row being 64 zeros. The database refuses UPDATE, DELETE and
TRUNCATE on the table (see the ``audit_append_only`` migration); :func:`verify_chain` finds a
row rewritten by someone who got past that (a superuser disabling the trigger).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.ids import new_id
from eawe.db.models import AuditLog, utcnow

__all__ = ["GENESIS_HASH", "ActorType", "AuditVerification", "append_audit", "redact", "verify_chain"]

GENESIS_HASH = "0" * 64
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


def _canonical(row: AuditLog) -> str:
    body = {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "seq": int(row.seq),
        "workflow_run_id": row.workflow_run_id,
        "actor_id": row.actor_id,
        "actor_type": row.actor_type,
        "action": row.action,
        "details": row.details,
        "timestamp": row.timestamp.isoformat(timespec="milliseconds"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _row_hash(prev_hash: str, row: AuditLog) -> str:
    return hashlib.sha256((prev_hash + _canonical(row)).encode()).hexdigest()


def _ms(moment: datetime) -> datetime:
    # timestamp(3): keep milliseconds so the stored value hashes the same as the one we hashed.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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
    """Append one chained row inside the caller's transaction.

    A per-tenant transaction-scoped advisory lock serialises appenders of one tenant, so the
    chain never forks; other tenants are not blocked.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"eawe.audit:{tenant_id}"}
    )
    last = (
        await session.execute(
            select(AuditLog.seq, AuditLog.hash)
            .where(AuditLog.tenant_id == tenant_id)
            .order_by(AuditLog.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev_hash = (int(last.seq) + 1, last.hash) if last else (1, GENESIS_HASH)
    clean = redact(details) if details is not None else None
    # Round-trip through JSON so what we hash is what JSONB gives back.
    clean = json.loads(json.dumps(clean, default=str)) if clean is not None else None
    row = AuditLog(
        id=new_id(),
        tenant_id=tenant_id,
        seq=seq,
        workflow_run_id=workflow_run_id,
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        details=clean,
        timestamp=_ms(utcnow()),
        prev_hash=prev_hash,
        hash="",
    )
    row.hash = _row_hash(prev_hash, row)
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of a chain check. ``first_broken_id`` is None when the chain is intact."""

    tenant_id: str
    checked: int
    ok: bool
    first_broken_id: str | None = None
    first_broken_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "checked": self.checked,
            "ok": self.ok,
            "first_broken_id": self.first_broken_id,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
        }


async def verify_chain(session: AsyncSession, tenant_id: str, *, batch: int = 1000) -> AuditVerification:
    """Walk a tenant's chain in ``seq`` order and report the first row that does not fit."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.tenant_id == tenant_id, AuditLog.seq > last_seq)
                .order_by(AuditLog.seq)
                .limit(batch)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not rows:
            return AuditVerification(tenant_id, checked, True)
        for row in rows:
            reason = None
            if int(row.seq) != expected_seq:
                reason = f"sequence gap: expected seq {expected_seq}, found {row.seq} (rows removed)"
            elif row.prev_hash != prev_hash:
                reason = "prev_hash does not match the previous row's hash"
            elif _row_hash(prev_hash, row) != row.hash:
                reason = "row content does not match its hash (row modified)"
            if reason:
                return AuditVerification(tenant_id, checked, False, row.id, int(row.seq), reason)
            checked += 1
            prev_hash = row.hash
            expected_seq += 1
            last_seq = int(row.seq)


async def count_audit_rows(session: AsyncSession, tenant_id: str) -> int:
    return int(await session.scalar(select(func.count()).where(AuditLog.tenant_id == tenant_id)) or 0)
