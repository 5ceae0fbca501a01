"""Limits: request body size (413), page size cap, and that every route is behind the role matrix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from eawe.settings import Settings
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, start_run

BODY_LIMIT = 4096
PAGE_CAP = 3
RUNS_PER_MINUTE = 2
STUDIO_ORIGIN = "https://studio.example"


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "max_request_bytes": BODY_LIMIT,
            "page_size_max": PAGE_CAP,
            "run_rate_limit_per_minute": RUNS_PER_MINUTE,
            "cors_allow_origins": [STUDIO_ORIGIN],
        }
    )


async def test_body_over_limit_by_header_is_413(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    big = {"email": "x@example.com", "password": "p" * (BODY_LIMIT + 10)}
    response = await client.post("/v1/users", headers=tenant.admin, json=big)
    body = assert_problem(response, 413)
    assert str(BODY_LIMIT) in body["detail"]
    # Just under the limit is handled normally (here: a validation error about the password length).
    under = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": "x@example.com", "password": "p"}
    )
    assert under.status_code == 422


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "x@example.com", "password": "'
        for _ in range(10):
            yield b"p" * 1024
        yield b'"}'

    response = await client.post(
        "/v1/users", headers=tenant.admin | {"content-type": "application/json"}, content=chunks()
    )
    assert_problem(response, 413)


async def test_page_size_is_capped(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    for i in range(PAGE_CAP + 1):
        created = await client.post(
            "/v1/users",
            headers=tenant.admin,
            json={"email": f"cap{i}-{tenant.tenant_id}@example.com", "password": "long-enough"},
        )
        assert created.status_code == 201
    page = (await client.get("/v1/users", headers=tenant.admin, params={"limit": 1000})).json()
    assert len(page["items"]) == PAGE_CAP and page["next_cursor"]


async def test_run_creation_is_rate_limited_per_tenant(client: httpx.AsyncClient, api_tenant) -> None:
    busy, quiet = await api_tenant(), await api_tenant()
    busy_wf = await create_and_publish(client, busy.designer, REVIEWED_DRAFT)
    quiet_wf = await create_and_publish(client, quiet.designer, REVIEWED_DRAFT)
    for _ in range(RUNS_PER_MINUTE):
        await start_run(client, busy.operator, busy_wf, {"topic": "t"})
    limited = await client.post(
        "/v1/runs", headers=busy.operator, json={"workflow_id": busy_wf, "input": {"topic": "t"}}
    )
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    listed = await client.get("/v1/runs", headers=busy.operator)
    assert len(listed.json()["items"]) == RUNS_PER_MINUTE  # the refused run was not created
    assert (await start_run(client, quiet.operator, quiet_wf, {"topic": "t"}))["status"] == "PENDING"


PUBLIC_ROUTES = {("POST", "/v1/auth/token"), ("GET", "/health"), ("GET", "/ok"), ("GET", "/info")}


def _permissions(route: APIRoute) -> set[str]:
    found: set[str] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None and hasattr(dependant.call, "required_permission"):
            found.add(dependant.call.required_permission.value)
        stack.extend(dependant.dependencies)
    return found


def test_every_route_declares_a_permission(app: FastAPI) -> None:
    unguarded = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            if (method, route.path) in PUBLIC_ROUTES:
                continue
            if not _permissions(route):
                unguarded.append(f"{method} {route.path}")
    assert unguarded == []
    operation_ids = [r.unique_id for r in app.routes if isinstance(r, APIRoute)]
    assert len(operation_ids) == len(set(operation_ids))


async def test_cors_for_configured_browser_origins_and_openapi(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/assistants/search",
        headers={
            "Origin": STUDIO_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == STUDIO_ORIGIN
    other = await client.options(
        "/assistants/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/runs/{run_id}/events" in spec["paths"] and "/threads/{thread_id}/runs/stream" in spec["paths"]
    assert spec["paths"]["/v1/runs"]["post"]["operationId"] == "runs-create"
