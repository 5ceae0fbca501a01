"""What the chunk store needs from a backend, beyond LangChain's ``VectorStore`` interface.

Both backends are LangChain ``VectorStore`` subclasses with *flat* payloads: the chunk text is
the payload key ``content`` and every metadata field sits next to it at the top level, which is
the point structure EAWE's seed design fixes. Searches go through the standard
``similarity_search_with_score_by_vector``; the point-level operations below (filtered delete,
payload update, count, scroll, retrieve) are the ones LangChain's interface does not cover.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.documents import Document

from retrieval.vectorstores.filters import Clause

__all__ = ["CONTENT_KEY", "IndexKind", "PointStore", "StoredPoint", "document_from_payload"]

CONTENT_KEY = "content"


class IndexKind(enum.Enum):
    """Payload index types the chunk store asks for."""

    TENANT = "tenant"  # keyword index flagged is_tenant: co-locates one tenant's points
    KEYWORD = "keyword"
    INTEGER = "integer"  # integer index with range lookups


@dataclass(frozen=True)
class StoredPoint:
    """One point to write: an id (UUID string), its vector and its flat payload."""

    id: str
    vector: Sequence[float]
    payload: Mapping[str, Any]


def document_from_payload(point_id: Any, payload: Mapping[str, Any] | None) -> Document:
    """A LangChain document from a flat payload: ``content`` becomes the text, the rest metadata."""
    data = dict(payload or {})
    text = data.pop(CONTENT_KEY, "") or ""
    data["_id"] = str(point_id)
    return Document(page_content=str(text), metadata=data, id=str(point_id))


@runtime_checkable
class PointStore(Protocol):
    """Point-level operations; implemented by both Qdrant backends."""

    backend_name: str

    def collection_dimension(self) -> int | None:
        """The collection's vector size, or None when the collection does not exist yet."""
        ...

    def create_collection(self, dimension: int) -> None:
        """Create the collection (cosine distance) with ``dimension``-long vectors."""
        ...

    def ensure_payload_indexes(self, indexes: Mapping[str, IndexKind]) -> None:
        """Create the payload indexes that are missing."""
        ...

    def upsert_points(self, points: Sequence[StoredPoint]) -> None:
        """Insert or replace points (visible when the call returns)."""
        ...

    def native_filter(self, clause: Clause) -> Any:
        """``clause`` in the backend's own filter type, for ``similarity_search(filter=...)``."""
        ...

    def set_payload_where(self, clause: Clause, payload: Mapping[str, Any]) -> None:
        """Set payload keys on every point matching ``clause``."""
        ...

    def delete_where(self, clause: Clause) -> None:
        """Delete every point matching ``clause``."""
        ...

    def count_where(self, clause: Clause) -> int:
        """Exact number of points matching ``clause``."""
        ...

    def scroll_where(
        self, clause: Clause, limit: int, offset: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """A page of ``(id, payload)`` matching ``clause`` and the next offset (None at the end)."""
        ...

    def payloads_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Payloads of the points that exist among ``ids``."""
        ...

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """LangChain's vector search (``filter`` in the native type)."""
        ...

    def close(self) -> None:
        """Release the backend (files, connections)."""
        ...
