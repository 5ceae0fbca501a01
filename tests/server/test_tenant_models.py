"""Per-tenant models: two tenants routed to two OpenAI-compatible stubs on 127.0.0.1 with their own
stored keys, a third on the local model; an llm node's model overrides; token usage recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from eawe.db.repositories.usage import run_usage
from eawe.db.tenant_scope import system_scope
from tests.engine.stub_http import RecordedRequest, StubHTTPServer
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status

TWO_DRAFTS = linear(
    {"topic": {"type": "string", "required": True}, "a": {"type": "string"}, "b": {"type": "string"}},
    [
        {"id": "first", "type": "llm", "config": {"prompt": "About {topic}.", "output": "a"}},
        {
            "id": "second",
            "type": "llm",
            "config": {"prompt": "More on {a}.", "output": "b", "model": "big-model"},
        },
    ],
)


def _stub(label: str, key: str) -> StubHTTPServer:
    def answer(request: RecordedRequest) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"Bearer {key}":
            return 401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}}
        model = request.body["model"]
        return 200, {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"{label} via {model}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    return StubHTTPServer(answer).start()


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[StubHTTPServer, StubHTTPServer]]:
    one, two = _stub("stub-one", "sk-tenant-one-111"), _stub("stub-two", "sk-tenant-two-222")
    yield one, two
    one.stop()
    two.stop()


async def _own_model(client: httpx.AsyncClient, tenant: Any, base_url: str, key: str, model: str) -> None:
    made = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={
            "name": "llm-key",
            "type": "API_KEY",
            "service_name": "LLM",
            "value": key,
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    assert made.status_code == 201, made.text
    put = await client.put(
        "/v1/tenant/model",
        headers=tenant.admin,
        json={"base_url": f"{base_url}/v1", "model": model, "credential": "llm-key"},
    )
    assert put.status_code == 200, put.text
    assert key not in put.text


async def test_each_tenant_reaches_its_own_endpoint_with_its_own_key(
    client: httpx.AsyncClient, api_tenant, stubs, database
) -> None:
    one, two = stubs
    t1, t2, t3 = await api_tenant(), await api_tenant(), await api_tenant()
    await _own_model(client, t1, one.base_url, "sk-tenant-one-111", "model-one")
    await _own_model(client, t2, two.base_url, "sk-tenant-two-222", "model-two")
    assert (await client.get("/v1/tenant/model", headers=t3.admin)).json() == {"model": None}

    results = {}
    for name, tenant in (("t1", t1), ("t2", t2), ("t3", t3)):
        workflow_id = await create_and_publish(client, tenant.designer, TWO_DRAFTS)
        run = await start_run(client, tenant.operator, workflow_id, {"topic": "rail"})
        results[name] = (
            tenant,
            await wait_for_status(client, tenant.operator, run["id"], "COMPLETED", "PAUSED_WITH_ERROR"),
        )

    t1_run, t2_run, t3_run = (results[k][1] for k in ("t1", "t2", "t3"))
    assert t1_run["status"] == "COMPLETED", t1_run
    assert (
        t1_run["payload"]["a"] == "stub-one via model-one"
        and t1_run["payload"]["b"] == "stub-one via big-model"
    )
    assert t2_run["payload"]["a"] == "stub-two via model-two"
    assert t3_run["payload"]["a"].startswith("[local model]")  # no settings: the default stays
    assert sorted(r.body["model"] for r in one.requests) == ["big-model", "model-one"]
    assert sorted(r.body["model"] for r in two.requests) == ["big-model", "model-two"]

    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            usage = await run_usage(session, t1.tenant_id, t1_run["id"])
    by_node = {e["node_id"]: e["token_usage"] for e in usage["node_executions"]}
    assert by_node["first"] == {"model-one": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}}
    assert by_node["second"] == {"big-model": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}}
    assert usage["total_tokens"] == 36

    cost = (await client.get("/v1/usage", headers=t1.admin)).json()
    assert {i["model"]: i["total_tokens"] for i in cost["items"]} == {"big-model": 18, "model-one": 18}
    assert cost["unpriced_models"] == ["big-model", "model-one"]


async def test_model_settings_are_validated_and_admin_only(client: httpx.AsyncClient, api_tenant) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    made = await client.post(
        "/v1/credentials",
        headers=other.admin,
        json={
            "name": "theirs",
            "type": "API_KEY",
            "service_name": "LLM",
            "value": "sk-other",
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    assert made.status_code == 201
    body = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "credential": "theirs"}
    assert_problem(await client.put("/v1/tenant/model", headers=tenant.admin, json=body), 422, "credential")
    bad_url = dict(body, base_url="file:///etc/passwd")
    assert_problem(await client.put("/v1/tenant/model", headers=tenant.admin, json=bad_url), 422, "base_url")
    assert (await client.put("/v1/tenant/model", headers=tenant.operator, json=body)).status_code == 403
    assert (await client.delete("/v1/tenant/model", headers=tenant.admin)).status_code == 204
