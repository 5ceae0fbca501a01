"""Which tenant's rows a transaction may touch: the setting PostgreSQL's row-level security reads.

Every tenant-owned table carries a policy (migration ``row_level_security``) that lets a row
through only when its tenant equals the transaction's ``eawe.tenant`` setting, or when that
setting is ``*`` (the system scope: worker claims, the audit sealer, login by e-mail). The
application connects as a role that owns no table and cannot bypass the policies, so a query
that forgot its ``WHERE "tenantId" = ...`` still sees only the current tenant's rows.

The scope is a context variable. :class:`ScopedSession` (the session class of every
:class:`~eawe.db.database.Database`) starts each transaction with ``set_config('eawe.tenant', <scope>, true)``
(transaction-local, so a pooled connection never carries it over). With no scope set nothing
is issued and the policies let no tenant row through: a forgotten scope fails closed.

* Requests: :func:`bind_tenant` once the caller is authenticated (the request's own task).
* Runs: the engine executes a claimed run inside :func:`tenant_scope` of its tenant.
* Cross-tenant jobs: :func:`system_scope` around exactly the statements that need it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = [
    "SYSTEM_SCOPE",
    "TENANT_SETTING",
    "ScopedSession",
    "bind_tenant",
    "current_scope",
    "scoped_by_tenant_argument",
    "scoped_to_tenant",
    "system_scope",
    "tenant_scope",
]

#: The PostgreSQL setting the policies compare each row's tenant with.
TENANT_SETTING = "eawe.tenant"
#: Its value for cross-tenant work.
SYSTEM_SCOPE = "*"

_scope: ContextVar[str | None] = ContextVar("eawe_tenant_scope", default=None)


def current_scope() -> str | None:
    """The tenant id, :data:`SYSTEM_SCOPE`, or None (no tenant row is visible)."""
    return _scope.get()


def _checked(tenant_id: str) -> str:
    if not tenant_id or tenant_id == SYSTEM_SCOPE:
        raise ValueError(f"not a tenant id: {tenant_id!r}")
    return tenant_id


@contextmanager
def tenant_scope(tenant_id: str) -> Iterator[None]:
    """Transactions begun inside see and write ``tenant_id``'s rows only."""
    token = _scope.set(_checked(tenant_id))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def system_scope() -> Iterator[None]:
    """Transactions begun inside see every tenant's rows (claims, sealing, lookups by secret)."""
    token = _scope.set(SYSTEM_SCOPE)
    try:
        yield
    finally:
        _scope.reset(token)


def bind_tenant(tenant_id: str) -> None:
    """Scope the rest of the current task to ``tenant_id`` (a request, once authenticated)."""
    _scope.set(_checked(tenant_id))


_Self = TypeVar("_Self")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def scoped_to_tenant(
    method: Callable[Concatenate[_Self, str, _P], Awaitable[_R]],
) -> Callable[Concatenate[_Self, str, _P], Awaitable[_R]]:
    """An async method whose first argument is a tenant id runs in that tenant's scope."""

    @functools.wraps(method)
    async def scoped(self: _Self, tenant_id: str, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with tenant_scope(tenant_id):
            return await method(self, tenant_id, *args, **kwargs)

    return scoped


def scoped_by_tenant_argument(function: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """An async function with a ``tenant_id`` parameter runs in that tenant's scope."""
    signature = inspect.signature(function)
    if "tenant_id" not in signature.parameters:
        raise TypeError(f"{function.__qualname__} has no tenant_id parameter")

    @functools.wraps(function)
    async def scoped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with tenant_scope(signature.bind(*args, **kwargs).arguments["tenant_id"]):
            return await function(*args, **kwargs)

    return scoped


class ScopedSession(Session):
    """The session class of EAWE's databases: each transaction announces its scope first."""


@event.listens_for(ScopedSession, "after_begin")
def _announce_scope(session: Session, transaction: Any, connection: Any) -> None:
    scope = _scope.get()
    if scope is not None:
        connection.exec_driver_sql(
            "SELECT set_config(%(name)s, %(scope)s, true)", {"name": TENANT_SETTING, "scope": scope}
        )
