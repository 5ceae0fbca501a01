"""The two Qdrant backends behind LangChain's ``VectorStore`` interface."""

from retrieval.vectorstores.base import CONTENT_KEY, IndexKind, PointStore, StoredPoint, document_from_payload
from retrieval.vectorstores.edge import EdgeQdrantVectorStore
from retrieval.vectorstores.filters import Clause, FieldIn, FieldIs, FieldRange
from retrieval.vectorstores.server import ServerQdrantVectorStore

__all__ = [
    "CONTENT_KEY",
    "Clause",
    "EdgeQdrantVectorStore",
    "FieldIn",
    "FieldIs",
    "FieldRange",
    "IndexKind",
    "PointStore",
    "ServerQdrantVectorStore",
    "StoredPoint",
    "document_from_payload",
]
