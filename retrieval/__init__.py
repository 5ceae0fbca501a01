"""Permission-aware retrieval: ingestion, embeddings, the Qdrant chunk store and the retriever.

The engine and the server use:

* :func:`open_chunk_store` (settings → :class:`ChunkStore`; a Qdrant server when ``QDRANT_URL``
  is set, else the embedded Qdrant engine) and :func:`build_embeddings`;
* :class:`PermissionFilter` (tenant + groups of the acting principal) and
  :class:`PermissionedRetriever` (``await retriever.ainvoke(query, k=4)``);
* :func:`ingest_paths`, :func:`register_document`, :func:`index_document` and
  :func:`remove_document` for the document lifecycle.
"""

from retrieval.chunk_payload import ChunkInput, DocumentInfo
from retrieval.chunk_store import MAX_K, ChunkStore
from retrieval.embeddings import EmbeddingIdentity, build_embeddings, embedding_identity
from retrieval.errors import (
    DocumentRejectedError,
    EmbeddingModelMismatchError,
    MissingPermissionScopeError,
    RetrievalError,
    VectorStoreUnavailableError,
)
from retrieval.ingestion import (
    IngestOutcome,
    IngestProgress,
    index_document,
    ingest_paths,
    register_document,
    remove_document,
)
from retrieval.local_embeddings import LOCAL_EMBEDDING_DIMENSION, LOCAL_EMBEDDING_MODEL, LocalMiniLMEmbeddings
from retrieval.permissions import PermissionFilter
from retrieval.retriever import PermissionedRetriever
from retrieval.store_factory import open_chunk_store, open_vector_backend
from retrieval.write_locks import postgres_tenant_write_lock

__all__ = [
    "LOCAL_EMBEDDING_DIMENSION",
    "LOCAL_EMBEDDING_MODEL",
    "MAX_K",
    "ChunkInput",
    "ChunkStore",
    "DocumentInfo",
    "DocumentRejectedError",
    "EmbeddingIdentity",
    "EmbeddingModelMismatchError",
    "IngestOutcome",
    "IngestProgress",
    "LocalMiniLMEmbeddings",
    "MissingPermissionScopeError",
    "PermissionFilter",
    "PermissionedRetriever",
    "RetrievalError",
    "VectorStoreUnavailableError",
    "build_embeddings",
    "embedding_identity",
    "index_document",
    "ingest_paths",
    "open_chunk_store",
    "open_vector_backend",
    "postgres_tenant_write_lock",
    "register_document",
    "remove_document",
]
