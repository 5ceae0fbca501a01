"""The ``mcp_tool`` node calling a real MCP server on 127.0.0.1, configured per tenant with a credential."""

from __future__ import annotations

import logging
import secrets

import httpx
import psycopg
import pytest

from tests.interop.stub_mcp_server import running_stub_mcp_server
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status


def _order_workflow(server: str, tool: str = "lookup_order") -> dict:
    return linear(
        {"order_id": {"type": "string", "required": True}, "order": {"type": "any"}, "who": {"type": "any"}},
        [
            {
                "id": "lookup",
                "type": "mcp_tool",
                "config": {
                    "server": server,
                    "tool": tool,
                    "arguments": {"order_id": "{order_id}"},
                    "output": "order",
                },
                "retry": {"max_attempts": 1},
            },
            {
                "id": "reflect",
                "type": "mcp_tool",
                "config": {"server": server, "tool": "whoami", "output": "who"},
                "retry": {"max_attempts": 1},
            },
        ],
    )


async def _configure(client: httpx.AsyncClient, admin: dict[str, str], url: str, token: str) -> dict:
    credential = await client.post(
        "/v1/credentials",
        headers=admin,
        json={
            "name": "orders-token",
            "type": "API_KEY",
            "service_name": "ORDERS",
            "value": token,
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    assert credential.status_code == 201, credential.text
    created = await client.post(
        "/v1/mcp-servers",
        headers=admin,
        json={
            "name": "orders",
            "url": url,
            "credential_id": credential.json()["id"],
            "allowed_tools": ["lookup_order", "whoami"],
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def _stored_text(owner_conninfo: str) -> str:
    """Everything the run store holds: checkpoints, their writes and blobs, runs, audit rows, tasks."""
    with psycopg.connect(owner_conninfo) as conn:
        tables = (
            "checkpoints",
            "checkpoint_writes",
            "checkpoint_blobs",
            "WorkflowRun",
            "AuditLog",
            "HITLTask",
        )
        return "\n".join(repr(conn.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables)


async def test_mcp_tool_node_calls_the_tenants_server_with_its_credential(
    client: httpx.AsyncClient, api_tenant, owner_conninfo: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "stub-mcp-secret-" + secrets.token_hex(8)
    tenant, other = await api_tenant(), await api_tenant()
    async with running_stub_mcp_server(token) as stub:
        server = await _configure(client, tenant.admin, stub.url, token)
        assert server["allowed_tools"] == ["lookup_order", "whoami"] and "value" not in server
        workflow_id = await create_and_publish(client, tenant.designer, _order_workflow("orders"))
        run = await start_run(client, tenant.operator, workflow_id, {"order_id": "A-17"})
        done = await wait_for_status(client, tenant.operator, run["id"], "COMPLETED", "PAUSED_WITH_ERROR")
        assert done["status"] == "COMPLETED", done["error"]
        values = done["current_state"]["values"]
        assert values["order"] == {"order_id": "A-17", "status": "shipped"}
        # FastMCP wraps a plain return value as {"result": ...}; the reflected secret was scrubbed.
        assert values["who"] == {"result": "you sent Bearer [REDACTED]"}
        assert stub.calls == ["lookup_order:A-17", "whoami"]

        # The secret is nowhere in what the API shows about the run, its events or the audit log.
        events = await client.get(f"/v1/runs/{run['id']}/events", headers=tenant.operator)
        audit = await client.get("/v1/audit-logs", headers=tenant.admin)
        logs = caplog.text + "\n".join(
            f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
        )
        for text in (str(done), events.text, audit.text, _stored_text(owner_conninfo), logs):
            assert token not in text
        assert "A-17" in _stored_text(owner_conninfo)  # the scan does see run content
        assert "MCP_SERVER_CREATED" in audit.text

        # A tool the configuration does not allow is never called.
        blocked_id = await create_and_publish(
            client, tenant.designer, _order_workflow("orders", tool="delete_everything"), name="blocked"
        )
        blocked = await start_run(client, tenant.operator, blocked_id, {"order_id": "A-18"})
        failed = await wait_for_status(client, tenant.operator, blocked["id"], "PAUSED_WITH_ERROR")
        assert failed["error"]["node_id"] == "lookup" and "allowed tools" in failed["error"]["message"]
        assert "delete_everything" not in stub.calls

        # Another tenant can neither see the configuration nor use it, by name or by id.
        assert_problem(await client.get(f"/v1/mcp-servers/{server['id']}", headers=other.admin), 404)
        assert (await client.get("/v1/mcp-servers", headers=other.admin)).json()["items"] == []
        calls_before = list(stub.calls)
        for reference in ("orders", server["id"]):
            foreign_id = await create_and_publish(
                client, other.designer, _order_workflow(reference), name=f"steal-{reference[:6]}"
            )
            stolen = await start_run(client, other.operator, foreign_id, {"order_id": "B-1"})
            refused = await wait_for_status(client, other.operator, stolen["id"], "PAUSED_WITH_ERROR")
            assert refused["error"]["type"] == "NotFoundError" and "mcp server" in refused["error"]["message"]
        assert stub.calls == calls_before


async def test_mcp_server_admin_routes_validate(client: httpx.AsyncClient, api_tenant) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    theirs = await client.post(
        "/v1/credentials",
        headers=other.admin,
        json={
            "name": "t",
            "type": "API_KEY",
            "service_name": "X",
            "value": "their-secret-value",
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    body = {"name": "svc", "url": "http://127.0.0.1:9/mcp", "allowed_tools": ["a"]}
    assert_problem(
        await client.post(
            "/v1/mcp-servers", headers=tenant.admin, json={**body, "credential_id": theirs.json()["id"]}
        ),
        422,
        "credential_id",
    )
    assert_problem(
        await client.post("/v1/mcp-servers", headers=tenant.admin, json={**body, "url": "ftp://x/mcp"}),
        422,
        "url",
    )
    assert_problem(
        await client.post("/v1/mcp-servers", headers=tenant.admin, json={**body, "allowed_tools": []}),
        422,
        "allowed_tools",
    )
    assert_problem(await client.post("/v1/mcp-servers", headers=tenant.operator, json=body), 403)
    created = await client.post("/v1/mcp-servers", headers=tenant.admin, json=body)
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/v1/mcp-servers", headers=tenant.admin, json=body), 409, "name")
    assert_problem(await client.delete(f"/v1/mcp-servers/{created.json()['id']}", headers=other.admin), 404)
    assert (
        await client.delete(f"/v1/mcp-servers/{created.json()['id']}", headers=tenant.admin)
    ).status_code == 204
    assert (await client.get("/v1/mcp-servers", headers=tenant.admin)).json()["items"] == []


async def test_llm_node_calls_the_tenants_mcp_tools_in_a_bounded_loop(
    client: httpx.AsyncClient, api_tenant
) -> None:
    token = "stub-mcp-secret-" + secrets.token_hex(8)
    tenant = await api_tenant()
    async with running_stub_mcp_server(token) as stub:
        await _configure(client, tenant.admin, stub.url, token)
        definition = linear(
            {"order_id": {"type": "string", "required": True}, "answer": {"type": "string"}},
            [
                {
                    "id": "assistant",
                    "type": "llm",
                    "config": {
                        "prompt": "What is the status of my order? order_id: {order_id}",
                        "mcp_tools": [{"server": "orders", "tools": ["lookup_order"]}],
                        "max_tool_rounds": 2,
                        "output": "answer",
                    },
                    "retry": {"max_attempts": 1},
                }
            ],
        )
        workflow_id = await create_and_publish(client, tenant.designer, definition, name="order assistant")
        run = await start_run(client, tenant.operator, workflow_id, {"order_id": "C-42"})
        done = await wait_for_status(client, tenant.operator, run["id"], "COMPLETED", "PAUSED_WITH_ERROR")
        assert done["status"] == "COMPLETED", done["error"]
        assert "shipped" in done["current_state"]["values"]["answer"]
        assert stub.calls == ["lookup_order:C-42"]  # listed, called once; whoami was never offered

        # A tool the configuration does not allow cannot be offered to the model either.
        definition["nodes"][0]["config"]["mcp_tools"] = [{"server": "orders", "tools": ["delete_everything"]}]
        blocked_id = await create_and_publish(client, tenant.designer, definition, name="greedy assistant")
        blocked = await start_run(client, tenant.operator, blocked_id, {"order_id": "C-43"})
        refused = await wait_for_status(client, tenant.operator, blocked["id"], "PAUSED_WITH_ERROR")
        assert "not in the allowed tools" in refused["error"]["message"]
        assert stub.calls == ["lookup_order:C-42"]


async def test_mcp_tool_calls_carry_an_idempotency_key_that_a_re_execution_repeats(
    client: httpx.AsyncClient, api_tenant
) -> None:
    token = "stub-mcp-secret-" + secrets.token_hex(8)
    tenant = await api_tenant()
    async with running_stub_mcp_server(token) as stub:
        credential = await client.post(
            "/v1/credentials",
            headers=tenant.admin,
            json={
                "name": "orders-token",
                "type": "API_KEY",
                "service_name": "ORDERS",
                "value": token,
                "allowed_hosts": ["127.0.0.1"],
            },
        )
        configured = await client.post(
            "/v1/mcp-servers",
            headers=tenant.admin,
            json={
                "name": "orders",
                "url": stub.url,
                "credential_id": credential.json()["id"],
                "allowed_tools": ["place_order"],
            },
        )
        assert configured.status_code == 201, configured.text
        definition = linear(
            {"item": {"type": "string", "required": True}, "order": {"type": "any"}},
            [
                {
                    "id": "order",
                    "type": "mcp_tool",
                    # The first call hangs past the timeout: the task is executed again (a retry).
                    "config": {
                        "server": "orders",
                        "tool": "place_order",
                        "arguments": {"item": "{item}"},
                        "output": "order",
                        "timeout_s": 1.5,
                    },
                    "retry": {"max_attempts": 2, "initial_interval_s": 0.1},
                }
            ],
        )
        workflow_id = await create_and_publish(client, tenant.designer, definition)
        run = await start_run(client, tenant.operator, workflow_id, {"item": "chair"})
        done = await wait_for_status(client, tenant.operator, run["id"], "COMPLETED", "PAUSED_WITH_ERROR")
        assert done["status"] == "COMPLETED", done["error"]
        assert done["current_state"]["values"]["order"] == {"item": "chair", "status": "placed"}
        assert stub.calls == ["place_order:chair", "place_order:chair"]
        (first_meta, first_header), (second_meta, second_header) = stub.keys
        # The key is in _meta and in the HTTP header, and the re-executed task sends the same one.
        assert first_meta and len(first_meta) == 40 and first_meta == first_header
        assert (second_meta, second_header) == (first_meta, first_header)

        # Another run (another task) calls with another key.
        other = await start_run(client, tenant.operator, workflow_id, {"item": "chair"})
        finished = await wait_for_status(
            client, tenant.operator, other["id"], "COMPLETED", "PAUSED_WITH_ERROR"
        )
        assert finished["status"] == "COMPLETED", finished["error"]
        assert len(stub.keys) == 3 and stub.keys[2][0] == stub.keys[2][1] != first_meta
