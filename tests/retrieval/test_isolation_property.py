"""Property: no query ever returns a chunk outside the caller's tenant and groups.

Hypothesis draws corpora over several tenants (each chunk with its own allowed groups) and
principals (tenant + groups, including unknown tenants, unknown groups and no groups at all),
and checks the results against the visibility rule exactly: nothing outside it, nothing missed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval import (
    ChunkInput,
    ChunkStore,
    DocumentInfo,
    EmbeddingIdentity,
    MissingPermissionScopeError,
    PermissionFilter,
)

from .conftest import make_backend

DIM = 8
TENANTS = ["tenant-1", "tenant-2", "tenant-3"]
GROUPS = ["Finance", "HR", "Legal", "Sales", "Executive"]

chunk_specs = st.lists(
    st.tuples(st.sampled_from(TENANTS), st.frozensets(st.sampled_from(GROUPS), min_size=1, max_size=3)),
    min_size=1,
    max_size=24,
)
principals = st.lists(
    st.tuples(
        st.sampled_from([*TENANTS, "tenant-unknown"]),
        st.frozensets(st.sampled_from([*GROUPS, "Nobody"]), max_size=4),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=chunk_specs, callers=principals, seed=st.integers(0, 2**31 - 1), k=st.integers(1, 10))
async def test_results_are_exactly_the_visible_chunks(
    backend_kind: str,
    specs: list[tuple[str, frozenset[str]]],
    callers: list[tuple[str, frozenset[str]]],
    seed: int,
    k: int,
) -> None:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as root:
        store = ChunkStore.open(
            make_backend(backend_kind, Path(root), None),
            embeddings=None,  # type: ignore[arg-type]
            identity=EmbeddingIdentity("synthetic", DIM),
        )
        try:
            for index, (tenant, roles) in enumerate(specs):
                vector = rng.normal(size=DIM)
                info = DocumentInfo(f"doc-{index}", f"file:///{index}", f"{index}.txt", sorted(roles))
                await store.replace_document(
                    tenant, info, [ChunkInput(f"chunk {index}")], vectors=[vector.tolist()]
                )
            for tenant, groups in callers:
                scope = PermissionFilter(tenant, groups)
                expected = {
                    f"doc-{i}" for i, (t, roles) in enumerate(specs) if t == tenant and roles & groups
                }
                query = rng.normal(size=DIM).tolist()

                everything = store.search_by_vector(scope, query, 50)
                got = {d.metadata["document_id"] for d in everything}
                assert got == expected
                for doc in everything:
                    assert doc.metadata["tenant_id"] == tenant
                    assert set(doc.metadata["allowed_roles"]) & groups

                top = store.search_by_vector(scope, query, k)
                assert {d.metadata["document_id"] for d in top} <= expected
                assert len(top) == min(k, len(expected))
                assert store.count(scope) == len(expected)
                if not groups:
                    assert everything == [] and store.scroll(scope)[0] == []
        finally:
            store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scope=st.one_of(
        st.none(),
        st.text(max_size=10),
        st.dictionaries(st.sampled_from(["tenant_id", "groups"]), st.text(max_size=5)),
        st.tuples(st.sampled_from(TENANTS), st.lists(st.sampled_from(GROUPS))),
        st.frozensets(st.sampled_from(GROUPS)),
    )
)
def test_anything_but_a_permission_filter_is_refused(chunk_store: ChunkStore, scope: object) -> None:
    with pytest.raises(MissingPermissionScopeError):
        chunk_store.search_by_vector(scope, [0.0] * 383 + [1.0], 3)  # type: ignore[arg-type]
    with pytest.raises(MissingPermissionScopeError):
        chunk_store.count(scope)  # type: ignore[arg-type]
