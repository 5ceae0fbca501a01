"""PermissionFilter cannot be widened; PermissionedRetriever takes only a query and k."""

from __future__ import annotations

from types import SimpleNamespace

import pydantic
import pytest

import retrieval
from eawe.errors import ValidationError
from retrieval import ChunkInput, ChunkStore, DocumentInfo, MissingPermissionScopeError, PermissionedRetriever
from retrieval import PermissionFilter as PF


def test_filter_is_frozen_and_normalised() -> None:
    scope = PF("t1", ["Finance", " Finance ", "HR"])
    assert scope.groups == frozenset({"Finance", "HR"})
    with pytest.raises(AttributeError):
        scope.groups = frozenset({"Everyone"})  # type: ignore[misc]
    with pytest.raises(AttributeError):
        scope.tenant_id = "t2"  # type: ignore[misc]
    assert PF("t1", []).sees_nothing


@pytest.mark.parametrize(
    ("tenant", "groups", "field"),
    [
        ("", ["G"], "tenant_id"),
        (None, ["G"], "tenant_id"),
        ("t", "Finance", "groups"),
        ("t", ["ok", ""], "groups[1]"),
        ("t", [3], "groups[0]"),
    ],
)
def test_bad_filter_input_names_the_field(tenant: object, groups: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PF(tenant, groups)  # type: ignore[arg-type]
    assert caught.value.problems[0].field == field


def test_filter_for_user_uses_tenant_and_groups() -> None:
    user = SimpleNamespace(tenant_id="t9", groups=["Legal"], role="ADMINISTRATOR")
    assert PF.for_user(user) == PF("t9", ["Legal"])
    assert PF.for_user(SimpleNamespace(tenant_id="t9", groups=None)).sees_nothing


def test_allows_is_the_visibility_rule() -> None:
    scope = PF("t1", ["Finance"])
    assert scope.allows({"tenant_id": "t1", "allowed_roles": ["HR", "Finance"]})
    assert not scope.allows({"tenant_id": "t2", "allowed_roles": ["Finance"]})
    assert not scope.allows({"tenant_id": "t1", "allowed_roles": ["HR"]})
    assert not scope.allows({"tenant_id": "t1"})


async def test_retriever_searches_with_its_own_filter_only(chunk_store: ChunkStore) -> None:
    info = DocumentInfo("d", "file:///d.txt", "d.txt", ["Finance"])
    await chunk_store.replace_document(
        "t1", info, [ChunkInput("Budget for Q3 is four million."), ChunkInput("x")]
    )
    await chunk_store.replace_document("t2", info, [ChunkInput("Budget for Q3 is nine million.")])
    retriever = PermissionedRetriever(store=chunk_store, permission_filter=PF("t1", ["Finance"]))

    docs = await retriever.ainvoke("what is the Q3 budget", k=1)
    assert [d.page_content for d in docs] == ["Budget for Q3 is four million."]
    assert docs[0].metadata["tenant_id"] == "t1" and "score" in docs[0].metadata
    assert len(retriever.invoke("budget")) == 2  # default_k=4, only t1's two chunks exist

    for widening in ({"filter": None}, {"tenant_id": "t2"}, {"permission_filter": PF("t2", ["Finance"])}):
        with pytest.raises(TypeError, match="only the query and k"):
            await retriever.ainvoke("budget", **widening)
    with pytest.raises(pydantic.ValidationError):
        retriever.permission_filter = PF("t2", ["Finance"])  # type: ignore[misc]
    with pytest.raises(ValidationError):
        await retriever.ainvoke("budget", k=1000)

    blind = PermissionedRetriever(store=chunk_store, permission_filter=PF("t1", []))
    assert await blind.ainvoke("budget") == []


def test_retriever_requires_a_filter(chunk_store: ChunkStore) -> None:
    for fake in ({"tenant_id": "t1", "groups": ["Finance"]}, ("t1", ["Finance"]), None):
        with pytest.raises(MissingPermissionScopeError):
            PermissionedRetriever(store=chunk_store, permission_filter=fake)
    with pytest.raises(pydantic.ValidationError):
        PermissionedRetriever(store=chunk_store)  # type: ignore[call-arg]


def test_public_names() -> None:
    assert set(retrieval.__all__) == {
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
    }
    for name in retrieval.__all__:
        assert getattr(retrieval, name) is not None
