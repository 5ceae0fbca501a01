"""The Qdrant point payload of a chunk: the seed's contract plus EAWE's bookkeeping keys.

Seed contract (top-level keys): ``content``, ``document_id``, ``tenant_id``, ``source_uri``,
``allowed_roles``, ``author``, ``created_at_source``. EAWE adds ``file_name``, ``chunk_index``,
``page`` (PDF) and ``section`` (DOCX/Markdown headings) where the format gives them, and three
internal keys that readers never see in results: ``record_kind`` and the visibility window
``visible_from_epoch`` / ``visible_until_epoch`` (see :mod:`retrieval.chunk_store`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "INTERNAL_KEYS",
    "LIVE_EPOCH",
    "ChunkInput",
    "DocumentInfo",
    "build_chunk_payload",
    "public_metadata",
]

RECORD_KIND = "record_kind"
RECORD_CHUNK = "chunk"
VISIBLE_FROM = "visible_from_epoch"
VISIBLE_UNTIL = "visible_until_epoch"
LIVE_EPOCH = 2**53 - 1  # "not retired"; exact as a float, which is how range filters compare
INTERNAL_KEYS = frozenset({RECORD_KIND, VISIBLE_FROM, VISIBLE_UNTIL, "_collection_name"})


@dataclass(frozen=True)
class ChunkInput:
    """One chunk to index.

    Attributes:
        content: The chunk text (what is embedded and returned).
        page: 1-based page number (PDF), when known.
        section: Heading path such as ``"Budget > Q3"`` (DOCX, Markdown), when known.
    """

    content: str
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """Document-level fields copied onto every chunk of a document."""

    document_id: str
    source_uri: str
    file_name: str
    allowed_roles: Sequence[str]
    author: str | None = None
    created_at_source: datetime | None = None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_chunk_payload(
    tenant_id: str, document: DocumentInfo, chunk: ChunkInput, chunk_index: int, epoch: int
) -> dict[str, Any]:
    """The flat payload of one chunk, visible from ``epoch`` on."""
    payload: dict[str, Any] = {
        "content": chunk.content,
        "document_id": document.document_id,
        "tenant_id": tenant_id,
        "source_uri": document.source_uri,
        "allowed_roles": sorted(set(document.allowed_roles)),
        "author": document.author,
        "created_at_source": _iso(document.created_at_source),
        "file_name": document.file_name,
        "chunk_index": chunk_index,
        RECORD_KIND: RECORD_CHUNK,
        VISIBLE_FROM: epoch,
        VISIBLE_UNTIL: LIVE_EPOCH,
    }
    if chunk.page is not None:
        payload["page"] = chunk.page
    if chunk.section:
        payload["section"] = chunk.section
    return payload


def public_metadata(metadata: Mapping[str, Any], score: float | None = None) -> dict[str, Any]:
    """Result metadata: the payload without internal keys, ``_id`` renamed ``chunk_id``, plus ``score``."""
    out = {k: v for k, v in metadata.items() if k not in INTERNAL_KEYS and k != "_id"}
    if "_id" in metadata:
        out["chunk_id"] = str(metadata["_id"])
    if score is not None:
        out["score"] = float(score)
    return out
