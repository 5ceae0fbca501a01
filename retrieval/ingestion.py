"""Document ingestion: register, parse, chunk, embed, write, and keep the Document row in step.

A document moves PENDING → INDEXING → COMPLETED (chunk count, last indexed) or FAILED (the
reason). One bad file fails only itself. Re-indexing replaces the chunks atomically for readers;
if it fails, the previous chunks stay searchable and the row says FAILED with the reason.
Deleting a document removes its vector points first, then its row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from eawe.db.database import Database
from eawe.db.models import Document, IndexingStatus
from eawe.db.repositories import document_leases
from eawe.db.repositories import documents as repo
from eawe.db.repositories.document_leases import INTERRUPTED_REASON
from eawe.db.repositories.documents import DocumentAccess
from eawe.db.tenant_scope import scoped_by_tenant_argument, tenant_scope
from eawe.errors import ConflictError, PermissionDeniedError
from eawe.settings import Settings
from retrieval.chunk_payload import DocumentInfo
from retrieval.chunk_store import ChunkStore
from retrieval.embeddings import embedding_identity
from retrieval.errors import DocumentRejectedError, EmbeddingModelMismatchError
from retrieval.parse_pool import ParsePool
from retrieval.parsing import SUPPORTED_FILE_TYPES, detect_file_type
from retrieval.permissions import PermissionFilter
from retrieval.write_locks import postgres_tenant_write_lock

__all__ = [
    "IngestOutcome",
    "IngestProgress",
    "ProgressHook",
    "index_document",
    "ingest_paths",
    "register_document",
    "remove_document",
]

log = logging.getLogger(__name__)

UNCHANGED = "UNCHANGED"


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to one document.

    Attributes:
        source: The path or source URI.
        document_id: The Document row id (None only if no row could be made).
        status: ``COMPLETED``, ``FAILED`` or ``UNCHANGED`` (same bytes and groups as last time).
        chunk_count: Chunks written (COMPLETED) or present (UNCHANGED).
        pages: Pages (PDF) or text blocks parsed.
        error: The reason, for FAILED.
    """

    source: str
    document_id: str | None
    status: str
    chunk_count: int | None = None
    pages: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != IndexingStatus.FAILED.value


@dataclass(frozen=True)
class IngestProgress:
    """A progress event: ``completed`` of ``total`` files done, ``current`` being the latest."""

    completed: int
    total: int
    current: str
    outcome: IngestOutcome | None = None


ProgressHook = Callable[[IngestProgress], None]


def _file_type_label(file_name: str) -> str:
    try:
        return detect_file_type(file_name)
    except DocumentRejectedError:
        return (Path(file_name).suffix.lstrip(".") or "UNKNOWN").upper()[:20]


@scoped_by_tenant_argument
async def register_document(
    database: Database,
    *,
    tenant_id: str,
    source_uri: str,
    file_name: str,
    allowed_roles: Sequence[str],
    size_bytes: int | None = None,
    actor_id: str | None = None,
    access: DocumentAccess | None = None,
    lease: timedelta = repo.DEFAULT_INDEXING_LEASE,
) -> Document:
    """The PENDING row for a new source, or the existing row for a known ``source_uri``.

    An existing row is returned only to a caller whose ``access`` (default: unrestricted) manages
    it. A document the caller cannot see is not revealed in any way: the answer is the same
    ConflictError whatever the hidden document is.

    Raises:
        eawe.errors.ConflictError: ``source_uri`` names a document the caller cannot see, or one
            being indexed right now (its indexing lease is live).
        eawe.errors.PermissionDeniedError: The caller sees the document but does not manage it.
    """
    access = access or DocumentAccess.unrestricted()
    async with database.transaction() as session:
        existing = await repo.find_document_by_source_uri(session, tenant_id, source_uri)
        if existing is None:
            return await repo.create_document(
                session,
                tenant_id=tenant_id,
                source_uri=source_uri,
                file_name=file_name,
                file_type=_file_type_label(file_name),
                allowed_roles=allowed_roles,
                size_bytes=size_bytes,
                actor_id=actor_id,
            )
        repo.clean_allowed_roles(allowed_roles)
        if not access.sees(existing):
            raise ConflictError(
                "this source_uri (from the file name when none is given) is already taken in the "
                "tenant; pass another source_uri or rename the file",
                field="source_uri",
            )
        if not access.manages(existing):
            raise PermissionDeniedError(
                f"document {existing.id} is also shared with groups you are not in; "
                "only an administrator may replace it"
            )
        if existing.status is IndexingStatus.INDEXING and repo.lease_is_live(existing, lease):
            raise ConflictError(
                f"document {existing.id} is being indexed right now; retry later", field="file"
            )
        return existing


@scoped_by_tenant_argument
async def index_document(
    document_id: str,
    data: bytes,
    *,
    tenant_id: str,
    settings: Settings,
    database: Database,
    store: ChunkStore,
    allowed_roles: Sequence[str] | None = None,
    skip_unchanged: bool = False,
    actor_id: str | None = None,
    parse_pool: ParsePool | None = None,
) -> IngestOutcome:
    """Index (or re-index) one registered document from its bytes.

    The file is parsed and chunked in a limited parser process (``parse_pool``, or one opened
    for this call). While it works the document's indexing lease is renewed every third of
    ``indexing_lease_seconds``; if this process dies, the lease runs out and the sweeper fails it.
    A rejected file (empty, oversized, encrypted, corrupt, textless, out of bounds) or a failure
    while writing marks the row FAILED with the reason and returns; the previous chunks, if any, stay.

    Raises:
        eawe.errors.NotFoundError: No such document in ``tenant_id``.
        eawe.errors.ConflictError: The document is being indexed right now.
        EmbeddingModelMismatchError: The store's embedding model changed under us (not per-file).
    """
    digest = hashlib.sha256(data).hexdigest()
    async with database.transaction() as session:
        document = await repo.get_document(session, tenant_id, document_id, for_update=True)
        roles: list[str] = repo.clean_allowed_roles(
            allowed_roles if allowed_roles is not None else list(document.allowed_roles or [])
        )
        if (
            skip_unchanged
            and document.status is IndexingStatus.COMPLETED
            and document.content_sha256 == digest
            and sorted(document.allowed_roles or []) == sorted(roles)
        ):
            return IngestOutcome(
                document.source_uri, document.id, UNCHANGED, chunk_count=document.chunk_count
            )
        document = await repo.set_document_status(
            session,
            tenant_id,
            document_id,
            IndexingStatus.INDEXING,
            allowed_roles=roles,
            size_bytes=len(data),
            actor_id=actor_id,
            lease=timedelta(seconds=settings.indexing_lease_seconds),
        )
        info = DocumentInfo(document.id, document.source_uri, document.file_name, roles)
    try:
        async with _lease_heartbeat(database, tenant_id, document_id, settings.indexing_lease_seconds / 3):
            if parse_pool is None:
                async with _temporary_pool(settings) as pool:
                    result = await pool.parse(data, info.file_name)
            else:
                result = await parse_pool.parse(data, info.file_name)
            parsed, chunks = result.document, result.chunks
            info = DocumentInfo(
                info.document_id,
                info.source_uri,
                info.file_name,
                info.allowed_roles,
                parsed.author,
                parsed.created_at_source,
            )
            count = await store.replace_document(
                tenant_id, info, chunks, write_lock=postgres_tenant_write_lock(database)
            )
    except DocumentRejectedError as exc:
        return await _fail(database, tenant_id, document_id, info.source_uri, exc.reason, actor_id)
    except EmbeddingModelMismatchError:
        await _fail(database, tenant_id, document_id, info.source_uri, "embedding model mismatch", actor_id)
        raise
    except Exception as exc:
        log.exception("indexing document %s failed", document_id)
        reason = f"indexing failed: {type(exc).__name__}"
        return await _fail(database, tenant_id, document_id, info.source_uri, reason, actor_id)
    except asyncio.CancelledError:
        # A shutdown: say so now rather than leave the row to the lease sweeper.
        await asyncio.shield(
            _fail(database, tenant_id, document_id, info.source_uri, INTERRUPTED_REASON, actor_id)
        )
        raise
    async with database.transaction() as session:
        await repo.set_document_status(
            session,
            tenant_id,
            document_id,
            IndexingStatus.COMPLETED,
            chunk_count=count,
            content_sha256=digest,
            author=parsed.author,
            created_at_source=parsed.created_at_source,
            actor_id=actor_id,
        )
    pages = parsed.page_count if parsed.page_count is not None else len(parsed.blocks)
    return IngestOutcome(info.source_uri, document_id, IndexingStatus.COMPLETED.value, count, pages)


@asynccontextmanager
async def _temporary_pool(settings: Settings) -> AsyncIterator[ParsePool]:
    pool = ParsePool.from_settings(settings)
    try:
        yield pool
    finally:
        await asyncio.to_thread(pool.close)


@asynccontextmanager
async def _lease_heartbeat(
    database: Database, tenant_id: str, document_id: str, interval: float
) -> AsyncIterator[None]:
    """Renew the document's indexing lease every ``interval`` seconds while the body runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                async with database.transaction() as session:
                    alive = await document_leases.renew_indexing_lease(session, tenant_id, document_id)
            except Exception:  # a missed beat is retried; the lease outlives two of them
                log.warning("could not renew the indexing lease of document %s", document_id)
                continue
            if not alive:
                return  # failed or deleted meanwhile: the final status update will say so

    task = asyncio.create_task(beat(), name=f"indexing-lease-{document_id}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _fail(
    database: Database, tenant_id: str, document_id: str, source: str, reason: str, actor_id: str | None
) -> IngestOutcome:
    async with database.transaction() as session:
        await repo.set_document_status(
            session, tenant_id, document_id, IndexingStatus.FAILED, error=reason, actor_id=actor_id
        )
    return IngestOutcome(source, document_id, IndexingStatus.FAILED.value, error=reason)


async def remove_document(
    document_id: str,
    *,
    permission_filter: PermissionFilter,
    database: Database,
    store: ChunkStore,
    actor_id: str | None = None,
) -> None:
    """Delete a document of the filter's tenant: its vector points, then its row.

    Points go first so a failure never leaves searchable chunks without a row.

    Raises:
        eawe.errors.NotFoundError: No such document in the caller's tenant.
    """
    with tenant_scope(permission_filter.tenant_id):
        await _remove_document(
            document_id,
            permission_filter=permission_filter,
            database=database,
            store=store,
            actor_id=actor_id,
        )


async def _remove_document(
    document_id: str,
    *,
    permission_filter: PermissionFilter,
    database: Database,
    store: ChunkStore,
    actor_id: str | None = None,
) -> None:
    """Delete a document of the filter's tenant: its vector points, then its row.

    Points go first so a failure never leaves searchable chunks without a row.

    Raises:
        eawe.errors.NotFoundError: No such document in the caller's tenant.
    """
    tenant_id = permission_filter.tenant_id
    async with database.session() as session:
        await repo.get_document(session, tenant_id, document_id)
    await store.delete_document(
        permission_filter, document_id, write_lock=postgres_tenant_write_lock(database)
    )
    async with database.transaction() as session:
        await repo.delete_document(session, tenant_id, document_id, actor_id=actor_id)


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in SUPPORTED_FILE_TYPES
            )
        else:
            files.append(path)
    unique: dict[Path, None] = {}
    for file in files:
        unique.setdefault(file.resolve(), None)
    return list(unique)


def _progress_adapter(progress: Any, total: int) -> ProgressHook | None:
    if progress is None:
        return None
    if hasattr(progress, "add_task") and hasattr(progress, "update"):  # a rich Progress
        task = progress.add_task("indexing", total=total)

        def advance(event: IngestProgress) -> None:
            progress.update(
                task, completed=event.completed, description=f"indexing {Path(event.current).name}"
            )

        return advance
    if callable(progress):
        return progress
    raise TypeError("progress must be a callable taking IngestProgress or a rich.progress.Progress")


@scoped_by_tenant_argument
async def ingest_paths(
    paths: Iterable[Path | str],
    *,
    tenant_id: str,
    allowed_roles: Sequence[str],
    settings: Settings,
    database: Database,
    vector_store: ChunkStore,
    embeddings: Embeddings | None = None,
    progress: ProgressHook | Any | None = None,
    actor_id: str | None = None,
) -> list[IngestOutcome]:
    """Index files (directories are walked for supported types) for ``tenant_id``.

    Each file becomes (or updates) the Document with ``source_uri`` ``file:///abs/path``; files
    whose bytes and groups are unchanged since their last successful indexing are skipped.

    Args:
        paths: Files or directories.
        tenant_id: The tenant that owns the documents.
        allowed_roles: Groups that may see them (at least one).
        settings: For ``max_document_bytes``.
        database: The relational store.
        vector_store: The chunk store to write to.
        embeddings: If given, must be the model the store was opened with.
        progress: A callable receiving :class:`IngestProgress`, or a ``rich.progress.Progress``.
        actor_id: The user doing it, for the audit log.

    Returns:
        One :class:`IngestOutcome` per file, in order.
    """
    roles = repo.clean_allowed_roles(allowed_roles)
    if embeddings is not None and embedding_identity(embeddings) != vector_store.identity:
        raise EmbeddingModelMismatchError(
            "ingest_paths: embeddings differ from the ones the store was opened with"
        )
    files = await asyncio.to_thread(_expand, list(paths))
    hook = _progress_adapter(progress, len(files))
    outcomes: list[IngestOutcome] = []
    async with _temporary_pool(settings) as pool:
        for number, path in enumerate(files, 1):
            outcome = await _ingest_file(
                path, tenant_id, roles, settings, database, vector_store, actor_id, pool
            )
            outcomes.append(outcome)
            if hook is not None:
                hook(IngestProgress(number, len(files), str(path), outcome))
    return outcomes


async def _ingest_file(
    path: Path,
    tenant_id: str,
    roles: list[str],
    settings: Settings,
    database: Database,
    store: ChunkStore,
    actor_id: str | None,
    pool: ParsePool,
) -> IngestOutcome:
    source_uri = path.as_uri()
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as exc:
        return IngestOutcome(
            str(path), None, IndexingStatus.FAILED.value, error=f"cannot read file: {exc.strerror}"
        )
    try:
        document = await register_document(
            database,
            tenant_id=tenant_id,
            source_uri=source_uri,
            file_name=path.name,
            allowed_roles=roles,
            size_bytes=size,
            actor_id=actor_id,
            lease=timedelta(seconds=settings.indexing_lease_seconds),
        )
    except ConflictError as exc:  # indexed right now by another process: leave its row alone
        return IngestOutcome(str(path), None, IndexingStatus.FAILED.value, error=str(exc))
    if size > settings.max_document_bytes:
        # Refuse before reading an oversized file into memory.
        reason = (
            f"file is {size} bytes; the limit is {settings.max_document_bytes} bytes (max_document_bytes)"
        )
        return await _fail(database, tenant_id, document.id, str(path), reason, actor_id)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return await _fail(
            database, tenant_id, document.id, str(path), f"cannot read file: {exc.strerror}", actor_id
        )
    try:
        outcome = await index_document(
            document.id,
            data,
            tenant_id=tenant_id,
            settings=settings,
            database=database,
            store=store,
            allowed_roles=roles,
            skip_unchanged=True,
            actor_id=actor_id,
            parse_pool=pool,
        )
    except ConflictError as exc:  # indexed right now by another process: leave its row alone
        return IngestOutcome(str(path), document.id, IndexingStatus.FAILED.value, error=str(exc))
    return IngestOutcome(
        str(path), outcome.document_id, outcome.status, outcome.chunk_count, outcome.pages, outcome.error
    )
