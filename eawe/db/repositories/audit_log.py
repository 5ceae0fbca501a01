"""SQL of the audit log's Merkle sealing: what the sealer reads and writes, what proofs read.

The sealer's functions take the sealer's own connection (it holds the election lock); the
readers take a request's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, TEXT
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from eawe.db.ids import new_id
from eawe.db.models import AuditLog, AuditTreeHead

__all__ = [
    "SEALER_LOCK_KEY",
    "audit_entry",
    "insert_tree_head",
    "latest_tree_head",
    "seal_entries",
    "sealable_entries",
    "sealed_entries",
    "tree_head_at",
    "tree_heads",
    "tree_states",
    "try_sealer_lock",
    "unsealed_count",
]

SEALER_LOCK_KEY = 0x6561_7765_5365_616C  # b"eaweSeal": the session advisory lock that elects the sealer

_ENTRY_COLUMNS = tuple(
    getattr(AuditLog, name).label(name)
    for name in (
        "id",
        "tenant_id",
        "seq",
        "workflow_run_id",
        "actor_id",
        "actor_type",
        "action",
        "details",
        "timestamp",
        "prev_hash",
        "hash",
    )
)


async def try_sealer_lock(conn: AsyncConnection) -> bool:
    """Take the election lock on this connection's session if nobody holds it (never waits)."""
    got = await conn.scalar(select(func.pg_try_advisory_lock(SEALER_LOCK_KEY)))
    await conn.commit()
    return bool(got)


async def sealable_entries(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Unsealed rows whose transactions, and every older transaction, have ended.

    Call first in a REPEATABLE READ transaction: the horizon (the snapshot's xmin) and the rows
    come from the same snapshot, so every transaction below the horizon is finished and all its
    rows are visible; rows of a transaction still in flight wait for a later round, never skipped.
    Ordered by (xactId, seq): commit order at transaction granularity, insertion order within.
    """
    horizon = await conn.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    rows = await conn.execute(
        select(*_ENTRY_COLUMNS)
        .where(AuditLog.leaf_index.is_(None), AuditLog.xact_id < horizon)
        .order_by(AuditLog.xact_id, AuditLog.seq)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def latest_tree_head(session: AsyncSession, tenant_id: str) -> AuditTreeHead | None:
    return await session.scalar(
        select(AuditTreeHead)
        .where(AuditTreeHead.tenant_id == tenant_id)
        .order_by(AuditTreeHead.tree_size.desc())
        .limit(1)
    )


async def tree_states(
    conn: AsyncConnection, tenant_ids: Sequence[str]
) -> dict[str, tuple[int, list[str], datetime]]:
    """Each tenant's latest head as the sealer resumes from it: (size, frontier, timestamp)."""
    rows = await conn.execute(
        text(
            'SELECT DISTINCT ON ("tenantId") "tenantId" AS tenant_id, "treeSize" AS tree_size, frontier, '
            '"timestamp" FROM "AuditTreeHead" WHERE "tenantId" = ANY(:tenants) '
            'ORDER BY "tenantId", "treeSize" DESC'
        ).bindparams(bindparam("tenants", type_=ARRAY(TEXT))),
        {"tenants": list(tenant_ids)},
    )
    return {r.tenant_id: (int(r.tree_size), list(r.frontier), r.timestamp) for r in rows}


async def seal_entries(
    conn: AsyncConnection,
    ids: Sequence[str],
    leaf_indexes: Sequence[int],
    hashes: Sequence[str],
    prev_hashes: Sequence[str],
) -> int:
    """Set each row's place, leaf hash and previous root once (rows chained earlier keep theirs)."""
    result = await conn.execute(
        text(
            'UPDATE "AuditLog" AS a SET "leafIndex" = v.leaf, '
            '"hash" = COALESCE(a."hash", v.hash), "prevHash" = COALESCE(a."prevHash", v.prev) '
            "FROM unnest(:ids, :leaves, :hashes, :prevs) AS v(id, leaf, hash, prev) "
            'WHERE a."id" = v.id AND a."leafIndex" IS NULL'
        ).bindparams(
            bindparam("ids", type_=ARRAY(TEXT)),
            bindparam("leaves", type_=ARRAY(BIGINT)),
            bindparam("hashes", type_=ARRAY(TEXT)),
            bindparam("prevs", type_=ARRAY(TEXT)),
        ),
        {"ids": list(ids), "leaves": list(leaf_indexes), "hashes": list(hashes), "prevs": list(prev_hashes)},
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def insert_tree_head(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    tree_size: int,
    root_hash: str,
    timestamp: datetime,
    key_id: str,
    signature: str,
    frontier: list[str],
) -> None:
    await conn.execute(
        insert(AuditTreeHead).values(
            id=new_id(),
            tenant_id=tenant_id,
            tree_size=tree_size,
            root_hash=root_hash,
            timestamp=timestamp,
            key_id=key_id,
            signature=signature,
            frontier=frontier,
        )
    )


async def tree_heads(session: AsyncSession, tenant_id: str) -> list[AuditTreeHead]:
    return list(
        (
            await session.scalars(
                select(AuditTreeHead)
                .where(AuditTreeHead.tenant_id == tenant_id)
                .order_by(AuditTreeHead.tree_size)
            )
        ).all()
    )


async def tree_head_at(session: AsyncSession, tenant_id: str, tree_size: int) -> AuditTreeHead | None:
    return await session.scalar(
        select(AuditTreeHead).where(
            AuditTreeHead.tenant_id == tenant_id, AuditTreeHead.tree_size == tree_size
        )
    )


async def sealed_entries(session: AsyncSession, tenant_id: str, below: int | None = None) -> list[AuditLog]:
    """The tenant's sealed rows in tree order (leaf indexes below ``below`` when given)."""
    stmt = select(AuditLog).where(AuditLog.tenant_id == tenant_id, AuditLog.leaf_index.is_not(None))
    if below is not None:
        stmt = stmt.where(AuditLog.leaf_index < below)
    return list((await session.scalars(stmt.order_by(AuditLog.leaf_index))).all())


async def audit_entry(session: AsyncSession, tenant_id: str, entry_id: str) -> AuditLog | None:
    return await session.scalar(
        select(AuditLog).where(AuditLog.tenant_id == tenant_id, AuditLog.id == entry_id)
    )


async def unsealed_count(session: AsyncSession, tenant_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(AuditLog.tenant_id == tenant_id, AuditLog.leaf_index.is_(None))
        )
        or 0
    )
