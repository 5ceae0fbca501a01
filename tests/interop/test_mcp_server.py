"""``/mcp`` driven by the official MCP Python client and by langchain-mcp-adapters, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from langchain_mcp_adapters.client import MultiServerMCPClient
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from eawe.db.models import Role
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, linear, wait_for_status

GREETING = linear(
    {
        "name": {"type": "string", "required": True, "description": "Who to greet"},
        "greeting": {"type": "string"},
    },
    [{"id": "greet", "type": "transform", "config": {"set": {"greeting": "Hello, {name}!"}}}],
)


async def _api_key(client: httpx.AsyncClient, admin: dict[str, str], user_id: str) -> str:
    created = await client.post("/v1/api-keys", headers=admin, json={"name": "mcp", "user_id": user_id})
    assert created.status_code == 201, created.text
    return created.json()["key"]


async def _tools_and_call(
    url: str, headers: dict[str, str], name: str | None = None, arguments: dict[str, Any] | None = None
) -> tuple[list[Any], Any]:
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as mcp,
    ):
        init = await mcp.initialize()
        assert init.serverInfo.name == "eawe"
        tools = (await mcp.list_tools()).tools
        result = await mcp.call_tool(name, arguments or {}) if name else None
    return tools, result


async def test_mcp_client_lists_and_calls_workflow_tools(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    greet_id = await create_and_publish(client, tenant.designer, GREETING, name="Greeting bot")
    review_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Reviewed note")
    foreign_id = await create_and_publish(client, other.designer, GREETING, name="Greeting bot")
    draft = await client.post(
        "/v1/workflows", headers=tenant.designer, json={"name": "draft only", "definition_graph": GREETING}
    )
    assert draft.status_code == 201
    key = await _api_key(client, tenant.admin, tenant.users[Role.OPERATOR].id)
    url = f"{live_url}/mcp"

    tools, result = await _tools_and_call(
        url, {"X-Api-Key": key}, f"greeting_bot_{greet_id}", {"name": "Ada"}
    )
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {f"greeting_bot_{greet_id}", f"reviewed_note_{review_id}"}  # no draft, no foreign
    greet_tool = by_name[f"greeting_bot_{greet_id}"]
    assert greet_tool.inputSchema["required"] == ["name"]
    assert greet_tool.inputSchema["properties"]["name"]["description"] == "Who to greet"
    assert result.isError is False, result
    assert result.structuredContent["status"] == "COMPLETED"
    assert result.structuredContent["output"]["greeting"] == "Hello, Ada!"
    assert json.loads(result.content[0].text)["greeting"] == "Hello, Ada!"

    # A run that stops for approval answers at once with the task id; approving it finishes the run.
    _, paused = await _tools_and_call(url, {"X-Api-Key": key}, f"reviewed_note_{review_id}", {"topic": "MCP"})
    assert paused.isError is False
    body = paused.structuredContent
    assert body["status"] == "PAUSED_FOR_APPROVAL" and body["waiting_for_approval"] is True
    assert len(body["hitl_task_ids"]) == 1 and "Waiting for approval" in paused.content[0].text
    decided = await client.post(
        f"/v1/hitl-tasks/{body['hitl_task_ids'][0]}/decision",
        headers=tenant.operator,
        json={"decision": "approve"},
    )
    assert decided.status_code == 200, decided.text
    finished = await wait_for_status(client, tenant.operator, body["run_id"], "COMPLETED")
    assert finished["current_state"]["values"]["final"] == "published: A note about MCP"

    # Another tenant's tool (same slug) is unknown here; bad input names the field.
    _, foreign = await _tools_and_call(url, {"X-Api-Key": key}, f"greeting_bot_{foreign_id}", {"name": "x"})
    assert foreign.isError is True and "not found" in foreign.content[0].text
    _, invalid = await _tools_and_call(url, {"X-Api-Key": key}, f"greeting_bot_{greet_id}", {})
    assert invalid.isError is True and "input.name" in invalid.content[0].text


async def test_mcp_auth_and_roles(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    greet_id = await create_and_publish(client, tenant.designer, GREETING, name="Greeting bot")
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as raw:
        missing = await raw.post("/mcp", json=request, headers=accept)
        assert_problem(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_problem(
            await raw.post("/mcp", json=request, headers={**accept, "Authorization": "Bearer nope"}), 401
        )

    # A designer may not start runs: no tools, and a direct call is refused.
    tools, refused = await _tools_and_call(
        f"{live_url}/mcp", tenant.designer, f"greeting_bot_{greet_id}", {"name": "x"}
    )
    assert tools == []
    assert refused.isError is True and "may not perform runs:create" in refused.content[0].text
    # A login token works as well as an API key.
    tools, _ = await _tools_and_call(f"{live_url}/mcp", tenant.operator)
    assert [t.name for t in tools] == [f"greeting_bot_{greet_id}"]


async def test_langchain_mcp_adapters_load_a_workflow_as_a_tool(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    greet_id = await create_and_publish(client, tenant.designer, GREETING, name="Greeting bot")
    key = await _api_key(client, tenant.admin, tenant.users[Role.OPERATOR].id)
    adapters = MultiServerMCPClient(
        {"eawe": {"url": f"{live_url}/mcp", "transport": "streamable_http", "headers": {"X-Api-Key": key}}}
    )
    tools = await adapters.get_tools()
    assert [t.name for t in tools] == [f"greeting_bot_{greet_id}"]
    tool = tools[0]
    assert tool.args_schema["required"] == ["name"]
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"name": "Grace"}}
    )
    assert "Hello, Grace!" in str(message.content)
    assert message.artifact["structured_content"]["status"] == "COMPLETED"
