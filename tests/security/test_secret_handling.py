"""Secrets stay secret: credential values, passwords, password hashes and the JWT signing key.

A stored credential is used by a ``tool`` node against a real HTTP server on 127.0.0.1. Whether
the call fails or the endpoint reflects what it was sent, the credential's value must not reach
any response, run state, checkpoint, audit row, SSE event, error body or log line.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql

from tests.engine.stub_http import RecordedRequest, StubHTTPServer
from tests.server.api_tenants import ApiTenant, assert_problem
from tests.server.sample_workflows import create_and_publish, linear, wait_for_status


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StubHTTPServer]:
    """``/fail`` answers 500 with the request's headers; ``/echo`` answers 200 with them."""

    def respond(request: RecordedRequest) -> tuple[int, Any]:
        reflected = {"headers": request.headers, "note": f"you sent {request.headers.get('authorization')}"}
        if request.path.startswith("/fail"):
            return 500, reflected
        return 200, reflected

    stub = StubHTTPServer(respond).start()
    yield stub
    stub.stop()


def _tool_workflow(url: str, credential: str, auth: str = "bearer") -> dict[str, Any]:
    request: dict[str, Any] = {"method": "GET", "url": url, "credential": credential, "auth": auth}
    if auth == "header":
        request["auth_header"] = "X-Service-Token"
    return linear(
        {"topic": {"type": "string"}, "fetched": {"type": "any"}, "final": {"type": "string"}},
        [
            {
                "id": "fetch",
                "type": "tool",
                "config": {"request": request, "output": "fetched", "output_mode": "response"},
                "retry": {"max_attempts": 1},
            },
            {"id": "finish", "type": "transform", "config": {"set": {"final": "done: {topic}"}}},
        ],
    )


async def _sse_of_new_run(live_url: str, headers: dict[str, str], workflow_id: str) -> str:
    """The whole Agent-Protocol SSE stream of a run started on a new thread."""
    async with (
        httpx.AsyncClient(base_url=live_url, headers=headers, timeout=60) as live,
        live.stream(
            "POST",
            "/runs/stream",
            json={
                "assistant_id": workflow_id,
                "input": {"topic": "secrets"},
                "stream_mode": ["values", "updates", "events"],
            },
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        return (await response.aread()).decode()


async def _everything_about(
    client: httpx.AsyncClient, tenant: ApiTenant, run_id: str, owner_conninfo: str
) -> dict[str, str]:
    """Every place a run's data can be read back, as text."""
    texts = {}
    for path in (
        f"/v1/runs/{run_id}",
        "/v1/runs",
        f"/threads/{run_id}",
        f"/threads/{run_id}/state",
        f"/threads/{run_id}/history",
        f"/threads/{run_id}/runs",
        "/v1/credentials",
        "/v1/hitl-tasks",
    ):
        response = await client.get(path, headers=tenant.admin)
        assert response.status_code == 200, f"{path}: {response.text}"
        texts[path] = response.text
    audit = await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})
    texts["audit"] = audit.text
    events = await client.get(
        f"/v1/runs/{run_id}/events", headers=tenant.admin, params={"stop_on_pause": "true"}
    )
    texts["events"] = events.text
    with psycopg.connect(owner_conninfo) as conn:
        for table, column in (
            ("checkpoints", "thread_id"),
            ("checkpoint_writes", "thread_id"),
            ("checkpoint_blobs", "thread_id"),
            ("AuditLog", "workflowRunId"),
            ("WorkflowRun", "id"),
        ):
            query = sql.SQL("SELECT * FROM {} WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            )
            texts[table] = repr(conn.execute(query, (run_id,)).fetchall())
    return texts


def _leaks(texts: dict[str, str], secret: str) -> list[str]:
    forms = {secret, base64.b64encode(secret.encode()).decode(), secret.encode().hex()}
    return [where for where, text in texts.items() if any(form in text for form in forms)]


@pytest.mark.parametrize(
    ("path", "auth", "status"),
    [
        ("/fail", "bearer", "PAUSED_WITH_ERROR"),
        ("/fail", "header", "PAUSED_WITH_ERROR"),
        ("/echo", "bearer", "COMPLETED"),
        ("/echo", "header", "COMPLETED"),
        ("/echo", "basic", "COMPLETED"),
    ],
)
async def test_credential_value_never_leaves_the_tool_call(
    client: httpx.AsyncClient,
    app: FastAPI,
    live_url: str,
    api_tenant,
    endpoint: StubHTTPServer,
    database_conninfo: str,
    caplog: pytest.LogCaptureFixture,
    path: str,
    auth: str,
    status: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await api_tenant()
    secret = "crm-token-" + secrets.token_urlsafe(24)
    created = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={
            "name": "crm",
            "type": "API_KEY",
            "service_name": "CRM",
            "value": secret,
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    assert created.status_code == 201 and secret not in created.text
    workflow_id = await create_and_publish(
        client, tenant.designer, _tool_workflow(f"{endpoint.base_url}{path}", "crm", auth)
    )
    before = len(endpoint.requests)
    stream = await _sse_of_new_run(live_url, tenant.operator, workflow_id)
    sent = endpoint.requests[before:]
    assert sent, "the tool endpoint was not called"
    used = sent[0].headers.get("x-service-token") if auth == "header" else sent[0].headers["authorization"]
    if auth == "basic":
        used = base64.b64decode(used.removeprefix("Basic ")).decode()
    assert used is not None and secret in used  # the credential really was used

    run_id = json.loads(stream.split("data: ", 2)[1].split("\r\n", 1)[0].split("\n", 1)[0])["run_id"]
    run = await wait_for_status(client, tenant.admin, run_id, status)
    texts = await _everything_about(client, tenant, run_id, database_conninfo)
    texts["sse"] = stream
    texts["logs"] = caplog.text + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert not _leaks(texts, secret), f"{path}/{auth}: credential value found in {_leaks(texts, secret)}"
    if status == "COMPLETED":
        # The reflected header is in the state, with the value blanked.
        fetched = run["payload"]["fetched"]
        assert fetched["status_code"] == 200
        reflected = fetched["body"]["headers"]["x-service-token" if auth == "header" else "authorization"]
        assert "[REDACTED]" in reflected


async def test_credential_errors_and_bodies_never_echo_the_value(
    client: httpx.AsyncClient, api_tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await api_tenant()
    secret = "sk-" + secrets.token_urlsafe(24)
    bad_bodies = [
        {"name": "x", "type": "", "service_name": "S", "value": secret},
        {"name": "x", "type": "API_KEY", "service_name": "   ", "value": secret},
        {"name": "x", "type": "API_KEY", "value": secret},
        {"name": "x", "type": "API_KEY", "service_name": "S", "value": secret, "extra": secret},
        {"name": ["not", "a", "string"], "type": "API_KEY", "service_name": "S", "value": secret},
        {"name": "x" * 500, "type": "API_KEY", "service_name": "S", "value": secret},
    ]
    for body in bad_bodies:
        response = await client.post("/v1/credentials", headers=tenant.admin, json=body)
        assert response.status_code == 422, response.text
        assert secret not in response.text, body
    denied = await client.post(
        "/v1/credentials",
        headers=tenant.operator,
        json={"name": "x", "type": "API_KEY", "service_name": "S", "value": secret},
    )
    assert_problem(denied, 403)
    assert secret not in denied.text
    broken = await client.post(
        "/v1/credentials",
        headers={**tenant.admin, "Content-Type": "application/json"},
        content=f'{{"name": "x", "type": "API_KEY", "service_name": "S", "value": "{secret}",}}',
    )
    assert broken.status_code == 422 and secret not in broken.text
    assert secret not in caplog.text


async def test_passwords_and_hashes_never_come_back(
    client: httpx.AsyncClient, api_tenant, caplog: pytest.LogCaptureFixture, owner_conninfo: str
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await api_tenant()
    password = "Pw-" + secrets.token_urlsafe(16)
    email = f"new-{secrets.token_hex(4)}@example.com"
    bad_bodies = [
        {"email": "not-an-email", "password": password},
        {"email": email, "password": password, "role": "EMPEROR"},
        {"email": email, "password": password, "groups": [""]},
        {"email": email, "password": password, "is_admin": True},
        {"email": email, "password": password, "tenant_id": "another"},
        {"email": email, "password": password, "name": "x" * 500},
        {"email": email, "password": "short"},
        {"email": email, "password": password * 100},
        {"email": email, "password": 12345678},
    ]
    for body in bad_bodies:
        response = await client.post("/v1/users", headers=tenant.admin, json=body)
        assert response.status_code == 422, f"{body}: {response.text}"
        assert str(body["password"]) not in response.text, body
    created = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": email, "password": password, "groups": ["G"]}
    )
    assert created.status_code == 201
    duplicate = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": email, "password": password}
    )
    assert_problem(duplicate, 409)
    denied = await client.post(
        "/v1/users", headers=tenant.designer, json={"email": email, "password": password}
    )
    assert_problem(denied, 403)
    wrong = await client.post("/v1/auth/token", data={"username": email, "password": password + "x"})
    assert_problem(wrong, 401)
    for response in (duplicate, denied, wrong):
        assert password not in response.text

    login = await client.post("/v1/auth/token", data={"username": email, "password": password})
    assert login.status_code == 200
    user_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    readable = [
        await client.get("/v1/users", headers=tenant.admin, params={"limit": 200}),
        await client.get(f"/v1/users/{created.json()['id']}", headers=tenant.admin),
        await client.get("/v1/users/me", headers=user_headers),
        await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200}),
        created,
    ]
    with psycopg.connect(owner_conninfo) as conn:
        (stored_hash,) = conn.execute('SELECT password FROM "User" WHERE email = %s', (email,)).fetchone()
    assert stored_hash.startswith("$argon2")
    for response in readable:
        assert response.status_code in (200, 201)
        assert password not in response.text
        assert "$argon2" not in response.text
        assert stored_hash not in response.text
    assert "password" not in created.json()
    assert password not in caplog.text and stored_hash not in caplog.text


async def test_jwt_secret_never_in_errors(
    client: httpx.AsyncClient, api_tenant, server_settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = server_settings.jwt_secret.get_secret_value()
    responses = [
        await client.get("/v1/users/me", headers={"Authorization": "Bearer a.b.c"}),
        await client.get("/v1/users/me", headers={"Authorization": "Bearer " + "x" * 5000}),
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {secret}"}),
        await client.post("/v1/auth/token", data={"username": "a@b.example", "password": secret}),
        await client.get("/openapi.json"),
    ]
    for response in responses:
        assert secret not in response.text
    assert secret not in caplog.text
