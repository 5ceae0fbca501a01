"""The server backend: langchain-qdrant's ``QdrantVectorStore`` with EAWE's flat payload.

langchain-qdrant nests metadata under one payload key; EAWE's point structure keeps ``content``,
``tenant_id``, ``allowed_roles``... at the top level so they can be indexed and filtered
directly. This subclass changes only how payloads are built and read back; searches run through
langchain-qdrant's own code (``query_points`` with the filter), against a Qdrant server or
qdrant-client's local mode.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models

from retrieval.vectorstores.base import CONTENT_KEY, IndexKind, StoredPoint, document_from_payload
from retrieval.vectorstores.filters import Clause, to_client_filter

__all__ = ["ServerQdrantVectorStore"]


class ServerQdrantVectorStore(QdrantVectorStore):
    """``QdrantVectorStore`` whose points carry EAWE's flat payload (``content`` + metadata keys).

    Args:
        client: A ``QdrantClient`` (server URL, or local mode with ``path=``/``":memory:"``).
        collection_name: The one collection all tenants share.
        embedding: Embeddings for the text-level methods; may be None when only vectors are used.
    """

    backend_name = "qdrant-server"

    def __init__(
        self, client: QdrantClient, collection_name: str, embedding: Embeddings | None = None
    ) -> None:
        super().__init__(
            client=client,
            collection_name=collection_name,
            embedding=embedding,
            content_payload_key=CONTENT_KEY,
            metadata_payload_key="",
            validate_embeddings=embedding is not None,
            validate_collection_config=False,  # the chunk store checks model and dimension itself
        )
        if getattr(client, "_client", None).__class__.__name__ == "QdrantLocal":
            self.backend_name = "qdrant-client-local"

    # ---- flat payloads ---------------------------------------------------------------------

    @staticmethod
    def _build_payloads(
        texts: Iterable[str],
        metadatas: list[dict] | None,
        content_payload_key: str,
        metadata_payload_key: str,
    ) -> list[dict]:
        payloads = []
        for index, text in enumerate(texts):
            if text is None:
                raise ValueError("texts must not contain None")
            metadata = dict(metadatas[index]) if metadatas is not None and metadatas[index] else {}
            metadata[content_payload_key] = text
            payloads.append(metadata)
        return payloads

    @classmethod
    def _document_from_point(
        cls,
        scored_point: Any,
        collection_name: str,
        content_payload_key: str,
        metadata_payload_key: str,
    ) -> Document:
        return document_from_payload(scored_point.id, scored_point.payload)

    # ---- point-level operations (PointStore) -----------------------------------------------

    def collection_dimension(self) -> int | None:
        if not self.client.collection_exists(self.collection_name):
            return None
        vectors = self.client.get_collection(self.collection_name).config.params.vectors
        if isinstance(vectors, Mapping):
            vectors = vectors.get(self.vector_name)
        return int(vectors.size) if vectors is not None else None

    def create_collection(self, dimension: int) -> None:
        if not self.client.collection_exists(self.collection_name):
            self.client.create_collection(
                self.collection_name,
                vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            )

    def ensure_payload_indexes(self, indexes: Mapping[str, IndexKind]) -> None:
        existing = set((self.client.get_collection(self.collection_name).payload_schema or {}).keys())
        for field, kind in indexes.items():
            if field in existing:
                continue
            if kind is IndexKind.TENANT:
                schema: Any = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
            elif kind is IndexKind.KEYWORD:
                schema = models.PayloadSchemaType.KEYWORD
            else:
                schema = models.IntegerIndexParams(
                    type=models.IntegerIndexType.INTEGER, lookup=False, range=True
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # local mode warns that indexes have no effect there
                self.client.create_payload_index(self.collection_name, field, field_schema=schema, wait=True)

    def native_filter(self, clause: Clause) -> Any:
        return to_client_filter(clause)

    def upsert_points(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        batch = [
            models.PointStruct(
                id=p.id,
                vector=p.vector.tolist() if hasattr(p.vector, "tolist") else list(p.vector),
                payload=dict(p.payload),
            )
            for p in points
        ]
        self.client.upsert(self.collection_name, points=batch, wait=True)

    def set_payload_where(self, clause: Clause, payload: Mapping[str, Any]) -> None:
        self.client.set_payload(
            self.collection_name,
            payload=dict(payload),
            points=models.FilterSelector(filter=to_client_filter(clause)),
            wait=True,
        )

    def delete_where(self, clause: Clause) -> None:
        self.client.delete(
            self.collection_name,
            points_selector=models.FilterSelector(filter=to_client_filter(clause)),
            wait=True,
        )

    def count_where(self, clause: Clause) -> int:
        return int(
            self.client.count(self.collection_name, count_filter=to_client_filter(clause), exact=True).count
        )

    def scroll_where(
        self, clause: Clause, limit: int, offset: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        records, next_offset = self.client.scroll(
            self.collection_name,
            scroll_filter=to_client_filter(clause),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=False,
        )
        page = [(str(r.id), dict(r.payload or {})) for r in records]
        return page, (str(next_offset) if next_offset is not None else None)

    def payloads_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        records = self.client.retrieve(
            self.collection_name, ids=list(ids), with_payload=True, with_vectors=False
        )
        return {str(r.id): dict(r.payload or {}) for r in records}

    def close(self) -> None:
        self.client.close()
