"""Request bodies of the ``/store`` routes, as ``langgraph-sdk``'s ``StoreClient`` sends them.

A namespace is a list of labels: non-empty strings without ``.`` (the SDK joins labels with
``.`` in ``GET /store/items``, and the Postgres store keys namespaces by that text) or NUL.
Sizes are bounded so a namespace plus key always fits the store's primary-key index.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FILTER_OPERATORS",
    "MAX_KEY_BYTES",
    "MAX_NAMESPACE_BYTES",
    "NamespaceList",
    "StoreDelete",
    "StoreNamespaces",
    "StorePut",
    "StoreSearch",
    "check_label",
    "check_namespace_size",
]

MAX_NAMESPACE_BYTES = 1000
MAX_KEY_BYTES = 1000
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})


def check_label(label: str) -> str:
    """One namespace label, or ValueError saying what is wrong with it."""
    if not label:
        raise ValueError("namespace labels cannot be empty")
    if "." in label:
        raise ValueError("namespace labels cannot contain '.'")
    if "\x00" in label:
        raise ValueError("namespace labels cannot contain NUL characters")
    return label


def check_namespace_size(namespace: list[str]) -> list[str]:
    if len(".".join(namespace).encode()) > MAX_NAMESPACE_BYTES:
        raise ValueError(f"the namespace exceeds {MAX_NAMESPACE_BYTES} bytes (labels joined by '.')")
    return namespace


def _check_key(key: str) -> str:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"the key exceeds {MAX_KEY_BYTES} bytes")
    return key


Label = Annotated[str, AfterValidator(check_label)]
NamespaceList = Annotated[list[Label], AfterValidator(check_namespace_size)]
"""Labels; may be empty (a search over the whole tenant, or no prefix)."""
Namespace = Annotated[list[Label], Field(min_length=1), AfterValidator(check_namespace_size)]
"""An item's namespace: at least one label."""
Key = Annotated[str, Field(min_length=1), AfterValidator(_check_key)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StorePut(_Lenient):
    namespace: Namespace
    key: Key
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(
        default=None, gt=0, le=5_256_000, description="minutes until the item expires (at most ten years)"
    )

    @field_validator("namespace")
    @classmethod
    def _not_reserved(cls, namespace: list[str]) -> list[str]:
        if namespace[0] == "langgraph":
            raise ValueError("the root label 'langgraph' is reserved")
        return namespace


class StoreDelete(_Lenient):
    namespace: Namespace
    key: Key


class StoreSearch(_Lenient):
    namespace_prefix: NamespaceList | None = None
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1)
    offset: int = Field(default=0, ge=0)
    query: str | None = Field(default=None, max_length=10_000)
    refresh_ttl: bool | None = None

    @field_validator("filter")
    @classmethod
    def _known_operators(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The Postgres store reads a dict value as {operator: operand}; refuse what it cannot run.
        for field, condition in (value or {}).items():
            if isinstance(condition, dict):
                unknown = sorted(set(condition) - FILTER_OPERATORS)
                if unknown or not condition:
                    raise ValueError(
                        f"filter on {field!r}: unsupported operator(s) {unknown or '(none given)'}; "
                        f"use {', '.join(sorted(FILTER_OPERATORS))}"
                    )
        return value


class StoreNamespaces(_Lenient):
    prefix: NamespaceList | None = None
    suffix: NamespaceList | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1)
    offset: int = Field(default=0, ge=0)
