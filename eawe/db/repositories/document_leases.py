"""Indexing leases: an indexer renews its document's ``updatedAt`` while it works; a row whose lease
ran out belongs to a dead indexer (a crash, a kill, a lost host) and is failed by the sweeper.

The uploaded bytes are not kept once indexing starts, so an interrupted indexing cannot be resumed:
it ends FAILED with a reason telling the user to upload again, which then works at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.models import Document, IndexingStatus, utcnow

__all__ = ["INTERRUPTED_REASON", "fail_expired_indexing", "renew_indexing_lease"]

INTERRUPTED_REASON = "indexing was interrupted (the indexing process stopped); upload the file again"


async def renew_indexing_lease(session: AsyncSession, tenant_id: str, document_id: str) -> bool:
    """Push the INDEXING lease forward; False when the document is no longer INDEXING (or gone)."""
    renewed = await session.scalar(
        update(Document)
        .where(
            Document.tenant_id == tenant_id,
            Document.id == document_id,
            Document.status == IndexingStatus.INDEXING,
        )
        .values(updated_at=utcnow())
        .returning(Document.id)
    )
    return renewed is not None


async def fail_expired_indexing(session: AsyncSession, *, lease: timedelta, limit: int = 100) -> list[str]:
    """Fail documents (every tenant) left INDEXING or PENDING past their lease; their ids.

    Rows another transaction holds (an indexer finishing right now) are skipped, not waited for.
    """
    deadline = utcnow() - lease
    rows = (
        await session.scalars(
            select(Document)
            .where(
                Document.status.in_([IndexingStatus.INDEXING, IndexingStatus.PENDING]),
                Document.updated_at < deadline,
            )
            .order_by(Document.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    now = utcnow()
    for document in rows:
        document.status = IndexingStatus.FAILED
        document.error = INTERRUPTED_REASON
        document.updated_at = now
    await session.flush()
    for document in rows:
        await append_audit(
            session,
            tenant_id=document.tenant_id,
            action="DOCUMENT_INDEX_FAILED",
            actor_type=ActorType.SYSTEM,
            details={"document_id": document.id, "status": "FAILED", "error": INTERRUPTED_REASON},
        )
    return [d.id for d in rows]
