"""The embedded backend: a LangChain ``VectorStore`` over qdrant-edge, the Qdrant engine in-process.

qdrant-edge runs Qdrant's own segment, HNSW and payload-index code inside this process (an
"Edge Shard" in one local directory), so the embedded default filters and ranks exactly like a
Qdrant server. Only one process may open a directory at a time; a second one gets a clear
:class:`~retrieval.errors.VectorStoreUnavailableError`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from retrieval.errors import VectorStoreUnavailableError
from retrieval.vectorstores.base import CONTENT_KEY, IndexKind, StoredPoint, document_from_payload
from retrieval.vectorstores.filters import Clause, to_edge_filter

__all__ = ["EdgeQdrantVectorStore"]

_CONFIG_FILE = "edge_config.json"  # written by qdrant-edge next to its segments


def _as_floats(vector: Sequence[float]) -> list[float]:
    tolist = getattr(vector, "tolist", None)
    return [float(x) for x in (tolist() if tolist else vector)]


class EdgeQdrantVectorStore(VectorStore):
    """A Qdrant Edge shard behind LangChain's ``VectorStore`` interface (cosine distance).

    Args:
        path: Directory of the shard; created on first write if it holds no shard yet.
        embedding: Embeddings used by the text-level LangChain methods (``add_texts``,
            ``similarity_search``); the point-level methods take vectors.
        max_search_threads: Size of the shard's search thread pool (None: one per CPU).
    """

    backend_name = "qdrant-edge"

    def __init__(
        self, path: Path | str, embedding: Embeddings | None = None, *, max_search_threads: int | None = None
    ) -> None:
        self.path = Path(path)
        self._embedding = embedding
        self._threads = max_search_threads
        self._lock = threading.Lock()
        self._shard: Any = None
        self._dimension: int | None = None
        config_file = self.path / _CONFIG_FILE
        if config_file.is_file():
            self._dimension = int(json.loads(config_file.read_text())["vectors"][""]["size"])
            self._shard = self._open(lambda: qe.EdgeShard.load(str(self.path), self._config(self._dimension)))

    # ---- lifecycle -------------------------------------------------------------------------

    def _config(self, dimension: int) -> Any:
        return qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine),
            max_search_threads=self._threads,
        )

    def _open(self, opener: Any) -> Any:
        try:
            return opener()
        except Exception as exc:
            if "WouldBlock" in str(exc) or "lock" in str(exc).lower():
                raise VectorStoreUnavailableError(
                    f"the embedded Qdrant engine at {self.path} is already open "
                    "(by this or another process); "
                    "stop it, or point QDRANT_URL at a Qdrant server so several processes can share one store"
                ) from None
            raise VectorStoreUnavailableError(
                f"cannot open the embedded Qdrant engine at {self.path}: {exc}"
            ) from exc

    def collection_dimension(self) -> int | None:
        return self._dimension

    def create_collection(self, dimension: int) -> None:
        with self._lock:
            if self._shard is not None:
                return
            self.path.mkdir(parents=True, exist_ok=True)
            self._shard = self._open(lambda: qe.EdgeShard.create(str(self.path), self._config(dimension)))
            self._dimension = dimension

    def ensure_payload_indexes(self, indexes: Mapping[str, IndexKind]) -> None:
        shard = self._require()
        existing = set(shard.info().payload_schema.keys())
        for field, kind in indexes.items():
            if field in existing:
                continue
            if kind is IndexKind.TENANT:
                schema: Any = qe.KeywordIndexParams(is_tenant=True)
            elif kind is IndexKind.KEYWORD:
                schema = qe.PayloadSchemaType.Keyword
            else:
                schema = qe.IntegerIndexParams(lookup=False, range=True)
            shard.update(qe.UpdateOperation.create_field_index(field, schema))

    def optimize(self) -> bool:
        """Run Qdrant's segment optimizers now (builds HNSW graphs for large segments)."""
        return bool(self._shard.optimize()) if self._shard is not None else False

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    def _require(self) -> Any:
        if self._shard is None:
            raise VectorStoreUnavailableError(f"no collection at {self.path}; create it first")
        return self._shard

    # ---- point-level operations (PointStore) -----------------------------------------------

    def native_filter(self, clause: Clause) -> Any:
        return to_edge_filter(clause)

    def upsert_points(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        if self._shard is None:
            self.create_collection(len(points[0].vector))
        batch = [qe.Point(p.id, _as_floats(p.vector), dict(p.payload)) for p in points]
        self._require().update(qe.UpdateOperation.upsert_points(batch))

    def set_payload_where(self, clause: Clause, payload: Mapping[str, Any]) -> None:
        if self._shard is not None:
            self._shard.update(
                qe.UpdateOperation.set_payload_by_filter(to_edge_filter(clause), dict(payload))
            )

    def delete_where(self, clause: Clause) -> None:
        if self._shard is not None:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(to_edge_filter(clause)))

    def count_where(self, clause: Clause) -> int:
        if self._shard is None:
            return 0
        return int(self._shard.count(qe.CountRequest(exact=True, filter=to_edge_filter(clause))))

    def scroll_where(
        self, clause: Clause, limit: int, offset: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        if self._shard is None:
            return [], None
        records, next_offset = self._shard.scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=to_edge_filter(clause),
                with_payload=True,
                with_vector=False,
            )
        )
        page = [(str(r.id), dict(r.payload or {})) for r in records]
        return page, (str(next_offset) if next_offset is not None else None)

    def payloads_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if self._shard is None or not ids:
            return {}
        return {str(r.id): dict(r.payload or {}) for r in self._shard.retrieve(list(ids), True, False)}

    # ---- LangChain VectorStore -------------------------------------------------------------

    @property
    def embeddings(self) -> Embeddings | None:
        return self._embedding

    def _require_embedding(self) -> Embeddings:
        if self._embedding is None:
            raise ValueError("this EdgeQdrantVectorStore has no embeddings; pass embedding= to embed text")
        return self._embedding

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed ``texts`` and store them with flat payloads (``content`` plus the metadata keys)."""
        texts = list(texts)
        point_ids = list(ids) if ids is not None else [str(uuid.uuid4()) for _ in texts]
        vectors = self._require_embedding().embed_documents(texts)
        metas = metadatas or [{} for _ in texts]
        self.upsert_points(
            [
                StoredPoint(pid, vec, {**meta, CONTENT_KEY: text})
                for pid, vec, meta, text in zip(point_ids, vectors, metas, texts, strict=True)
            ]
        )
        return point_ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if not ids:
            return False
        if self._shard is not None:
            self._shard.update(qe.UpdateOperation.delete_points(list(ids)))
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [document_from_payload(pid, payload) for pid, payload in self.payloads_by_id(ids).items()]

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: Any = None,  # LangChain's parameter name
        *,
        exact: bool = False,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest points (cosine similarity as the score) that match ``filter``."""
        if self._shard is None:
            return []
        results = self._shard.query(
            qe.QueryRequest(
                limit=k,
                query=qe.Query.Nearest(_as_floats(embedding)),
                filter=filter,
                with_payload=True,
                with_vector=False,
                score_threshold=score_threshold,
                params=qe.SearchParams(exact=True) if exact else None,
            )
        )
        return [(document_from_payload(p.id, p.payload), float(p.score)) for p in results]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        vector = self._require_embedding().embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, **kwargs)

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def _select_relevance_score_fn(self) -> Any:
        return lambda score: (score + 1.0) / 2.0  # cosine similarity → [0, 1], as langchain-qdrant does

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        path: Path | str | None = None,
        **kwargs: Any,
    ) -> EdgeQdrantVectorStore:
        """Create (or open) a shard at ``path`` and add ``texts``."""
        if path is None:
            raise ValueError("EdgeQdrantVectorStore.from_texts needs path= (the shard directory)")
        store = cls(path, embedding)
        store.add_texts(texts, metadatas, ids=ids)
        return store
