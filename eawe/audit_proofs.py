"""The audit log's proofs, read from the database: tree heads, inclusion, consistency, checks, export.

Each call reads in one REPEATABLE READ snapshot (entries and heads the sealer committed
together), and hashes off the event loop. Leaf hashes are recomputed from the rows' content,
exactly as a verifier does, so a proof never rests on a stored hash.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import entry_leaf_hash, entry_record
from eawe.audit_keys import PublicKeySet, TreeHead
from eawe.audit_sealer import epoch_ms
from eawe.audit_verify import LogCheck, check_log
from eawe.db.database import Database
from eawe.db.models import AuditTreeHead
from eawe.db.repositories import audit_log as repo
from eawe.errors import ConflictError, NotFoundError, ValidationError
from eawe.merkle import consistency_proof, inclusion_proof, tree_hash

__all__ = [
    "EXPORT_FORMAT",
    "consistency",
    "export_lines",
    "head_of",
    "inclusion",
    "latest_head",
    "verify_tenant_log",
]

EXPORT_FORMAT = "eawe-audit-log/1"


@asynccontextmanager
async def _snapshot(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.session() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


def head_of(row: AuditTreeHead) -> TreeHead:
    return TreeHead(
        tenant_id=row.tenant_id,
        tree_size=int(row.tree_size),
        root_hash=row.root_hash,
        timestamp=epoch_ms(row.timestamp),
        key_id=row.key_id,
        signature=row.signature,
    )


async def latest_head(database: Database, tenant_id: str) -> TreeHead:
    async with database.session() as session:
        row = await repo.latest_tree_head(session, tenant_id)
    if row is None:
        raise NotFoundError("tree head")
    return head_of(row)


async def _leaves(session: AsyncSession, tenant_id: str, size: int) -> list[bytes]:
    rows = await repo.sealed_entries(session, tenant_id, below=size)
    records = [entry_record(r) for r in rows]
    return await asyncio.to_thread(lambda: [entry_leaf_hash(r) for r in records])


def _size(value: int | None, latest: int, name: str) -> int:
    if value is None:
        return latest
    if not 1 <= value <= latest:
        raise ValidationError(f"must be between 1 and the latest tree size ({latest})", field=name)
    return value


async def inclusion(
    database: Database, tenant_id: str, entry_id: str, tree_size: int | None
) -> dict[str, Any]:
    """The audit path of one entry in the tree of ``tree_size`` entries (default: the latest head)."""
    async with _snapshot(database) as session:
        entry = await repo.audit_entry(session, tenant_id, entry_id)
        if entry is None:
            raise NotFoundError("audit log entry", entry_id)
        if entry.leaf_index is None:
            raise ConflictError("the entry is not sealed into the tree yet; retry shortly", field="id")
        head = await repo.latest_tree_head(session, tenant_id)
        latest = int(head.tree_size) if head else 0
        size = _size(tree_size, latest, "tree_size")
        index = int(entry.leaf_index)
        if index >= size:
            raise ValidationError(f"must be greater than the entry's leaf index ({index})", field="tree_size")
        leaves = await _leaves(session, tenant_id, size)
        signed = await repo.tree_head_at(session, tenant_id, size)
    path, root = await asyncio.to_thread(lambda: (inclusion_proof(index, leaves), tree_hash(leaves)))
    return {
        "entry_id": entry_id,
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaves[index].hex(),
        "root_hash": root.hex(),
        "audit_path": [p.hex() for p in path],
        "tree_head": head_of(signed).as_dict() if signed else None,
    }


async def consistency(database: Database, tenant_id: str, first: int, second: int | None) -> dict[str, Any]:
    """The consistency proof between the trees of ``first`` and ``second`` entries (§2.1.4)."""
    async with _snapshot(database) as session:
        head = await repo.latest_tree_head(session, tenant_id)
        latest = int(head.tree_size) if head else 0
        second_size = _size(second, latest, "second")
        first_size = _size(first, latest, "first")
        if first_size > second_size:
            raise ValidationError(f"must not exceed second ({second_size})", field="first")
        leaves = await _leaves(session, tenant_id, second_size)
        heads = {
            int(h.tree_size): head_of(h).as_dict()
            for h in await repo.tree_heads(session, tenant_id)
            if int(h.tree_size) in (first_size, second_size)
        }
    proof, first_root, second_root = await asyncio.to_thread(
        lambda: (consistency_proof(first_size, leaves), tree_hash(leaves[:first_size]), tree_hash(leaves))
    )
    return {
        "first": first_size,
        "second": second_size,
        "first_root_hash": first_root.hex(),
        "second_root_hash": second_root.hex(),
        "proof": [p.hex() for p in proof],
        "first_tree_head": heads.get(first_size),
        "second_tree_head": heads.get(second_size),
    }


async def verify_tenant_log(database: Database, tenant_id: str, keys: PublicKeySet) -> tuple[LogCheck, int]:
    """Recompute the tenant's tree and check it against every stored head; also how many rows wait."""
    async with _snapshot(database) as session:
        records = [entry_record(r) for r in await repo.sealed_entries(session, tenant_id)]
        heads = [head_of(h) for h in await repo.tree_heads(session, tenant_id)]
        unsealed = await repo.unsealed_count(session, tenant_id)
    result = await asyncio.to_thread(check_log, tenant_id, records, heads, keys)
    return result, unsealed


async def export_lines(database: Database, tenant_id: str) -> list[dict[str, Any]]:
    """A tenant's sealed log and its tree heads, as the JSON lines ``eawe audit export`` writes."""
    async with _snapshot(database) as session:
        records = [entry_record(r) for r in await repo.sealed_entries(session, tenant_id)]
        heads = [head_of(h).as_dict() for h in await repo.tree_heads(session, tenant_id)]
        unsealed = await repo.unsealed_count(session, tenant_id)
    header = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "tenant_id": tenant_id,
        "entries": len(records),
        "tree_heads": len(heads),
        "unsealed_entries": unsealed,
    }
    return [header, *({"type": "entry", **r} for r in records), *({"type": "tree_head", **h} for h in heads)]
