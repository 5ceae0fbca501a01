"""The LangGraph Store API over real HTTP (uvicorn) on real PostgreSQL, driven by ``langgraph-sdk``.

Items live in LangGraph's own Postgres ``store`` table, under the caller's tenant id; the tests
look at that table directly to check what is stored where.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import ListNamespacesOp, MatchCondition, PutOp
from langgraph_sdk import get_client
from langgraph_sdk.errors import PermissionDeniedError
from typing_extensions import TypedDict

from eawe.db.models import Role
from eawe.settings import Settings
from tests.server.api_tenants import ApiTenant, assert_problem

BODY_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_request_bytes": BODY_LIMIT})


async def _api_key(client: httpx.AsyncClient, tenant: ApiTenant, role: Role) -> str:
    created = await client.post(
        "/v1/api-keys", headers=tenant.admin, json={"name": "sdk", "user_id": tenant.users[role].id}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


async def _sdk(client: httpx.AsyncClient, live_url: str, tenant: ApiTenant, role: Role) -> Any:
    return get_client(url=live_url, api_key=await _api_key(client, tenant, role))


def _ns(label: str) -> list[str]:
    return ["memories", label, uuid.uuid4().hex[:10]]


def _stored_prefixes(conninfo: str, key: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT prefix FROM store WHERE key = %s ORDER BY prefix", (key,)).fetchall()
    return [row[0] for row in rows]


async def test_sdk_put_get_search_namespaces_delete(
    live_url: str, client: httpx.AsyncClient, api_tenant, owner_conninfo: str
) -> None:
    tenant = await api_tenant()
    sdk = await _sdk(client, live_url, tenant, Role.DESIGNER)
    ns = _ns("round-trip")
    await sdk.store.put_item(ns, key="prefs", value={"theme": "dark", "size": 3})
    await sdk.store.put_item(ns, key="other", value={"theme": "light", "size": 7})
    await sdk.store.put_item([*ns, "deeper"], key="nested", value={"theme": "dark", "size": 5})

    item = await sdk.store.get_item(ns, key="prefs")
    assert item["namespace"] == ns and item["key"] == "prefs"
    assert item["value"] == {"theme": "dark", "size": 3}
    assert item["created_at"] and item["updated_at"]
    assert await sdk.store.get_item(ns, key="absent") is None

    listed = (await sdk.store.search_items(ns))["items"]
    assert sorted(i["key"] for i in listed) == ["nested", "other", "prefs"]  # the prefix's subtree
    dark = (await sdk.store.search_items(ns, filter={"theme": "dark"}))["items"]
    assert sorted(i["key"] for i in dark) == ["nested", "prefs"]
    big = (await sdk.store.search_items(ns, filter={"size": {"$gte": 5}}))["items"]
    assert sorted(i["key"] for i in big) == ["nested", "other"]
    first = (await sdk.store.search_items(ns, limit=2))["items"]
    rest = (await sdk.store.search_items(ns, limit=2, offset=2))["items"]
    assert len(first) == 2 and len(rest) == 1
    assert {i["key"] for i in first} | {i["key"] for i in rest} == {"nested", "other", "prefs"}
    queried = (await sdk.store.search_items(ns, query="dark theme"))["items"]
    assert len(queried) == 3  # no embedding index: a query lists, unranked

    namespaces = (await sdk.store.list_namespaces(prefix=ns[:1]))["namespaces"]
    assert ns in namespaces and [*ns, "deeper"] in namespaces
    assert (await sdk.store.list_namespaces(prefix=ns, max_depth=3))["namespaces"] == [ns]
    assert (await sdk.store.list_namespaces(suffix=["deeper"]))["namespaces"] == [[*ns, "deeper"]]
    # Never the tenant prefix: every namespace listed starts with what was written.
    everything = (await sdk.store.list_namespaces())["namespaces"]
    assert everything and all(found[0] == "memories" for found in everything)

    await sdk.store.put_item(ns, key="prefs", value={"theme": "solarized"})
    assert (await sdk.store.get_item(ns, key="prefs"))["value"] == {"theme": "solarized"}
    await sdk.store.delete_item(ns, key="prefs")
    assert await sdk.store.get_item(ns, key="prefs") is None
    assert _stored_prefixes(owner_conninfo, "other") == [".".join([tenant.tenant_id, *ns])]


async def test_tenants_never_see_each_others_items(
    live_url: str, client: httpx.AsyncClient, api_tenant, owner_conninfo: str
) -> None:
    a, b = await api_tenant(), await api_tenant()
    sdk_a = await _sdk(client, live_url, a, Role.ADMINISTRATOR)
    sdk_b = await _sdk(client, live_url, b, Role.ADMINISTRATOR)
    ns = _ns("isolation")
    key = f"k-{uuid.uuid4().hex[:8]}"
    await sdk_a.store.put_item(ns, key=key, value={"owner": "a"})

    assert await sdk_b.store.get_item(ns, key=key) is None
    assert (await sdk_b.store.search_items(ns))["items"] == []
    assert (await sdk_b.store.search_items([]))["items"] == []
    assert ns not in (await sdk_b.store.list_namespaces(prefix=ns[:1]))["namespaces"]
    await sdk_b.store.delete_item(ns, key=key)  # a no-op, as for any missing item
    assert (await sdk_a.store.get_item(ns, key=key))["value"] == {"owner": "a"}

    # Same namespace and key in B: a separate item; neither overwrites the other.
    await sdk_b.store.put_item(ns, key=key, value={"owner": "b"})
    assert (await sdk_a.store.get_item(ns, key=key))["value"] == {"owner": "a"}
    assert (await sdk_b.store.get_item(ns, key=key))["value"] == {"owner": "b"}
    assert _stored_prefixes(owner_conninfo, key) == sorted(".".join([t.tenant_id, *ns]) for t in (a, b))

    # Naming A's tenant id as a label does not reach A's items: it is just B's own namespace.
    assert await sdk_b.store.get_item([a.tenant_id, *ns], key=key) is None
    await sdk_b.store.put_item([a.tenant_id, *ns], key=key, value={"owner": "b, disguised"})
    assert (await sdk_a.store.get_item(ns, key=key))["value"] == {"owner": "a"}
    assert [a.tenant_id, *ns] not in (await sdk_a.store.list_namespaces())["namespaces"]
    assert [a.tenant_id, *ns] in (await sdk_b.store.list_namespaces())["namespaces"]


async def test_roles_read_for_everyone_write_for_designers_and_admins(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    designer = await _sdk(client, live_url, tenant, Role.DESIGNER)
    operator = await _sdk(client, live_url, tenant, Role.OPERATOR)
    ns = _ns("roles")
    await designer.store.put_item(ns, key="k", value={"v": 1})

    assert (await operator.store.get_item(ns, key="k"))["value"] == {"v": 1}
    assert len((await operator.store.search_items(ns))["items"]) == 1
    assert ns in (await operator.store.list_namespaces(prefix=ns))["namespaces"]
    for call in (
        operator.store.put_item(ns, key="k", value={"v": 2}),
        operator.store.delete_item(ns, key="k"),
    ):
        try:
            await call
        except PermissionDeniedError:
            continue
        raise AssertionError("an operator wrote to the store")
    assert (await designer.store.get_item(ns, key="k"))["value"] == {"v": 1}

    anonymous = await client.get("/store/items", params={"namespace": ".".join(ns), "key": "k"})
    assert_problem(anonymous, 401)


async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    headers = tenant.admin
    bad_puts = [
        ({"namespace": [], "key": "k", "value": {}}, "namespace"),
        ({"namespace": ["ok", "a.b"], "key": "k", "value": {}}, "namespace[1]"),
        ({"namespace": ["ok", ""], "key": "k", "value": {}}, "namespace[1]"),
        ({"namespace": ["langgraph", "x"], "key": "k", "value": {}}, "namespace"),
        ({"namespace": ["ok"], "key": "k", "value": [1, 2]}, "value"),
        ({"namespace": ["ok"], "key": "k", "value": "text"}, "value"),
        ({"namespace": ["ok"], "key": "", "value": {}}, "key"),
        ({"namespace": ["ok"], "key": "k" * 1001, "value": {}}, "key"),
        ({"namespace": ["ok"], "key": "k", "value": {}, "ttl": -1}, "ttl"),
        ({"namespace": ["ok"], "value": {}}, "key"),
    ]
    for body, field in bad_puts:
        assert_problem(await client.put("/store/items", headers=headers, json=body), 422, field)
    assert (await client.post("/store/items/search", headers=headers, json={})).json() == {"items": []}

    assert_problem(await client.get("/store/items", headers=headers, params={"namespace": "ok"}), 422, "key")
    for namespace in ("", "a..b", "a."):
        got = await client.get("/store/items", headers=headers, params={"namespace": namespace, "key": "k"})
        assert_problem(got, 422, "namespace")
    delete = await client.request(
        "DELETE", "/store/items", headers=headers, json={"namespace": [], "key": "k"}
    )
    assert_problem(delete, 422, "namespace")
    for body, field in [
        ({"namespace_prefix": ["a.b"]}, "namespace_prefix[0]"),
        ({"namespace_prefix": ["ok"], "filter": {"x": {"$regex": ".*"}}}, "filter"),
        ({"namespace_prefix": ["ok"], "limit": 0}, "limit"),
        ({"namespace_prefix": ["ok"], "offset": -1}, "offset"),
    ]:
        assert_problem(await client.post("/store/items/search", headers=headers, json=body), 422, field)
    for body, field in [({"prefix": ["x.y"]}, "prefix[0]"), ({"max_depth": 0}, "max_depth")]:
        assert_problem(await client.post("/store/namespaces", headers=headers, json=body), 422, field)


async def test_writes_are_audited_without_the_value(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    ns = _ns("audit")
    put = await client.put(
        "/store/items", headers=tenant.designer, json={"namespace": ns, "key": "k", "value": {"pin": "1234"}}
    )
    assert put.status_code == 204, put.text
    deleted = await client.request(
        "DELETE", "/store/items", headers=tenant.admin, json={"namespace": ns, "key": "k"}
    )
    assert deleted.status_code == 204, deleted.text
    logs = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).json()["items"]
    store_rows = [row for row in logs if row["action"].startswith("STORE_ITEM_")]
    assert [(row["action"], row["details"]) for row in sorted(store_rows, key=lambda r: r["seq"])] == [
        ("STORE_ITEM_PUT", {"namespace": ns, "key": "k"}),
        ("STORE_ITEM_DELETED", {"namespace": ns, "key": "k"}),
    ]
    assert [row["actor_id"] for row in sorted(store_rows, key=lambda r: r["seq"])] == [
        tenant.users[Role.DESIGNER].id,
        tenant.users[Role.ADMINISTRATOR].id,
    ]


async def test_items_with_a_ttl_expire(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    ns = _ns("ttl")
    body = {"namespace": ns, "key": "brief", "value": {"v": 1}, "ttl": 0.01}  # 0.6 s
    assert (await client.put("/store/items", headers=tenant.admin, json=body)).status_code == 204
    params = {"namespace": ".".join(ns), "key": "brief", "refresh_ttl": "false"}
    assert (await client.get("/store/items", headers=tenant.admin, params=params)).json()["value"] == {"v": 1}
    await asyncio.sleep(1.5)
    assert (await client.get("/store/items", headers=tenant.admin, params=params)).json() is None
    assert (
        await client.post("/store/items/search", headers=tenant.admin, json={"namespace_prefix": ns})
    ).json() == {"items": []}


class _Memo(TypedDict, total=False):
    note: str
    seen: list[str]


async def test_a_graph_gets_the_tenant_store(app: FastAPI, client: httpx.AsyncClient, api_tenant) -> None:
    """What the engine injects into a run: ``ItemStore.for_tenant`` as the graph's store."""
    a, b = await api_tenant(), await api_tenant()
    shared = app.state.resources.engine.resources.store
    ns = _ns("graph")

    async def remember(state: _Memo, runtime: Runtime[None]) -> _Memo:
        assert runtime.store is not None
        await runtime.store.aput(tuple(ns), "note", {"text": state["note"]})
        found = await runtime.store.asearch(tuple(ns[:1]))
        return {"seen": [item.value["text"] for item in found]}

    builder = StateGraph(_Memo)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    out = await builder.compile(store=shared.for_tenant(a.tenant_id)).ainvoke({"note": "from a graph"})
    assert out["seen"] == ["from a graph"]
    cached = builder.compile()  # one compiled graph shared by tenants, bound per run
    out_b = await shared.bind(cached, b.tenant_id).ainvoke({"note": "b's own"})
    assert out_b["seen"] == ["b's own"] and cached.store is None

    got = await client.get(
        "/store/items", headers=a.operator, params={"namespace": ".".join(ns), "key": "note"}
    )
    assert got.json()["value"] == {"text": "from a graph"}
    other = await client.get(
        "/store/items", headers=b.admin, params={"namespace": ".".join(ns), "key": "note"}
    )
    assert other.status_code == 200 and other.json()["value"] == {"text": "b's own"}

    # Ops handed straight to batch are confined too, and results come back unprefixed.
    view = shared.for_tenant(b.tenant_id)
    await view.abatch([PutOp(tuple(ns), "direct", {"x": 1})])
    listed = await view.abatch([ListNamespacesOp(match_conditions=None, limit=1000)])
    assert listed == [[tuple(ns)]]
    note = await view.aget(tuple(ns), "note")
    assert note is not None and note.value == {"text": "b's own"}
    only_a = await shared.for_tenant(a.tenant_id).abatch(
        [ListNamespacesOp(match_conditions=(MatchCondition("prefix", tuple(ns)),))]
    )
    assert only_a == [[tuple(ns)]]
    sync_get = await asyncio.to_thread(view.get, tuple(ns), "direct")
    assert sync_get is not None and sync_get.namespace == tuple(ns) and sync_get.value == {"x": 1}


async def test_text_plain_json_bodies_are_read_as_json(client: httpx.AsyncClient, api_tenant) -> None:
    """LangGraph Studio posts JSON as text/plain (a CORS simple request)."""
    tenant = await api_tenant()
    headers = {**tenant.admin, "Content-Type": "text/plain;charset=UTF-8"}
    searched = await client.post("/assistants/search", headers=headers, content=b'{"limit": 5, "offset": 0}')
    assert searched.status_code == 200, searched.text
    assert searched.json() == []
    ns = _ns("plain")
    put = await client.put(
        "/store/items",
        headers=headers,
        content=json.dumps({"namespace": ns, "key": "k", "value": {}}),
    )
    assert put.status_code == 204, put.text
    got = await client.get(
        "/store/items", headers=tenant.admin, params={"namespace": ".".join(ns), "key": "k"}
    )
    assert got.json()["value"] == {}

    # Not JSON: unchanged, so the route refuses it as before.
    refused = await client.post("/assistants/search", headers=headers, content=b"limit=5")
    assert_problem(refused, 422)
    # A JSON body with a JSON content type is untouched; a bad one still names the field.
    assert_problem(
        await client.post("/assistants/search", headers=headers, content=b'{"limit": 0}'), 422, "limit"
    )
    as_json = await client.post("/assistants/search", headers=tenant.admin, json={"limit": 5})
    assert as_json.status_code == 200 and as_json.json() == []
    # The body-size limit still holds for a buffered text/plain body (JSON or not).
    huge = json.dumps({"namespace": ns, "key": "big", "value": {"blob": "x" * BODY_LIMIT}})
    assert_problem(await client.put("/store/items", headers=headers, content=huge), 413)
    big = await client.get(
        "/store/items", headers=tenant.admin, params={"namespace": ".".join(ns), "key": "big"}
    )
    assert big.json() is None
