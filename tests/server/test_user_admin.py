"""User administration over HTTP: deactivate/reactivate, role and groups, password reset and change,
internal-domain addresses, and login throttling per account and per client address."""

from __future__ import annotations

import httpx
import pytest

from eawe.db.models import Role
from eawe.settings import Settings
from tests.server.api_tenants import assert_problem, login

PER_ACCOUNT = 3
PER_ADDRESS = 6


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "login_rate_limit_per_account": f"{PER_ACCOUNT}/minute",
            "login_rate_limit_per_address": f"{PER_ADDRESS}/minute",
        }
    )


async def _audit_actions(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    page = await client.get("/v1/audit-logs", headers=headers, params={"limit": 200})
    assert page.status_code == 200, page.text
    return [row["action"] for row in page.json()["items"]]


async def test_deactivate_reactivate_role_and_groups(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    operator = tenant.users[Role.OPERATOR]
    assert (await client.get("/v1/users/me", headers=tenant.operator)).status_code == 200

    off = await client.patch(f"/v1/users/{operator.id}", headers=tenant.admin, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert_problem(await client.get("/v1/users/me", headers=tenant.operator), 401)  # token dead at once
    refused = await client.post(
        "/v1/auth/token", data={"username": operator.email, "password": tenant.passwords[Role.OPERATOR]}
    )
    assert_problem(refused, 401)

    on = await client.patch(f"/v1/users/{operator.id}", headers=tenant.admin, json={"is_active": True})
    assert on.status_code == 200 and on.json()["is_active"] is True
    assert_problem(await client.get("/v1/users/me", headers=tenant.operator), 401)  # old token stays dead
    fresh = await login(client, operator.email, tenant.passwords[Role.OPERATOR])

    changed = await client.patch(
        f"/v1/users/{operator.id}",
        headers=tenant.admin,
        json={"role": "DESIGNER", "groups": ["Finance", "Staff"], "name": "Olivia"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "DESIGNER" and changed.json()["groups"] == ["Finance", "Staff"]
    me = (await client.get("/v1/users/me", headers=fresh)).json()
    assert me["role"] == "DESIGNER" and me["name"] == "Olivia"
    # The new role applies to the same token at once: designers may not start runs.
    assert_problem(await client.post("/v1/runs", headers=fresh, json={"workflow_id": "x"}), 403)

    actions = await _audit_actions(client, tenant.admin)
    assert actions.count("USER_UPDATED") == 3


async def test_user_admin_guards(client: httpx.AsyncClient, api_tenant) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    admin = tenant.users[Role.ADMINISTRATOR]
    for body, field in (({"role": "OPERATOR"}, "role"), ({"is_active": False}, "is_active")):
        assert_problem(
            await client.patch(f"/v1/users/{admin.id}", headers=tenant.admin, json=body), 409, field
        )
    assert_problem(
        await client.patch(f"/v1/users/{admin.id}", headers=tenant.admin, json={"role": "OWNER"}), 422, "role"
    )
    assert_problem(
        await client.patch(f"/v1/users/{admin.id}", headers=tenant.admin, json={"groups": [" "]}), 422
    )
    for headers in (tenant.designer, tenant.operator):
        denied = await client.patch(
            f"/v1/users/{tenant.users[Role.OPERATOR].id}", headers=headers, json={"role": "ADMINISTRATOR"}
        )
        assert_problem(denied, 403)
        assert_problem(
            await client.post(
                f"/v1/users/{admin.id}/password", headers=headers, json={"new_password": "x" * 12}
            ),
            403,
        )
    foreign = other.users[Role.OPERATOR].id
    assert_problem(await client.patch(f"/v1/users/{foreign}", headers=tenant.admin, json={"name": "x"}), 404)


async def test_password_reset_and_change(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    operator = tenant.users[Role.OPERATOR]
    short = await client.post(
        f"/v1/users/{operator.id}/password", headers=tenant.admin, json={"new_password": "short"}
    )
    assert_problem(short, 422, "new_password")
    reset = await client.post(
        f"/v1/users/{operator.id}/password", headers=tenant.admin, json={"new_password": "reset-by-admin-1"}
    )
    assert reset.status_code == 204
    assert_problem(await client.get("/v1/users/me", headers=tenant.operator), 401)  # sessions ended
    old = await client.post(
        "/v1/auth/token", data={"username": operator.email, "password": tenant.passwords[Role.OPERATOR]}
    )
    assert_problem(old, 401)
    headers = await login(client, operator.email, "reset-by-admin-1")

    wrong = await client.post(
        "/v1/users/me/password",
        headers=headers,
        json={"current_password": "not-it-at-all", "new_password": "chosen-by-me-22"},
    )
    assert_problem(wrong, 422, "current_password")
    mine = await client.post(
        "/v1/users/me/password",
        headers=headers,
        json={"current_password": "reset-by-admin-1", "new_password": "chosen-by-me-22"},
    )
    assert mine.status_code == 204, mine.text
    assert_problem(await client.get("/v1/users/me", headers=headers), 401)
    await login(client, operator.email, "chosen-by-me-22")
    actions = await _audit_actions(client, tenant.admin)
    assert "USER_PASSWORD_RESET" in actions and "USER_PASSWORD_CHANGED" in actions
    audit_text = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).text
    assert "chosen-by-me-22" not in audit_text and "reset-by-admin-1" not in audit_text


async def test_short_password_refused_by_schema_and_internal_domains_accepted(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    short = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": "a@corp.local", "password": "p"}
    )
    assert_problem(short, 422, "password")
    for email in ("admin@corp.local", "x@acme.test", "ops@build.internal"):
        unique = email.replace("@", f"+{tenant.tenant_id[-6:]}@")
        made = await client.post(
            "/v1/users", headers=tenant.admin, json={"email": unique, "password": "long-enough-pw"}
        )
        assert made.status_code == 201, made.text
        await login(client, unique, "long-enough-pw")
    for bad in ("no-at-sign", "a@b@c.io", "x@host.invalid", "x@site.onion"):
        assert_problem(
            await client.post(
                "/v1/users", headers=tenant.admin, json={"email": bad, "password": "long-enough-pw"}
            ),
            422,
            "email",
        )


async def test_login_throttled_per_account(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    operator = tenant.users[Role.OPERATOR]
    # Attempts arrive from different client addresses, so only the per-account budget applies.
    transport = client._transport  # the module's ASGI app
    for attempt in range(PER_ACCOUNT):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=transport.app, client=(f"10.0.0.{attempt + 1}", 1234)),  # type: ignore[attr-defined]
            base_url="http://eawe.test",
        ) as other_address:
            bad = await other_address.post(
                "/v1/auth/token", data={"username": operator.email.upper(), "password": "guess-guess"}
            )
            assert_problem(bad, 401)
    throttled = await client.post(
        "/v1/auth/token", data={"username": operator.email, "password": tenant.passwords[Role.OPERATOR]}
    )
    body = assert_problem(throttled, 429)
    assert "account" in body["detail"] and int(throttled.headers["retry-after"]) >= 1
    # Another account is unaffected.
    await login(client, tenant.users[Role.DESIGNER].email, tenant.passwords[Role.DESIGNER])


async def test_login_throttled_per_address(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    transport = client._transport
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=transport.app, client=("192.0.2.7", 999)),  # type: ignore[attr-defined]
        base_url="http://eawe.test",
    ) as attacker:
        for index in range(PER_ADDRESS):
            bad = await attacker.post(
                "/v1/auth/token", data={"username": f"nobody{index}@corp.local", "password": "guess-guess"}
            )
            assert_problem(bad, 401)
        throttled = await attacker.post(
            "/v1/auth/token",
            data={
                "username": tenant.users[Role.ADMINISTRATOR].email,
                "password": tenant.passwords[Role.ADMINISTRATOR],
            },
        )
        body = assert_problem(throttled, 429)
        assert "address" in body["detail"] and int(throttled.headers["retry-after"]) >= 1
    # The legitimate client at another address still logs in.
    await login(client, tenant.users[Role.ADMINISTRATOR].email, tenant.passwords[Role.ADMINISTRATOR])
