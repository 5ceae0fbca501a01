"""Choosing the embedding model and naming it, so a collection can refuse the wrong one."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from eawe.settings import Settings
from retrieval.local_embeddings import LOCAL_EMBEDDING_DIMENSION, LOCAL_EMBEDDING_MODEL, LocalMiniLMEmbeddings

__all__ = ["EmbeddingIdentity", "build_embeddings", "embedding_identity"]

# Dimensions of the OpenAI models at their default size; others are measured with one call.
_KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@dataclass(frozen=True)
class EmbeddingIdentity:
    """What a collection records about the vectors in it.

    Attributes:
        model: The embedding model name (``all-MiniLM-L6-v2-onnx-int8`` for the local default).
        dimension: The vector length.
    """

    model: str
    dimension: int


def build_embeddings(settings: Settings) -> Embeddings:
    """The production embeddings when an OpenAI key is configured, else the local MiniLM model.

    With ``OPENAI_API_KEY`` set, ``OpenAIEmbeddings`` talks to ``OPENAI_BASE_URL`` (any
    OpenAI-compatible endpoint) with ``settings.embedding_model``. Token-length checking through
    tiktoken is off, because tiktoken downloads its encodings at run time.
    """
    if settings.openai_api_key is not None:
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=settings.embedding_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            check_embedding_ctx_length=False,
        )
    return LocalMiniLMEmbeddings()


def embedding_identity(embeddings: Embeddings) -> EmbeddingIdentity:
    """Name and dimension of ``embeddings``; may embed one probe text when the size is not known."""
    if isinstance(embeddings, LocalMiniLMEmbeddings):
        return EmbeddingIdentity(LOCAL_EMBEDDING_MODEL, LOCAL_EMBEDDING_DIMENSION)
    model = (
        getattr(embeddings, "model", None)
        or getattr(embeddings, "model_name", None)
        or type(embeddings).__name__
    )
    requested = getattr(embeddings, "dimensions", None)
    if isinstance(requested, int) and requested > 0:
        return EmbeddingIdentity(str(model), requested)
    explicit = getattr(embeddings, "dimension", None)
    if isinstance(explicit, int) and explicit > 0:
        return EmbeddingIdentity(str(model), explicit)
    if str(model) in _KNOWN_DIMENSIONS and type(embeddings).__name__ == "OpenAIEmbeddings":
        return EmbeddingIdentity(str(model), _KNOWN_DIMENSIONS[str(model)])
    return EmbeddingIdentity(str(model), len(embeddings.embed_query("dimension probe")))
