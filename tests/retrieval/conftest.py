"""Retrieval fixtures: the local embedding model, both real Qdrant engines, the fixed corpus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from retrieval import ChunkInput, ChunkStore, DocumentInfo, LocalMiniLMEmbeddings
from retrieval.chunking import chunk_blocks
from retrieval.parsing import parse_document
from retrieval.vectorstores import EdgeQdrantVectorStore, PointStore, ServerQdrantVectorStore

CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
BACKENDS = ("qdrant-edge", "qdrant-client-local")


def make_backend(kind: str, root: Path, embeddings: LocalMiniLMEmbeddings | None) -> PointStore:
    """A real engine: qdrant-edge in-process, or qdrant-client's local mode (langchain-qdrant's path)."""
    if kind == "qdrant-edge":
        return EdgeQdrantVectorStore(root / "edge", embeddings)
    if kind == "qdrant-client-local":
        return ServerQdrantVectorStore(QdrantClient(path=str(root / "local")), "eawe_chunks", embeddings)
    raise ValueError(kind)


@pytest.fixture(scope="session")
def embeddings() -> LocalMiniLMEmbeddings:
    return LocalMiniLMEmbeddings()


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def chunk_store(backend_kind: str, tmp_path: Path, embeddings: LocalMiniLMEmbeddings) -> Iterator[ChunkStore]:
    store = ChunkStore.open(make_backend(backend_kind, tmp_path, embeddings), embeddings)
    yield store
    store.close()


@dataclass(frozen=True)
class CorpusDocument:
    info: DocumentInfo
    chunks: list[ChunkInput]
    vectors: list[list[float]]


@pytest.fixture(scope="session")
def corpus(embeddings: LocalMiniLMEmbeddings) -> list[CorpusDocument]:
    """The fixed corpus, parsed, chunked and embedded once (both engines get identical vectors)."""
    documents = []
    for index, path in enumerate(sorted(CORPUS_DIR.iterdir())):
        parsed = parse_document(path.read_bytes(), path.name, max_bytes=1_000_000)
        chunks = chunk_blocks(parsed.blocks)
        info = DocumentInfo(f"doc-{index}", path.as_uri(), path.name, ["Everyone"])
        documents.append(
            CorpusDocument(info, chunks, embeddings.embed_documents([c.content for c in chunks]))
        )
    return documents


async def load_corpus(store: ChunkStore, corpus: list[CorpusDocument], tenant_id: str = "tenant-a") -> None:
    for document in corpus:
        await store.replace_document(tenant_id, document.info, document.chunks, vectors=document.vectors)
