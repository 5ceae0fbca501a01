"""The retriever a run uses: LangChain ``BaseRetriever`` with the caller's filter baked in."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, field_validator

from retrieval.chunk_store import MAX_K, ChunkStore
from retrieval.permissions import PermissionFilter, require_permission_filter

__all__ = ["PermissionedRetriever"]


class PermissionedRetriever(BaseRetriever):
    """Permission-filtered semantic search for one principal.

    The engine builds one per run from the run's principal; nodes call
    ``await retriever.ainvoke(query, k=4)``. The only per-call inputs are the query text and
    ``k``: any other keyword (``filter``, ``tenant_id``...) is refused, and the instance is
    frozen, so nothing a graph, a node config or a model produces can widen what it sees.

    Attributes:
        store: The chunk store to search.
        permission_filter: The principal's tenant and groups.
        default_k: ``k`` when the caller gives none.

    Example:
        ``PermissionedRetriever(store=store, permission_filter=PermissionFilter(tenant_id, groups))``
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    store: ChunkStore
    permission_filter: PermissionFilter
    default_k: int = Field(default=4, ge=1, le=MAX_K)

    @field_validator("permission_filter", mode="before")
    @classmethod
    def _only_a_real_filter(cls, value: Any) -> PermissionFilter:
        # Before pydantic could coerce anything (a dict, a tuple) into a filter: refuse it.
        return require_permission_filter(value, "PermissionedRetriever")

    @staticmethod
    def _k(default: int, kwargs: dict[str, Any]) -> int:
        k = kwargs.pop("k", default)
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise TypeError(f"PermissionedRetriever accepts only the query and k; unexpected: {names}")
        return k

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self.store.search(self.permission_filter, query, self._k(self.default_k, kwargs))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return await self.store.asearch(self.permission_filter, query, self._k(self.default_k, kwargs))
