"""A credential goes only to the hosts (and methods) an administrator bound it to: a designer who
points a ``tool`` node that uses it at any other host gets a failed step, and the host gets nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.engine.stub_http import StubHTTPServer
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status

SECRET = "erp-token-3f9c1d-never-elsewhere"


@pytest.fixture
def stubs() -> Iterator[tuple[StubHTTPServer, StubHTTPServer]]:
    trusted = StubHTTPServer(lambda r: (200, {"ok": True})).start()
    attacker = StubHTTPServer(lambda r: (200, {"ok": True})).start()
    yield trusted, attacker
    trusted.stop()
    attacker.stop()


def _port(stub: StubHTTPServer) -> int:
    return int(stub.base_url.rsplit(":", 1)[1])


def _uses_credential(url: str, method: str = "GET") -> dict[str, Any]:
    return linear(
        {"topic": {"type": "string"}, "fetched": {"type": "any"}},
        [
            {
                "id": "call",
                "type": "tool",
                "config": {
                    "request": {"method": method, "url": url, "credential": "erp"},
                    "output": "fetched",
                },
                "retry": {"max_attempts": 1},
            }
        ],
    )


async def test_credential_only_reaches_its_allowed_host(
    client: httpx.AsyncClient, api_tenant, stubs: tuple[StubHTTPServer, StubHTTPServer]
) -> None:
    trusted, attacker = stubs
    tenant = await api_tenant()
    created = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={
            "name": "erp",
            "type": "API_KEY",
            "service_name": "ERP",
            "value": SECRET,
            "allowed_hosts": [f"127.0.0.1:{_port(trusted)}"],
            "allowed_methods": ["GET"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["allowed_hosts"] == [f"127.0.0.1:{_port(trusted)}"]

    good = await create_and_publish(client, tenant.designer, _uses_credential(f"{trusted.base_url}/r"), "ok")
    run = await start_run(client, tenant.operator, good, {"topic": "t"})
    await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")
    assert trusted.requests[-1].headers["authorization"] == f"Bearer {SECRET}"

    evil = await create_and_publish(client, tenant.designer, _uses_credential(f"{attacker.base_url}/x"), "x")
    run = await start_run(client, tenant.operator, evil, {"topic": "t"})
    failed = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_WITH_ERROR", "FAILED")
    assert attacker.requests == [], (
        "the request (and the secret) reached a host the credential is not bound to"
    )
    assert failed["error"]["node_id"] == "call"
    assert "may not be sent to" in str(failed["error"]) and SECRET not in str(failed)

    # Right host, wrong method: refused as well.
    post = await create_and_publish(
        client, tenant.designer, _uses_credential(f"{trusted.base_url}/w", "POST"), "post"
    )
    before = len(trusted.requests)
    run = await start_run(client, tenant.operator, post, {"topic": "t"})
    await wait_for_status(client, tenant.operator, run["id"], "PAUSED_WITH_ERROR", "FAILED")
    assert len(trusted.requests) == before

    # Only an administrator re-binds it; then the same workflow works.
    credential_id = created.json()["id"]
    assert_problem(
        await client.patch(
            f"/v1/credentials/{credential_id}", headers=tenant.designer, json={"allowed_hosts": ["127.0.0.1"]}
        ),
        403,
    )
    rebound = await client.patch(
        f"/v1/credentials/{credential_id}", headers=tenant.admin, json={"allowed_hosts": ["127.0.0.1"]}
    )
    assert rebound.status_code == 200 and rebound.json()["allowed_hosts"] == ["127.0.0.1"]
    run = await start_run(client, tenant.operator, evil, {"topic": "t"})
    await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")
    assert attacker.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


async def test_allowed_hosts_are_required_and_checked(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    base = {"name": "x", "type": "API_KEY", "service_name": "S", "value": SECRET}
    assert_problem(
        await client.post("/v1/credentials", headers=tenant.admin, json=base), 422, "allowed_hosts"
    )
    assert_problem(
        await client.post("/v1/credentials", headers=tenant.admin, json=base | {"allowed_hosts": []}),
        422,
        "allowed_hosts",
    )
    bad = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json=base | {"allowed_hosts": ["api.example.com", "https://x/"]},
    )
    assert_problem(bad, 422, "allowed_hosts[1]")
    assert SECRET not in bad.text
    wildcard = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json=base | {"allowed_hosts": ["*.Corp.Local", "API.example.com:8443"]},
    )
    assert wildcard.status_code == 201 and wildcard.json()["allowed_hosts"] == [
        "*.corp.local",
        "api.example.com:8443",
    ]
