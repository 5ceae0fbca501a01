"""Re-indexing and deleting are atomic for readers, checked at every intermediate engine state.

``ObservedBackend`` wraps a real engine and runs a reader after each write operation the chunk
store performs, so every state a concurrent reader could meet is inspected (no timing involved).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import MAX_K, ChunkInput, ChunkStore, DocumentInfo, EmbeddingIdentity, PermissionFilter
from retrieval.vectorstores import PointStore

from .conftest import make_backend

DIM = 16
IDENTITY = EmbeddingIdentity("synthetic-test-vectors", DIM)
SCOPE = PermissionFilter("tenant", ["G"])


def _vectors(n: int, seed: int) -> list[list[float]]:
    v = np.random.default_rng(seed).normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def _doc(roles: list[str] | None = None) -> DocumentInfo:
    return DocumentInfo("doc", "file:///doc.txt", "doc.txt", roles or ["G"])


class ObservedBackend:
    """A real backend that calls ``after_write`` after each mutation and ``before_search`` once."""

    def __init__(self, inner: PointStore) -> None:
        self.inner = inner
        self.after_write: Callable[[str], None] | None = None
        self.before_search: Callable[[], None] | None = None
        self.searches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _mutated(self, operation: str) -> None:
        if self.after_write is not None:
            self.after_write(operation)

    def upsert_points(self, points: Any) -> None:
        self.inner.upsert_points(points)
        self._mutated("upsert")

    def set_payload_where(self, clause: Any, payload: Any) -> None:
        self.inner.set_payload_where(clause, payload)
        self._mutated("set_payload")

    def delete_where(self, clause: Any) -> None:
        self.inner.delete_where(clause)
        self._mutated("delete")

    def similarity_search_with_score_by_vector(self, *args: Any, **kwargs: Any) -> Any:
        self.searches += 1
        hook, self.before_search = self.before_search, None
        if hook is not None:
            hook()
        return self.inner.similarity_search_with_score_by_vector(*args, **kwargs)


def _open(backend_kind: str, tmp_path: Path) -> tuple[ChunkStore, ObservedBackend]:
    observed = ObservedBackend(make_backend(backend_kind, tmp_path, None))
    return ChunkStore.open(observed, embeddings=None, identity=IDENTITY), observed  # type: ignore[arg-type]


def _visible_contents(store: ChunkStore, scope: PermissionFilter = SCOPE) -> frozenset[str]:
    hits = store.search_by_vector(scope, _vectors(1, 99)[0], MAX_K)
    return frozenset(d.page_content for d in hits)


async def test_every_intermediate_state_shows_old_or_new_never_a_mix(
    backend_kind: str, tmp_path: Path
) -> None:
    store, observed = _open(backend_kind, tmp_path)
    try:
        old = [ChunkInput(f"old {i}") for i in range(5)]
        new = [ChunkInput(f"new {i}") for i in range(300)]  # more than one upsert batch
        await store.replace_document("tenant", _doc(), old, vectors=_vectors(5, 1))
        old_set = frozenset(c.content for c in old)
        new_set = frozenset(c.content for c in new[:MAX_K])

        states: list[tuple[str, frozenset[str]]] = []
        observed.after_write = lambda op: states.append((op, _visible_contents(store)))
        await store.replace_document("tenant", _doc(), new, vectors=_vectors(300, 2))
        observed.after_write = None

        assert len(states) >= 5  # recovery, 2 upserts, retire, commit, purge
        kinds = []
        for operation, seen in states:
            if seen == old_set:
                kinds.append("old")
            elif len(seen) == MAX_K and seen <= frozenset(c.content for c in new):
                kinds.append("new")
            else:
                raise AssertionError(f"after {operation}: a reader saw {sorted(seen)[:8]}...")
        # Old until the commit, new from the commit on — one switch, never back.
        assert kinds == sorted(kinds, key=lambda k: k == "new")
        assert kinds[0] == "old" and kinds[-1] == "new"
        assert _visible_contents(store) <= frozenset(c.content for c in new)
        assert store.count(SCOPE, document_id="doc") == 300
        assert new_set  # sanity
    finally:
        store.close()


async def test_delete_is_atomic_for_readers(backend_kind: str, tmp_path: Path) -> None:
    store, observed = _open(backend_kind, tmp_path)
    try:
        chunks = [ChunkInput(f"chunk {i}") for i in range(8)]
        await store.replace_document("tenant", _doc(), chunks, vectors=_vectors(8, 3))
        full = frozenset(c.content for c in chunks)
        counts: list[int] = []

        def check(operation: str) -> None:
            seen = _visible_contents(store)
            assert seen in (full, frozenset()), f"after {operation}: partial document visible"
            counts.append(len(seen))

        observed.after_write = check
        await store.delete_document(SCOPE, "doc")
        assert counts[0] == 8 and counts[-1] == 0
    finally:
        store.close()


def test_reader_retries_when_a_commit_and_purge_land_during_its_search(
    backend_kind: str, tmp_path: Path
) -> None:
    """The reader read epoch C, then a whole re-index committed C+1 and purged the old chunks
    before the reader's query ran: that query sees nothing, and the reader must notice and retry."""
    store, observed = _open(backend_kind, tmp_path)
    try:
        old = [ChunkInput(f"old {i}") for i in range(4)]
        new = [ChunkInput(f"new {i}") for i in range(3)]
        asyncio.run(store.replace_document("tenant", _doc(), old, vectors=_vectors(4, 5)))
        raw_results: list[int] = []

        def reindex_now() -> None:
            asyncio.run(store.replace_document("tenant", _doc(), new, vectors=_vectors(3, 6)))

        inner_search = observed.inner.similarity_search_with_score_by_vector

        def recording_search(*args: Any, **kwargs: Any) -> Any:
            hits = inner_search(*args, **kwargs)
            raw_results.append(len(hits))
            return hits

        observed.inner.similarity_search_with_score_by_vector = recording_search  # type: ignore[method-assign]
        observed.before_search = reindex_now
        seen = _visible_contents(store)

        assert raw_results[0] == 0  # the stale query really saw neither generation...
        assert observed.searches == 2  # ...so the reader searched again at the new epoch
        assert seen == frozenset(c.content for c in new)
    finally:
        store.close()
