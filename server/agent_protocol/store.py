"""The LangGraph Store API (``/store/items``, ``/store/items/search``, ``/store/namespaces``).

Wire format as langgraph-api's, so ``langgraph-sdk``'s ``client.store`` and LangGraph Studio's
memory view work unchanged. Every call goes through the caller's
:class:`~checkpoints.tenant_store.TenantStore`: a tenant's namespaces are its own, another
tenant's item with the same namespace and key is simply not there (``GET`` answers ``null`` as
for any missing item, ``DELETE`` is the same no-op), and listings never show the tenant prefix.

Roles: every role reads (``store:read``); DESIGNER and ADMINISTRATOR write (``store:write``),
because the store is graph memory that steers every run of the tenant. Writes are audited
(namespace and key, never the value) in the same transaction: if the store write fails the
audit row is rolled back with it.

``query`` is accepted for SDK compatibility; EAWE configures no embedding index on the store,
so a search with a query lists the matching items (filter, prefix, most recently updated first)
without a relevance ranking, exactly as langgraph-api does without an index (``score`` null).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from langgraph.store.base import InvalidNamespaceError

from checkpoints.item_store import ItemStore
from checkpoints.tenant_store import TenantStore
from eawe.audit import ActorType, append_audit
from eawe.errors import Problem, ValidationError
from server.agent_protocol.store_schemas import (
    StoreDelete,
    StoreNamespaces,
    StorePut,
    StoreSearch,
    check_label,
    check_namespace_size,
)
from server.auth.principal import Principal
from server.deps import Requires, ResourcesDep
from server.resources import ServerResources

__all__ = ["router"]

router = APIRouter(prefix="/store", tags=["store"])


def _tenant_store(resources: ServerResources, principal: Principal) -> TenantStore:
    shared: ItemStore | None = resources.engine.resources.store
    if shared is None:
        raise RuntimeError("the engine was opened without a LangGraph store")
    return shared.for_tenant(principal.tenant_id)


def _namespace_from_query(text: str) -> tuple[str, ...]:
    """``"a.b.c"`` (the SDK joins labels with '.') → ``("a", "b", "c")``, or a 422 naming the field."""
    labels = text.split(".")
    try:
        for label in labels:
            check_label(label)
        check_namespace_size(labels)
    except ValueError as exc:
        raise ValidationError(Problem("namespace", str(exc))) from None
    return tuple(labels)


def _refused_namespace(exc: InvalidNamespaceError, field: str) -> ValidationError:
    return ValidationError(Problem(field, str(exc)))


async def _audit(session: Any, principal: Principal, action: str, namespace: list[str], key: str) -> None:
    await append_audit(
        session,
        tenant_id=principal.tenant_id,
        action=action,
        actor_type=ActorType.USER,
        actor_id=principal.user_id,
        details={"namespace": namespace, "key": key},
    )


@router.put("/items", status_code=204, summary="Store or update an item")
async def put_item(body: StorePut, principal: Requires.STORE_WRITE, resources: ResourcesDep) -> Response:
    store = _tenant_store(resources, principal)
    async with resources.database.transaction() as session:
        await _audit(session, principal, "STORE_ITEM_PUT", body.namespace, body.key)
        try:
            await store.aput(tuple(body.namespace), body.key, body.value, index=body.index, ttl=body.ttl)
        except InvalidNamespaceError as exc:
            raise _refused_namespace(exc, "namespace") from None
    return Response(status_code=204)


@router.get("/items", summary="Get an item (null when there is none)")
async def get_item(
    principal: Requires.STORE_READ,
    resources: ResourcesDep,
    key: Annotated[str, Query(min_length=1)],
    namespace: Annotated[str, Query(description="labels joined by '.'")] = "",
    refresh_ttl: Annotated[bool | None, Query()] = None,
) -> dict[str, Any] | None:
    labels = _namespace_from_query(namespace)
    item = await _tenant_store(resources, principal).aget(labels, key, refresh_ttl=refresh_ttl)
    return None if item is None else item.dict()


@router.delete("/items", status_code=204, summary="Delete an item")
async def delete_item(
    body: StoreDelete, principal: Requires.STORE_WRITE, resources: ResourcesDep
) -> Response:
    store = _tenant_store(resources, principal)
    async with resources.database.transaction() as session:
        await _audit(session, principal, "STORE_ITEM_DELETED", body.namespace, body.key)
        try:
            await store.adelete(tuple(body.namespace), body.key)
        except InvalidNamespaceError as exc:
            raise _refused_namespace(exc, "namespace") from None
    return Response(status_code=204)


@router.post("/items/search", summary="Search or list items under a namespace prefix")
async def search_items(
    body: StoreSearch, principal: Requires.STORE_READ, resources: ResourcesDep
) -> dict[str, list[dict[str, Any]]]:
    items = await _tenant_store(resources, principal).asearch(
        tuple(body.namespace_prefix or ()),
        filter=body.filter,
        limit=min(body.limit, resources.settings.page_size_max),
        offset=body.offset,
        query=body.query,
        refresh_ttl=body.refresh_ttl,
    )
    return {"items": [item.dict() for item in items]}


@router.post("/namespaces", summary="List namespaces")
async def list_namespaces(
    body: StoreNamespaces, principal: Requires.STORE_READ, resources: ResourcesDep
) -> dict[str, list[list[str]]]:
    found = await _tenant_store(resources, principal).alist_namespaces(
        prefix=tuple(body.prefix) if body.prefix else None,
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=min(body.limit, resources.settings.page_size_max),
        offset=body.offset,
    )
    return {"namespaces": [list(namespace) for namespace in found]}
