"""Opening the chunk store from settings: a Qdrant server when configured, else the embedded engine."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from eawe.settings import Settings
from retrieval.chunk_store import ChunkStore, TenantWriteLock
from retrieval.embeddings import build_embeddings
from retrieval.vectorstores.base import PointStore

__all__ = ["open_chunk_store", "open_vector_backend"]


def open_vector_backend(settings: Settings, embeddings: Embeddings | None = None) -> PointStore:
    """The LangChain vector store for ``settings``.

    ``QDRANT_URL`` set: langchain-qdrant against that server (``QDRANT_API_KEY`` if given).
    Otherwise: the embedded Qdrant engine (qdrant-edge) in
    ``<resolved_qdrant_path>/<qdrant_collection>``.
    """
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from retrieval.vectorstores.server import ServerQdrantVectorStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(url=settings.qdrant_url, api_key=api_key)
        return ServerQdrantVectorStore(client, settings.qdrant_collection, embeddings)
    from retrieval.vectorstores.edge import EdgeQdrantVectorStore

    return EdgeQdrantVectorStore(settings.resolved_qdrant_path / settings.qdrant_collection, embeddings)


def open_chunk_store(
    settings: Settings, embeddings: Embeddings | None = None, *, write_lock: TenantWriteLock | None = None
) -> ChunkStore:
    """Build the embeddings (unless given) and open the chunk store; blocking, call at startup.

    Raises:
        EmbeddingModelMismatchError: The collection was built with another embedding model.
        VectorStoreUnavailableError: The embedded engine's directory is locked by another process.
    """
    embeddings = embeddings if embeddings is not None else build_embeddings(settings)
    backend = open_vector_backend(settings, embeddings)
    try:
        return ChunkStore.open(backend, embeddings, write_lock=write_lock)
    except BaseException:
        backend.close()
        raise
