"""Bodies for documents and search."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retrieval import MAX_K
from server.schemas.common import ApiModel

__all__ = ["DocumentOut", "SearchHit", "SearchOut", "SearchRequest"]


class DocumentOut(ApiModel):
    id: str
    source_uri: str
    file_name: str
    file_type: str
    status: str
    allowed_roles: list[str]
    chunk_count: int | None
    error: str | None
    author: str | None
    created_at_source: str | None
    size_bytes: int | None
    content_sha256: str | None
    last_indexed: str | None
    created_at: str | None
    updated_at: str | None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=4, ge=1, le=MAX_K)


class SearchHit(BaseModel):
    content: str
    score: float | None = None
    document_id: str | None = None
    source_uri: str | None = None
    file_name: str | None = None
    metadata: dict[str, Any]


class SearchOut(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None = None
