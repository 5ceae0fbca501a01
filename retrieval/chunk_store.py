"""The permission-enforcing chunk store over either Qdrant backend.

Every read takes a :class:`~retrieval.PermissionFilter` and adds its conditions to the query;
there is no unfiltered path. Writes are tenant-scoped and replace a document's chunks atomically
from a reader's point of view, with per-tenant epochs (a small MVCC scheme):

* each chunk carries ``visible_from_epoch`` and ``visible_until_epoch``; each tenant has one
  marker point holding its *committed* epoch ``C``; a reader sees exactly the chunks with
  ``visible_from <= C < visible_until``;
* a writer (serialised per tenant) inserts the new chunks with ``visible_from = C+1`` (invisible),
  sets ``visible_until = C+1`` on the chunks they replace (still visible at ``C``), then commits
  by writing ``C+1`` to the marker — one single-point write, so every reader sees either the old
  set or the new set, never both and never neither — and finally purges the retired chunks;
* a reader reads ``C``, searches, and reads ``C`` again; if it moved (a purge may have run under
  a search that used the old ``C``) it searches again at the new epoch.

A writer that died half-way leaves only invisible points (``visible_from > C``) or retirement
marks beyond ``C``; the next writer of that tenant removes or resets them before it starts.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from eawe.errors import Problem, ValidationError
from retrieval.chunk_payload import (
    LIVE_EPOCH,
    RECORD_CHUNK,
    RECORD_KIND,
    VISIBLE_FROM,
    VISIBLE_UNTIL,
    ChunkInput,
    DocumentInfo,
    build_chunk_payload,
    public_metadata,
)
from retrieval.embeddings import EmbeddingIdentity, embedding_identity
from retrieval.errors import EmbeddingModelMismatchError
from retrieval.permissions import PermissionFilter, require_permission_filter
from retrieval.vectorstores.base import IndexKind, PointStore, StoredPoint
from retrieval.vectorstores.filters import Clause, FieldIn, FieldIs, FieldRange

__all__ = ["MAX_K", "ChunkStore", "TenantWriteLock"]

log = logging.getLogger(__name__)

MAX_K = 100
OPTIMIZE_EVERY = 20_000  # chunks written by this process between two optimizer runs (embedded engine)
_UPSERT_BATCH = 256
_READ_ATTEMPTS = 5
_NAMESPACE = uuid.UUID("6f1c2d1e-7d8a-4c53-9a55-3b0e6f2a9c11")
_CONFIG_ID = str(uuid.uuid5(_NAMESPACE, "eawe:collection-config"))
_SCHEMA_VERSION = 1

PAYLOAD_INDEXES = {
    "tenant_id": IndexKind.TENANT,
    "allowed_roles": IndexKind.KEYWORD,
    "document_id": IndexKind.KEYWORD,
    RECORD_KIND: IndexKind.KEYWORD,
    VISIBLE_FROM: IndexKind.INTEGER,
    VISIBLE_UNTIL: IndexKind.INTEGER,
}

TenantWriteLock = Callable[[str], AbstractAsyncContextManager[Any]]
"""``lock(tenant_id)`` → an async context manager held around one tenant's write (cross-process)."""


def _epoch_marker_id(tenant_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"eawe:tenant-epoch:{tenant_id}"))


def _chunk_point_id(tenant_id: str, document_id: str, epoch: int, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"eawe:chunk:{tenant_id}:{document_id}:{epoch}:{index}"))


def _chunks_of(tenant_id: str, *more: Any) -> Clause:
    return Clause(must=(FieldIs(RECORD_KIND, RECORD_CHUNK), FieldIs("tenant_id", tenant_id), *more))


def _visible(permission_filter: PermissionFilter, epoch: int, *more: Any) -> Clause:
    return _chunks_of(
        permission_filter.tenant_id,
        FieldIn("allowed_roles", tuple(sorted(permission_filter.groups))),
        FieldRange(VISIBLE_FROM, lte=epoch),
        FieldRange(VISIBLE_UNTIL, gt=epoch),
        *more,
    )


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValidationError(Problem(field="k", message=f"must be an integer from 1 to {MAX_K}"))
    return k


class ChunkStore:
    """Permission-filtered search and atomic per-document writes over a Qdrant backend.

    Build it with :meth:`open` (or :func:`retrieval.open_chunk_store` from settings), which
    creates the collection and its payload indexes on first use and refuses a collection made
    with another embedding model.

    Attributes:
        backend: The LangChain ``VectorStore`` (edge or server) with the point-level operations.
        embeddings: The embeddings used for chunks and queries.
        identity: The embedding model name and dimension recorded on the collection.
    """

    def __init__(
        self,
        backend: PointStore,
        embeddings: Embeddings,
        identity: EmbeddingIdentity,
        *,
        write_lock: TenantWriteLock | None = None,
    ) -> None:
        self.backend = backend
        self.embeddings = embeddings
        self.identity = identity
        self._write_lock = write_lock
        self._tenant_locks: dict[str, asyncio.Lock] = {}
        self._written_since_optimize = 0

    @classmethod
    def open(
        cls,
        backend: PointStore,
        embeddings: Embeddings,
        identity: EmbeddingIdentity | None = None,
        *,
        write_lock: TenantWriteLock | None = None,
    ) -> ChunkStore:
        """Prepare the collection and check it matches ``embeddings``.

        Raises:
            EmbeddingModelMismatchError: The collection holds vectors of another model or size.
        """
        identity = identity or embedding_identity(embeddings)
        dimension = backend.collection_dimension()
        if dimension is None:
            backend.create_collection(identity.dimension)
        config = backend.payloads_by_id([_CONFIG_ID]).get(_CONFIG_ID)
        if dimension is not None and dimension != identity.dimension:
            recorded = (config or {}).get("embedding_model", "unknown")
            raise EmbeddingModelMismatchError(_mismatch(backend, identity, recorded, dimension))
        if config is None:
            if dimension is not None and backend.count_where(Clause()) > 0:
                raise EmbeddingModelMismatchError(
                    "the vector collection holds points but no EAWE model record; it was not created by EAWE "
                    "(set EAWE_QDRANT_COLLECTION to a new collection name)"
                )
            unit = [1.0] + [0.0] * (identity.dimension - 1)
            backend.upsert_points(
                [
                    StoredPoint(
                        _CONFIG_ID,
                        unit,
                        {
                            RECORD_KIND: "collection_config",
                            "embedding_model": identity.model,
                            "embedding_dimension": identity.dimension,
                            "schema_version": _SCHEMA_VERSION,
                        },
                    )
                ]
            )
        elif config.get("embedding_model") != identity.model or config.get("embedding_dimension") != (
            identity.dimension
        ):
            raise EmbeddingModelMismatchError(
                _mismatch(backend, identity, config.get("embedding_model"), config.get("embedding_dimension"))
            )
        backend.ensure_payload_indexes(PAYLOAD_INDEXES)
        return cls(backend, embeddings, identity, write_lock=write_lock)

    # ---- reads -------------------------------------------------------------------------------

    def committed_epoch(self, tenant_id: str) -> int:
        """The tenant's committed epoch (0 before its first write)."""
        marker = self.backend.payloads_by_id([_epoch_marker_id(tenant_id)]).get(_epoch_marker_id(tenant_id))
        return int(marker.get("committed_epoch", 0)) if marker else 0

    def search_by_vector(
        self, permission_filter: PermissionFilter, vector: Sequence[float], k: int = 4
    ) -> list[Document]:
        """The ``k`` chunks nearest to ``vector`` that ``permission_filter`` may see.

        Raises:
            MissingPermissionScopeError: ``permission_filter`` is missing.
            ValidationError: ``k`` is out of range (field ``k``).
        """
        scope = require_permission_filter(permission_filter, "search")
        _check_k(k)
        if scope.sees_nothing:
            return []
        embedding = [float(x) for x in vector]
        hits: list[tuple[Document, float]] = []
        for _ in range(_READ_ATTEMPTS):
            before = self.committed_epoch(scope.tenant_id)
            native = self.backend.native_filter(_visible(scope, before))
            hits = self.backend.similarity_search_with_score_by_vector(embedding, k, filter=native)
            if self.committed_epoch(scope.tenant_id) == before:
                break
        return [self._result(scope, doc, score) for doc, score in hits if self._allowed(scope, doc)]

    def search(self, permission_filter: PermissionFilter, query: str, k: int = 4) -> list[Document]:
        """The ``k`` chunks most similar to ``query`` that ``permission_filter`` may see."""
        require_permission_filter(permission_filter, "search")
        if not isinstance(query, str) or not query.strip():
            raise ValidationError(Problem(field="query", message="must be a non-empty string"))
        _check_k(k)
        if permission_filter.sees_nothing:
            return []
        return self.search_by_vector(permission_filter, self.embeddings.embed_query(query), k)

    async def asearch(self, permission_filter: PermissionFilter, query: str, k: int = 4) -> list[Document]:
        """:meth:`search` off the event loop (embedding and search are CPU/IO bound)."""
        require_permission_filter(permission_filter, "search")
        return await asyncio.to_thread(self.search, permission_filter, query, k)

    def scroll(
        self,
        permission_filter: PermissionFilter,
        *,
        document_id: str | None = None,
        limit: int = 100,
        offset: str | None = None,
    ) -> tuple[list[Document], str | None]:
        """A page of visible chunks (optionally of one document) and the offset of the next page."""
        scope = require_permission_filter(permission_filter, "scroll")
        if scope.sees_nothing:
            return [], None
        more = (FieldIs("document_id", document_id),) if document_id is not None else ()
        page, next_offset = self.backend.scroll_where(
            _visible(scope, self.committed_epoch(scope.tenant_id), *more), limit, offset
        )
        docs = [Document(page_content=p.get("content", ""), metadata={**p, "_id": pid}) for pid, p in page]
        return [self._result(scope, d, None) for d in docs if self._allowed(scope, d)], next_offset

    def count(self, permission_filter: PermissionFilter, *, document_id: str | None = None) -> int:
        """How many chunks (optionally of one document) ``permission_filter`` may see."""
        scope = require_permission_filter(permission_filter, "count")
        if scope.sees_nothing:
            return 0
        more = (FieldIs("document_id", document_id),) if document_id is not None else ()
        return self.backend.count_where(_visible(scope, self.committed_epoch(scope.tenant_id), *more))

    @staticmethod
    def _allowed(scope: PermissionFilter, doc: Document) -> bool:
        # Defence in depth: the engine already filtered; a result outside the scope is dropped.
        if scope.allows(doc.metadata):
            return True
        log.error("vector store returned a chunk outside the caller's scope; dropped")
        return False

    @staticmethod
    def _result(scope: PermissionFilter, doc: Document, score: float | None) -> Document:
        metadata = public_metadata(doc.metadata, score)
        return Document(page_content=doc.page_content, metadata=metadata, id=metadata.get("chunk_id"))

    # ---- writes ------------------------------------------------------------------------------

    async def replace_document(
        self,
        tenant_id: str,
        document: DocumentInfo,
        chunks: Sequence[ChunkInput],
        *,
        vectors: Sequence[Sequence[float]] | None = None,
        write_lock: TenantWriteLock | None = None,
    ) -> int:
        """Atomically replace the chunks of ``document`` in ``tenant_id``; returns the chunk count.

        Chunks are embedded first (outside the tenant's write lock), then written invisibly,
        then made visible in one commit that also hides the previous chunks. ``write_lock``, if
        given, is the cross-process lock to hold instead of the one the store was opened with.
        """
        if vectors is None:
            vectors = await asyncio.to_thread(self.embeddings.embed_documents, [c.content for c in chunks])
        if len(vectors) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for vector in vectors[:1]:
            if len(vector) != self.identity.dimension:
                raise EmbeddingModelMismatchError(
                    f"embeddings produced {len(vector)}-dimensional vectors; the collection expects "
                    f"{self.identity.dimension} ({self.identity.model})"
                )

        def mutate(epoch: int) -> None:
            points = [
                StoredPoint(
                    _chunk_point_id(tenant_id, document.document_id, epoch, index),
                    vector,
                    build_chunk_payload(tenant_id, document, chunk, index, epoch),
                )
                for index, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            ]
            for start in range(0, len(points), _UPSERT_BATCH):
                self.backend.upsert_points(points[start : start + _UPSERT_BATCH])
            self._retire(tenant_id, epoch, FieldIs("document_id", document.document_id))

        await self._write(tenant_id, mutate, write_lock)
        self._written_since_optimize += len(chunks)
        if self._written_since_optimize >= OPTIMIZE_EVERY and callable(
            getattr(self.backend, "optimize", None)
        ):
            # The embedded engine builds HNSW graphs only when asked; a server does it by itself.
            self._written_since_optimize = 0
            await asyncio.to_thread(self.optimize)
        return len(chunks)

    async def delete_document(
        self,
        permission_filter: PermissionFilter,
        document_id: str,
        *,
        write_lock: TenantWriteLock | None = None,
    ) -> None:
        """Remove every chunk of ``document_id`` in the filter's tenant (atomically for readers).

        Deletion is scoped to the tenant, not to the caller's groups: the server decides who may
        delete a document; this only guarantees another tenant's chunks are never touched.
        """
        scope = require_permission_filter(permission_filter, "delete")
        document = FieldIs("document_id", document_id)
        await self._write(
            scope.tenant_id, lambda epoch: self._retire(scope.tenant_id, epoch, document), write_lock
        )

    def _retire(self, tenant_id: str, epoch: int, *conditions: Any) -> None:
        # Hide (at the next commit) the live chunks written before this epoch.
        clause = _chunks_of(
            tenant_id, FieldRange(VISIBLE_FROM, lt=epoch), FieldRange(VISIBLE_UNTIL, gt=epoch), *conditions
        )
        self.backend.set_payload_where(clause, {VISIBLE_UNTIL: epoch})

    async def _write(
        self, tenant_id: str, mutate: Callable[[int], None], extra_lock: TenantWriteLock | None = None
    ) -> None:
        lock = self._tenant_locks.setdefault(tenant_id, asyncio.Lock())
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(lock)
            # One cross-process lock at most: two PostgreSQL advisory locks on the same key taken
            # from two connections would wait for each other forever.
            shared = extra_lock or self._write_lock
            if shared is not None:
                await stack.enter_async_context(shared(tenant_id))
            await asyncio.to_thread(self._write_sync, tenant_id, mutate)

    def _write_sync(self, tenant_id: str, mutate: Callable[[int], None]) -> None:
        committed = self.committed_epoch(tenant_id)
        # Undo what an interrupted writer left: invisible new chunks and uncommitted retirements.
        self.backend.delete_where(_chunks_of(tenant_id, FieldRange(VISIBLE_FROM, gt=committed)))
        self.backend.set_payload_where(
            _chunks_of(tenant_id, FieldRange(VISIBLE_UNTIL, gt=committed, lt=LIVE_EPOCH)),
            {VISIBLE_UNTIL: LIVE_EPOCH},
        )
        epoch = committed + 1
        mutate(epoch)
        unit = [1.0] + [0.0] * (self.identity.dimension - 1)
        marker = {RECORD_KIND: "tenant_epoch", "tenant_id": tenant_id, "committed_epoch": epoch}
        self.backend.upsert_points([StoredPoint(_epoch_marker_id(tenant_id), unit, marker)])  # the commit
        self.backend.delete_where(_chunks_of(tenant_id, FieldRange(VISIBLE_UNTIL, lte=epoch)))

    # ---- maintenance -------------------------------------------------------------------------

    def optimize(self) -> bool:
        """Let the embedded engine build its HNSW index now (a no-op on a server, which does it itself)."""
        optimize = getattr(self.backend, "optimize", None)
        return bool(optimize()) if callable(optimize) else False

    def close(self) -> None:
        """Flush and release the backend."""
        self.backend.close()


def _mismatch(backend: PointStore, identity: EmbeddingIdentity, model: Any, dimension: Any) -> str:
    return (
        f"the vector collection ({backend.backend_name}) was built with embedding model {model!r} "
        f"({dimension} dimensions) but this process is configured for {identity.model!r} "
        f"({identity.dimension} dimensions); restore the previous embedding settings, or set "
        "EAWE_QDRANT_COLLECTION to a new collection and re-ingest the documents"
    )
