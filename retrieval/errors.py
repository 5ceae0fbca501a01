"""Errors raised by the retrieval package, inside EAWE's one error hierarchy."""

from __future__ import annotations

from eawe.errors import EAWEError, PermissionDeniedError, Problem, ValidationError

__all__ = [
    "DocumentRejectedError",
    "EmbeddingModelMismatchError",
    "MissingPermissionScopeError",
    "RetrievalError",
    "VectorStoreUnavailableError",
]


class RetrievalError(EAWEError):
    """Base of the retrieval errors that are not bad input."""

    status_code = 500
    title = "Retrieval error"


class MissingPermissionScopeError(PermissionDeniedError):
    """A search, scroll or delete was attempted without a :class:`~retrieval.PermissionFilter`.

    The store never runs an unfiltered query; reaching this is a programming error in the caller.
    """


class EmbeddingModelMismatchError(RetrievalError):
    """The collection was built with another embedding model or dimension than the configured one."""

    title = "Embedding model mismatch"


class VectorStoreUnavailableError(RetrievalError):
    """The vector store cannot be opened (for example the embedded engine is locked by another process)."""

    status_code = 503
    title = "Vector store unavailable"


class DocumentRejectedError(ValidationError):
    """A document cannot be indexed: empty, corrupt, encrypted, oversized or of an unsupported type.

    Attributes:
        reason: The human-readable reason stored on the Document row.
    """

    def __init__(self, reason: str, field: str = "file") -> None:
        self.reason = reason
        super().__init__(Problem(field=field, message=reason))
