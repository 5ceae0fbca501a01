"""A LangGraph store seen through one tenant: every namespace lives under the tenant's id.

:class:`TenantStore` wraps any :class:`~langgraph.store.base.BaseStore` (the shared
``AsyncPostgresStore`` in production). Writes and reads go to ``(tenant_id, *namespace)``;
items and namespaces come back with the tenant label stripped, so a caller — an API request or
a graph node — can neither see nor name another tenant's items, and never sees its own prefix.

Escaping the prefix is refused rather than trusted away: namespace labels must be non-empty
strings without ``.`` or NUL (the Postgres store keys namespaces by their dot-joined text, so
``"a.b"`` would otherwise alias ``("a", "b")``), and every operation, including those handed
straight to :meth:`TenantStore.batch`, is rewritten before the wrapped store sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)

__all__ = ["TenantStore"]


def _check_tenant_label(tenant_id: str) -> str:
    if not tenant_id or not isinstance(tenant_id, str):
        raise ValueError("a tenant store needs a non-empty tenant id")
    if "." in tenant_id or "\x00" in tenant_id or tenant_id == "*":
        raise ValueError("a tenant id used as a store namespace label cannot contain '.' or NUL, or be '*'")
    return tenant_id


class TenantStore(BaseStore):
    """The part of ``inner`` that belongs to ``tenant_id``.

    Args:
        inner: The shared store holding every tenant's items.
        tenant_id: The tenant this view is confined to (its first namespace label).
    """

    def __init__(self, inner: BaseStore, tenant_id: str) -> None:
        self.inner = inner
        self.tenant_id = _check_tenant_label(tenant_id)
        self._label = (self.tenant_id,)
        # BaseStore.aput / aget consult these before building ops.
        self.supports_ttl = inner.supports_ttl
        self.ttl_config = inner.ttl_config

    def _scoped(self, op: Op) -> Op:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            return op._replace(namespace=self._label + op.namespace)
        if isinstance(op, PutOp):
            if not op.namespace:
                raise InvalidNamespaceError("Namespace cannot be empty.")
            return op._replace(namespace=self._label + op.namespace)
        if isinstance(op, SearchOp):
            return op._replace(namespace_prefix=self._label + op.namespace_prefix)
        if isinstance(op, ListNamespacesOp):
            conditions = list(op.match_conditions or ())
            prefixes = [c for c in conditions if c.match_type == "prefix"]
            others = [c for c in conditions if c.match_type != "prefix"]
            # Every prefix condition is anchored under the tenant; with none, add the tenant's own.
            anchored = [c._replace(path=self._label + tuple(c.path)) for c in prefixes] or [
                MatchCondition(match_type="prefix", path=self._label)
            ]
            depth = None if op.max_depth is None else op.max_depth + 1
            return op._replace(match_conditions=tuple(anchored + others), max_depth=depth)
        raise TypeError(f"unknown store operation {type(op).__name__}")

    def _unscoped_item(self, item: Item) -> Item:
        namespace = self._own(item.namespace)
        if isinstance(item, SearchItem):
            return SearchItem(
                namespace=namespace,
                key=item.key,
                value=item.value,
                created_at=item.created_at,
                updated_at=item.updated_at,
                score=item.score,
            )
        return Item(
            namespace=namespace,
            key=item.key,
            value=item.value,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    def _own(self, namespace: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(namespace[:1]) != self._label:
            # The wrapped store answered outside the tenant: never hand that to the caller.
            raise RuntimeError("the store returned a namespace outside the tenant's prefix")
        return tuple(namespace[1:])

    def _unscoped(self, op: Op, result: Result) -> Result:
        if isinstance(op, GetOp):
            return None if result is None else self._unscoped_item(cast(Item, result))
        if isinstance(op, SearchOp):
            return [self._unscoped_item(item) for item in cast(list[SearchItem], result)]
        if isinstance(op, ListNamespacesOp):
            # max_depth + 1 truncates to at least the tenant label; drop the bare tenant namespace.
            found = cast(list[tuple[str, ...]], result)
            return [self._own(ns) for ns in found if tuple(ns) != self._label]
        return result

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` synchronously (from a worker thread, as the wrapped store requires)."""
        originals = list(ops)
        results = self.inner.batch([self._scoped(op) for op in originals])
        return [self._unscoped(op, result) for op, result in zip(originals, results, strict=True)]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` on the wrapped store under the tenant's prefix."""
        originals = list(ops)
        results = await self.inner.abatch([self._scoped(op) for op in originals])
        return [self._unscoped(op, result) for op, result in zip(originals, results, strict=True)]

    def __repr__(self) -> str:
        return f"TenantStore(tenant_id={self.tenant_id!r})"
