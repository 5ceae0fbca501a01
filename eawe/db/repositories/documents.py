"""Documents, the relational side of RAG. Every function takes ``tenant_id``; other tenants: not found.

Status moves PENDING → INDEXING → COMPLETED | FAILED; a COMPLETED or FAILED document goes back
to INDEXING when it is indexed again. Each outcome appends an AuditLog row in the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.ids import new_id
from eawe.db.models import Document, IndexingStatus, utcnow
from eawe.db.pagination import Page, paginate
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError

__all__ = [
    "DEFAULT_INDEXING_LEASE",
    "DocumentAccess",
    "clean_allowed_roles",
    "create_document",
    "delete_document",
    "document_public",
    "find_document_by_source_uri",
    "get_document",
    "get_visible_document",
    "lease_is_live",
    "list_documents",
    "set_document_status",
]

DEFAULT_INDEXING_LEASE = timedelta(seconds=60)
"""An INDEXING row whose lease (``updatedAt``, renewed by the indexer's heartbeat) is older than this
belongs to a dead indexer: it may be taken over, and the sweeper fails it."""


@dataclass(frozen=True)
class DocumentAccess:
    """What a principal may do with documents: see those sharing a group, manage those it fully covers.

    ``groups=None`` is unrestricted (an administrator, or the system itself, e.g. ``eawe ingest``).
    A non-administrator *sees* a document whose ``allowed_roles`` share one of its groups, and
    *manages* (replaces, deletes) one whose every group is among its own: replacing text that
    another group's members read is for an administrator.
    """

    groups: frozenset[str] | None

    @classmethod
    def unrestricted(cls) -> DocumentAccess:
        return cls(None)

    @classmethod
    def for_groups(cls, groups: Sequence[str]) -> DocumentAccess:
        return cls(frozenset(groups))

    def sees(self, document: Document) -> bool:
        return self.groups is None or bool(self.groups.intersection(document.allowed_roles or []))

    def manages(self, document: Document) -> bool:
        return self.groups is None or (
            self.sees(document) and set(document.allowed_roles or []) <= self.groups
        )

    def filter(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` (over Document) limited to the documents this access sees."""
        if self.groups is None:
            return stmt
        return stmt.where(Document.allowed_roles.overlap(sorted(self.groups)))


_MAX_ERROR = 2000


def clean_allowed_roles(roles: Sequence[str] | None, field: str = "allowed_roles") -> list[str]:
    """Validate the groups that may see a document: at least one non-empty name, duplicates removed."""
    if isinstance(roles, str) or roles is None:
        raise ValidationError(Problem(field=field, message="must be a list of group names"))
    out: list[str] = []
    for index, role in enumerate(roles):
        if not isinstance(role, str) or not role.strip():
            raise ValidationError(Problem(field=f"{field}[{index}]", message="must be a non-empty string"))
        if len(role.strip()) > 200:
            raise ValidationError(
                Problem(field=f"{field}[{index}]", message="must be at most 200 characters")
            )
        if role.strip() not in out:
            out.append(role.strip())
    if not out:
        raise ValidationError(Problem(field=field, message="at least one group is required"))
    return out


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _actor(actor_id: str | None) -> str:
    return ActorType.USER if actor_id else ActorType.SYSTEM


async def create_document(
    session: AsyncSession,
    *,
    tenant_id: str,
    source_uri: str,
    file_name: str,
    file_type: str,
    allowed_roles: Sequence[str],
    size_bytes: int | None = None,
    actor_id: str | None = None,
) -> Document:
    """Register a PENDING document; ``source_uri`` is unique within the tenant."""
    roles = clean_allowed_roles(allowed_roles)
    for name, value in (("source_uri", source_uri), ("file_name", file_name), ("file_type", file_type)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(Problem(field=name, message="must not be empty"))
    if await find_document_by_source_uri(session, tenant_id, source_uri) is not None:
        raise ConflictError(f"a document with source_uri {source_uri!r} already exists", field="source_uri")
    document = Document(
        id=new_id(),
        tenant_id=tenant_id,
        source_uri=source_uri,
        file_name=file_name,
        file_type=file_type,
        status=IndexingStatus.PENDING,
        allowed_roles=roles,
        size_bytes=size_bytes,
    )
    try:
        async with session.begin_nested():  # a concurrent upload of the same source: 409, not 500
            session.add(document)
            await session.flush()
    except IntegrityError:
        raise ConflictError(
            f"a document with source_uri {source_uri!r} already exists", field="source_uri"
        ) from None
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="DOCUMENT_CREATED",
        actor_type=_actor(actor_id),
        actor_id=actor_id,
        details={"document_id": document.id, "source_uri": source_uri, "allowed_roles": roles},
    )
    return document


async def get_document(
    session: AsyncSession, tenant_id: str, document_id: str, *, for_update: bool = False
) -> Document:
    """The document, or NotFoundError (also for another tenant's document)."""
    stmt = select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    if for_update:
        stmt = stmt.with_for_update()
    document = await session.scalar(stmt)
    if document is None:
        raise NotFoundError("document", document_id)
    return document


async def get_visible_document(
    session: AsyncSession, tenant_id: str, document_id: str, access: DocumentAccess
) -> Document:
    """The document if ``access`` sees it, else NotFoundError (a hidden document does not exist)."""
    stmt = select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    document = await session.scalar(access.filter(stmt))
    if document is None:
        raise NotFoundError("document", document_id)
    return document


async def find_document_by_source_uri(
    session: AsyncSession, tenant_id: str, source_uri: str
) -> Document | None:
    return await session.scalar(
        select(Document).where(Document.tenant_id == tenant_id, Document.source_uri == source_uri)
    )


async def list_documents(
    session: AsyncSession,
    tenant_id: str,
    *,
    access: DocumentAccess | None = None,
    status: IndexingStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Document]:
    """The tenant's documents that ``access`` sees (default: all), newest first."""
    stmt = (access or DocumentAccess.unrestricted()).filter(
        select(Document).where(Document.tenant_id == tenant_id)
    )
    if status is not None:
        stmt = stmt.where(Document.status == status)
    return await paginate(session, stmt, Document.id, limit=limit, cursor=cursor)


def lease_is_live(document: Document, lease: timedelta) -> bool:
    """Whether an INDEXING document's indexer renewed its lease within ``lease``."""
    return utcnow() - document.updated_at < lease


async def set_document_status(
    session: AsyncSession,
    tenant_id: str,
    document_id: str,
    status: IndexingStatus,
    *,
    chunk_count: int | None = None,
    error: str | None = None,
    content_sha256: str | None = None,
    size_bytes: int | None = None,
    author: str | None = None,
    created_at_source: datetime | None = None,
    allowed_roles: Sequence[str] | None = None,
    actor_id: str | None = None,
    lease: timedelta = DEFAULT_INDEXING_LEASE,
) -> Document:
    """Move a document to ``status`` (row locked), recording the outcome.

    INDEXING is refused while another indexing of the same document holds its ``lease``
    (ConflictError);
    COMPLETED requires ``chunk_count`` and comes only from INDEXING; FAILED requires ``error``.
    """
    document = await get_document(session, tenant_id, document_id, for_update=True)
    now = utcnow()
    current = document.status
    if status is IndexingStatus.INDEXING:
        if current is IndexingStatus.INDEXING and lease_is_live(document, lease):
            raise ConflictError(f"document {document_id!r} is already being indexed", field="status")
    elif status is IndexingStatus.COMPLETED:
        if current is not IndexingStatus.INDEXING:
            raise ConflictError(f"document {document_id!r} is {current.value}, not INDEXING", field="status")
        if chunk_count is None or chunk_count < 0:
            raise ValidationError(Problem(field="chunk_count", message="required when completing indexing"))
    elif status is IndexingStatus.FAILED:
        if not error:
            raise ValidationError(Problem(field="error", message="a reason is required for FAILED"))
    elif current is IndexingStatus.INDEXING and lease_is_live(document, lease):
        raise ConflictError(f"document {document_id!r} is being indexed", field="status")

    document.status = status
    document.updated_at = now
    if allowed_roles is not None:
        document.allowed_roles = clean_allowed_roles(allowed_roles)
    if size_bytes is not None:
        document.size_bytes = size_bytes
    if content_sha256 is not None:
        document.content_sha256 = content_sha256
    if status is IndexingStatus.COMPLETED:
        document.chunk_count = chunk_count
        document.last_indexed = now
        document.error = None
        document.author = author
        document.created_at_source = _naive_utc(created_at_source)
    elif status is IndexingStatus.FAILED:
        document.error = (error or "")[:_MAX_ERROR]
    await session.flush()
    if status in (IndexingStatus.COMPLETED, IndexingStatus.FAILED):
        details: dict[str, Any] = {"document_id": document_id, "status": status.value}
        if status is IndexingStatus.COMPLETED:
            details["chunk_count"] = chunk_count
        else:
            details["error"] = document.error
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="DOCUMENT_INDEXED" if status is IndexingStatus.COMPLETED else "DOCUMENT_INDEX_FAILED",
            actor_type=_actor(actor_id),
            actor_id=actor_id,
            details=details,
        )
    return document


async def delete_document(
    session: AsyncSession, tenant_id: str, document_id: str, *, actor_id: str | None = None
) -> None:
    """Delete the row (delete its vector points first: see ``retrieval.delete_document``)."""
    document = await get_document(session, tenant_id, document_id, for_update=True)
    await session.delete(document)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="DOCUMENT_DELETED",
        actor_type=_actor(actor_id),
        actor_id=actor_id,
        details={"document_id": document_id, "source_uri": document.source_uri},
    )


def document_public(document: Document) -> dict[str, Any]:
    """The API view of a document row."""

    def iso(value: datetime | None) -> str | None:
        return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": document.id,
        "tenant_id": document.tenant_id,
        "source_uri": document.source_uri,
        "file_name": document.file_name,
        "file_type": document.file_type,
        "status": document.status.value,
        "allowed_roles": list(document.allowed_roles or []),
        "chunk_count": document.chunk_count,
        "error": document.error,
        "author": document.author,
        "created_at_source": iso(document.created_at_source),
        "size_bytes": document.size_bytes,
        "content_sha256": document.content_sha256,
        "last_indexed": iso(document.last_indexed),
        "created_at": iso(document.created_at),
        "updated_at": iso(document.updated_at),
    }
