"""``retrieve``: permission-filtered document search through the run's retriever."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from agents.config_types import NodeConfig, StateKey, Template
from agents.context import NodeContext
from agents.registry import node_type
from agents.templates import render_template

__all__ = ["RetrieveConfig", "RetrieverUnavailableError", "retrieve_node"]

# Payload keys copied into state; tenant_id and allowed_roles stay out of the graph state.
_KEPT_METADATA = (
    "document_id",
    "source_uri",
    "file_name",
    "file_type",
    "author",
    "created_at_source",
    "chunk_index",
)


class RetrieverUnavailableError(LookupError):
    """The run has no document retriever (no document store configured for this deployment)."""


class RetrieveConfig(NodeConfig):
    """Config of a ``retrieve`` node."""

    query: Template
    k: int = Field(default=4, ge=1, le=50)
    output: StateKey


def chunk_view(content: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The state form of one retrieved chunk."""
    kept = {key: metadata[key] for key in _KEPT_METADATA if metadata.get(key) is not None}
    if metadata.get("score") is not None:
        kept["score"] = metadata["score"]
    source = metadata.get("file_name") or metadata.get("source_uri") or metadata.get("source") or "unknown"
    return {"content": content, "source": str(source), "metadata": kept}


@node_type(
    "retrieve",
    config=RetrieveConfig,
    description="Search the tenant's documents",
    default_max_attempts=2,
    title="Retrieve",
    category="Knowledge",
)
async def retrieve_node(state: Mapping[str, Any], config: RetrieveConfig, ctx: NodeContext) -> dict[str, Any]:
    """Search the tenant's documents as the run's principal."""
    if ctx.retriever is None:
        raise RetrieverUnavailableError(
            f"node {ctx.node_id!r}: no document retriever is configured for this run"
        )
    query = render_template(config.query, state).strip()
    if not query:
        return {config.output: []}
    documents = await ctx.retriever.ainvoke(query, k=config.k)
    return {
        config.output: [chunk_view(doc.page_content, doc.metadata or {}) for doc in documents][: config.k]
    }
