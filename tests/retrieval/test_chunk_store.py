"""Conformance suite: every test runs against qdrant-edge and against qdrant-client's local mode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from eawe.errors import ValidationError
from retrieval import (
    MAX_K,
    ChunkInput,
    ChunkStore,
    DocumentInfo,
    EmbeddingIdentity,
    EmbeddingModelMismatchError,
    LocalMiniLMEmbeddings,
    MissingPermissionScopeError,
    PermissionFilter,
)
from retrieval.chunk_payload import VISIBLE_FROM, VISIBLE_UNTIL, build_chunk_payload
from retrieval.vectorstores import Clause, FieldIs, StoredPoint

from .conftest import BACKENDS, CorpusDocument, load_corpus, make_backend

SEED_KEYS = {"document_id", "tenant_id", "source_uri", "allowed_roles", "author", "created_at_source"}


def _doc(doc_id: str, roles: list[str], **extra: object) -> DocumentInfo:
    return DocumentInfo(doc_id, f"file:///docs/{doc_id}.txt", f"{doc_id}.txt", roles, **extra)  # type: ignore[arg-type]


def _unit(seed: int, dim: int = 384) -> list[float]:
    v = np.random.default_rng(seed).normal(size=dim)
    return (v / np.linalg.norm(v)).tolist()


def _chunk_points(store: ChunkStore, document_id: str) -> int:
    return store.backend.count_where(Clause(must=(FieldIs("document_id", document_id),)))


async def test_collection_records_the_embedding_model(
    backend_kind: str, tmp_path: Path, embeddings: LocalMiniLMEmbeddings
) -> None:
    store = ChunkStore.open(make_backend(backend_kind, tmp_path, embeddings), embeddings)
    await store.replace_document("t", _doc("d1", ["G"]), [ChunkInput("hello")])
    store.close()

    again = ChunkStore.open(make_backend(backend_kind, tmp_path, embeddings), embeddings)
    assert again.identity == EmbeddingIdentity("all-MiniLM-L6-v2-onnx-int8", 384)
    again.close()

    for wrong in (EmbeddingIdentity("another-model", 384), EmbeddingIdentity("text-embedding-3-small", 1536)):
        backend = make_backend(backend_kind, tmp_path, embeddings)
        with pytest.raises(EmbeddingModelMismatchError) as caught:
            ChunkStore.open(backend, embeddings, wrong)
        backend.close()
        assert "all-MiniLM-L6-v2-onnx-int8" in str(caught.value)
        assert wrong.model in str(caught.value)


async def test_payload_follows_the_seed_contract(chunk_store: ChunkStore) -> None:
    created = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
    info = _doc(
        "d1", ["SalesManager", "Finance"], author="john.doe@enterprise.com", created_at_source=created
    )
    await chunk_store.replace_document(
        "tnt_1", info, [ChunkInput("The Q3 2025 sales target for the West region is $2.5 million.", page=3)]
    )
    results = chunk_store.search(PermissionFilter("tnt_1", ["Finance"]), "west region sales goal", k=1)
    assert len(results) == 1
    meta = results[0].metadata
    assert SEED_KEYS <= set(meta)
    assert meta["tenant_id"] == "tnt_1"
    assert meta["document_id"] == "d1"
    assert meta["allowed_roles"] == ["Finance", "SalesManager"]
    assert meta["created_at_source"] == "2025-07-15T10:00:00Z"
    assert meta["author"] == "john.doe@enterprise.com"
    assert meta["page"] == 3
    assert 0.3 < meta["score"] <= 1.0
    assert not {"record_kind", VISIBLE_FROM, VISIBLE_UNTIL, "content"} & set(meta)
    # In the engine the payload is flat: the seed keys sit at the top level next to `content`.
    scope = Clause(must=(FieldIs("document_id", "d1"),))
    (_, payload), *_ = chunk_store.backend.scroll_where(scope, limit=10)[0]
    assert payload["content"].startswith("The Q3 2025 sales target")
    assert SEED_KEYS <= set(payload)


async def test_visibility_is_tenant_and_group_intersection(chunk_store: ChunkStore) -> None:
    text = [ChunkInput("Quarterly budget figures for the finance department.")]
    await chunk_store.replace_document("a", _doc("a-fin", ["Finance"]), text)
    await chunk_store.replace_document("a", _doc("a-hr", ["HR", "Executive"]), text)
    await chunk_store.replace_document("b", _doc("b-fin", ["Finance"]), text)

    def seen(tenant: str, groups: list[str]) -> set[str]:
        return {
            d.metadata["document_id"]
            for d in chunk_store.search(PermissionFilter(tenant, groups), "budget", 10)
        }

    assert seen("a", ["Finance"]) == {"a-fin"}
    assert seen("a", ["Executive"]) == {"a-hr"}
    assert seen("a", ["Finance", "HR"]) == {"a-fin", "a-hr"}
    assert seen("b", ["Finance", "HR"]) == {"b-fin"}
    assert seen("a", ["Legal"]) == set()
    assert seen("c", ["Finance"]) == set()
    assert seen("a", []) == set()
    assert chunk_store.count(PermissionFilter("a", [])) == 0
    assert chunk_store.count(PermissionFilter("a", ["Finance", "Executive"])) == 2


@pytest.mark.parametrize("scope", [None, "a", {"tenant_id": "a", "groups": ["Finance"]}, ("a", ["Finance"])])
async def test_every_read_and_delete_requires_a_permission_filter(
    chunk_store: ChunkStore, scope: object
) -> None:
    await chunk_store.replace_document("a", _doc("d", ["Finance"]), [ChunkInput("text")])
    calls = [
        lambda: chunk_store.search(scope, "text", 3),  # type: ignore[arg-type]
        lambda: chunk_store.search_by_vector(scope, _unit(1), 3),  # type: ignore[arg-type]
        lambda: chunk_store.scroll(scope),  # type: ignore[arg-type]
        lambda: chunk_store.count(scope),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(MissingPermissionScopeError):
            call()
    with pytest.raises(MissingPermissionScopeError):
        await chunk_store.asearch(scope, "text", 3)  # type: ignore[arg-type]
    with pytest.raises(MissingPermissionScopeError):
        await chunk_store.delete_document(scope, "d")  # type: ignore[arg-type]
    assert _chunk_points(chunk_store, "d") == 1


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, True, "3", 2.5])
async def test_k_is_validated(chunk_store: ChunkStore, k: object) -> None:
    with pytest.raises(ValidationError) as caught:
        chunk_store.search(PermissionFilter("a", ["G"]), "query", k)  # type: ignore[arg-type]
    assert caught.value.problems[0].field == "k"


async def test_empty_query_is_refused(chunk_store: ChunkStore) -> None:
    with pytest.raises(ValidationError) as caught:
        chunk_store.search(PermissionFilter("a", ["G"]), "   ", 3)
    assert caught.value.problems[0].field == "query"


async def test_reindex_replaces_all_chunks(chunk_store: ChunkStore) -> None:
    scope = PermissionFilter("a", ["G"])
    old = [ChunkInput(f"old chunk {i}") for i in range(3)]
    new = [ChunkInput(f"new chunk {i}") for i in range(2)]
    await chunk_store.replace_document("a", _doc("d", ["G"]), old, vectors=[_unit(i) for i in range(3)])
    await chunk_store.replace_document("a", _doc("d", ["G"]), new, vectors=[_unit(10 + i) for i in range(2)])
    docs, _ = chunk_store.scroll(scope, document_id="d")
    assert sorted(d.page_content for d in docs) == ["new chunk 0", "new chunk 1"]
    assert chunk_store.count(scope, document_id="d") == 2
    assert _chunk_points(chunk_store, "d") == 2  # the retired generation is purged, not just hidden


async def test_reindex_can_change_allowed_roles(chunk_store: ChunkStore) -> None:
    text = [ChunkInput("board meeting minutes")]
    await chunk_store.replace_document("a", _doc("d", ["Finance"]), text)
    await chunk_store.replace_document("a", _doc("d", ["Executive"]), text)
    assert chunk_store.search(PermissionFilter("a", ["Finance"]), "minutes", 5) == []
    assert len(chunk_store.search(PermissionFilter("a", ["Executive"]), "minutes", 5)) == 1


async def test_delete_removes_points_of_one_document_in_one_tenant(chunk_store: ChunkStore) -> None:
    text = [ChunkInput("shared text"), ChunkInput("more shared text")]
    await chunk_store.replace_document("a", _doc("d1", ["G"]), text)
    await chunk_store.replace_document("a", _doc("d2", ["G"]), text)
    await chunk_store.replace_document("b", _doc("d1", ["G"]), text)  # same id in another tenant

    await chunk_store.delete_document(PermissionFilter("a", ["G"]), "d1")
    assert chunk_store.count(PermissionFilter("a", ["G"]), document_id="d1") == 0
    assert chunk_store.count(PermissionFilter("a", ["G"]), document_id="d2") == 2
    assert chunk_store.count(PermissionFilter("b", ["G"]), document_id="d1") == 2
    assert (
        chunk_store.backend.count_where(
            Clause(must=(FieldIs("tenant_id", "a"), FieldIs("document_id", "d1")))
        )
        == 0
    )

    # A tenant deleting another tenant's document id touches nothing of the other tenant.
    await chunk_store.delete_document(PermissionFilter("c", ["G"]), "d2")
    assert chunk_store.count(PermissionFilter("a", ["G"]), document_id="d2") == 2


async def test_interrupted_writer_leaves_nothing_visible_and_is_undone(chunk_store: ChunkStore) -> None:
    scope = PermissionFilter("a", ["G"])
    await chunk_store.replace_document("a", _doc("d", ["G"]), [ChunkInput("committed")], vectors=[_unit(1)])
    committed = chunk_store.committed_epoch("a")
    # What a writer that died before its commit leaves behind: new chunks of the next epoch
    # and the old chunks marked as retiring at that epoch.
    orphan = build_chunk_payload("a", _doc("d", ["G"]), ChunkInput("orphan"), 0, committed + 1)
    chunk_store.backend.upsert_points([StoredPoint("00000000-0000-4000-8000-000000000001", _unit(2), orphan)])
    chunk_store.backend.set_payload_where(
        Clause(must=(FieldIs("document_id", "d"),)), {VISIBLE_UNTIL: committed + 1}
    )
    chunk_store.backend.upsert_points([StoredPoint("00000000-0000-4000-8000-000000000002", _unit(3), orphan)])
    assert [d.page_content for d in chunk_store.scroll(scope)[0]] == ["committed"]

    # The next write of that tenant (another document) undoes both before committing.
    await chunk_store.replace_document("a", _doc("other", ["G"]), [ChunkInput("other")], vectors=[_unit(4)])
    assert sorted(d.page_content for d in chunk_store.scroll(scope)[0]) == ["committed", "other"]
    assert _chunk_points(chunk_store, "d") == 1


async def test_scroll_pages_through_visible_chunks(chunk_store: ChunkStore) -> None:
    chunks = [ChunkInput(f"chunk {i}") for i in range(5)]
    await chunk_store.replace_document("a", _doc("d", ["G"]), chunks, vectors=[_unit(i) for i in range(5)])
    seen: list[str] = []
    offset = None
    while True:
        page, offset = chunk_store.scroll(
            PermissionFilter("a", ["G"]), document_id="d", limit=2, offset=offset
        )
        seen.extend(d.page_content for d in page)
        if offset is None:
            break
    assert sorted(seen) == [f"chunk {i}" for i in range(5)]
    assert chunk_store.scroll(PermissionFilter("a", ["Other"]), document_id="d")[0] == []


async def test_both_engines_give_the_same_answers(
    tmp_path: Path, embeddings: LocalMiniLMEmbeddings, corpus: list[CorpusDocument]
) -> None:
    stores = {
        kind: ChunkStore.open(make_backend(kind, tmp_path / kind, embeddings), embeddings)
        for kind in BACKENDS
    }
    try:
        for store in stores.values():
            await load_corpus(store, corpus, "tenant-a")
            await load_corpus(store, corpus[:3], "tenant-b")
        queries = [
            "hotel costs in London",
            "how long are logs kept",
            "parental leave weeks",
            "password rules",
        ]
        for query in queries:
            vector = embeddings.embed_query(query)
            for scope in (
                PermissionFilter("tenant-a", ["Everyone"]),
                PermissionFilter("tenant-b", ["Everyone"]),
            ):
                answers = {
                    kind: [
                        (d.metadata["chunk_id"], d.metadata["score"])
                        for d in s.search_by_vector(scope, vector, 5)
                    ]
                    for kind, s in stores.items()
                }
                edge, local = answers["qdrant-edge"], answers["qdrant-client-local"]
                assert [i for i, _ in edge] == [i for i, _ in local], query
                assert np.allclose([s for _, s in edge], [s for _, s in local], atol=1e-4), query
    finally:
        for store in stores.values():
            store.close()
