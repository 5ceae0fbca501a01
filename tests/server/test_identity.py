"""Health, login, JWT checks, users, API keys and the role matrix on them — over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from eawe.db.models import Role
from eawe.settings import Settings
from tests.server.api_tenants import assert_problem, login


async def test_health_and_unknown_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert_problem(await client.get("/v1/nope"), 404)


async def test_login_issues_short_lived_pinned_jwt(
    client: httpx.AsyncClient, api_tenant, server_settings
) -> None:
    tenant = await api_tenant()
    user = tenant.users[Role.OPERATOR]
    response = await client.post(
        "/v1/auth/token", data={"username": user.email, "password": tenant.passwords[Role.OPERATOR]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == server_settings.access_token_minutes * 60
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user.id and claims["tid"] == tenant.tenant_id
    assert claims["iss"] == server_settings.jwt_issuer and claims["aud"] == server_settings.jwt_audience
    assert claims["exp"] - claims["iat"] == server_settings.access_token_minutes * 60


async def test_login_failures_are_401_problems(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    email = tenant.users[Role.OPERATOR].email
    wrong = await client.post("/v1/auth/token", data={"username": email, "password": "not-the-password"})
    assert_problem(wrong, 401)
    assert wrong.headers["www-authenticate"] == "Bearer"
    unknown = await client.post(
        "/v1/auth/token", data={"username": "nobody@example.com", "password": "whatever1"}
    )
    assert_problem(unknown, 401)
    assert unknown.json()["detail"] == wrong.json()["detail"]  # no user enumeration
    assert_problem(await client.post("/v1/auth/token", data={"username": email}), 422, "password")


def _forge(settings: Settings, tenant_id: str, user_id: str, **overrides) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "tid": tenant_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    secret = overrides.pop("_secret", settings.jwt_secret.get_secret_value())
    algorithm = overrides.pop("_alg", "HS256")
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


async def test_bad_tokens_are_refused(client: httpx.AsyncClient, api_tenant, server_settings) -> None:
    tenant = await api_tenant()
    user = tenant.users[Role.ADMINISTRATOR]
    good = _forge(server_settings, tenant.tenant_id, user.id)
    assert (await client.get("/v1/users/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
    past = datetime.now(UTC) - timedelta(hours=1)
    bad_tokens = {
        "expired": _forge(
            server_settings, tenant.tenant_id, user.id, exp=past, iat=past - timedelta(minutes=5)
        ),
        "wrong audience": _forge(server_settings, tenant.tenant_id, user.id, aud="someone-else"),
        "wrong issuer": _forge(server_settings, tenant.tenant_id, user.id, iss="evil"),
        "no exp": _forge(server_settings, tenant.tenant_id, user.id, exp=None),
        "wrong key": _forge(server_settings, tenant.tenant_id, user.id, _secret="x" * 48),
        "alg none": jwt.encode({"sub": user.id, "tid": tenant.tenant_id}, None, algorithm="none"),
        "other tenant": _forge(server_settings, "c-not-my-tenant", user.id),
        "garbage": "not.a.jwt",
    }
    for label, token in bad_tokens.items():
        response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, label
    assert_problem(await client.get("/v1/users/me"), 401)
    assert_problem(await client.get("/v1/users/me", headers={"Authorization": "Basic abc"}), 401)


async def test_users_create_list_get_me(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    created = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={
            "email": "New.Person@Example.com",
            "password": "long-enough-pw",
            "name": "New",
            "role": "DESIGNER",
            "groups": ["Finance", "HR"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "new.person@example.com" and body["role"] == "DESIGNER"
    assert body["groups"] == ["Finance", "HR"] and "password" not in body
    assert (await login(client, "new.person@example.com", "long-enough-pw"))["Authorization"].startswith(
        "Bearer "
    )

    got = await client.get(f"/v1/users/{body['id']}", headers=tenant.admin)
    assert got.status_code == 200 and got.json()["id"] == body["id"]
    listed = await client.get("/v1/users", headers=tenant.admin, params={"role": "DESIGNER"})
    assert {u["id"] for u in listed.json()["items"]} == {body["id"], tenant.users[Role.DESIGNER].id}
    for role, headers in tenant.headers.items():
        me = await client.get("/v1/users/me", headers=headers)
        assert me.status_code == 200 and me.json()["role"] == role.value

    duplicate = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": "new.person@example.com", "password": "long-enough-pw"},
    )
    assert_problem(duplicate, 409, "email")


async def test_users_validation_names_the_field(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    bad_email = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": "nope", "password": "long-enough"}
    )
    assert_problem(bad_email, 422, "email")
    short = await client.post(
        "/v1/users", headers=tenant.admin, json={"email": "a@example.com", "password": "x"}
    )
    assert_problem(short, 422, "password")
    bad_role = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": "a@example.com", "password": "long-enough", "role": "KING"},
    )
    body = assert_problem(bad_role, 422, "role")
    assert body["errors"][0]["location"] == "body"
    missing = await client.post("/v1/users", headers=tenant.admin, json={"email": "a@example.com"})
    assert_problem(missing, 422, "password")
    bad_group = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": "b@example.com", "password": "long-enough", "groups": ["ok", 7]},
    )
    assert_problem(bad_group, 422, "groups[1]")
    assert_problem(await client.get("/v1/users", headers=tenant.admin, params={"limit": 0}), 422, "limit")


async def test_user_routes_role_denials(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    admin_id = tenant.users[Role.ADMINISTRATOR].id
    for headers in (tenant.designer, tenant.operator):
        assert_problem(await client.get("/v1/users", headers=headers), 403)
        assert_problem(await client.get(f"/v1/users/{admin_id}", headers=headers), 403)
        denied = await client.post(
            "/v1/users", headers=headers, json={"email": "x@example.com", "password": "long-enough"}
        )
        assert_problem(denied, 403)


async def test_users_cross_tenant_is_404(client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    foreign = theirs.users[Role.OPERATOR].id
    assert_problem(await client.get(f"/v1/users/{foreign}", headers=mine.admin), 404)
    listed = await client.get("/v1/users", headers=mine.admin)
    assert foreign not in {u["id"] for u in listed.json()["items"]}


async def test_user_list_pagination(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    for i in range(3):
        response = await client.post(
            "/v1/users",
            headers=tenant.admin,
            json={"email": f"p{i}-{tenant.tenant_id}@example.com", "password": "long-enough"},
        )
        assert response.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/users", headers=tenant.admin, params=params)).json()
        assert len(page["items"]) <= 2
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6  # 3 role users + 3 new


async def test_api_keys_lifecycle(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    operator = tenant.users[Role.OPERATOR]
    created = await client.post(
        "/v1/api-keys", headers=tenant.admin, json={"name": "ci robot", "user_id": operator.id}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(f"eawe_{body['prefix']}_") and body["user_id"] == operator.id

    listed = await client.get("/v1/api-keys", headers=tenant.admin)
    assert key not in listed.text and body["id"] in {k["id"] for k in listed.json()["items"]}

    for headers in ({"X-Api-Key": key}, {"Authorization": f"Bearer {key}"}):
        me = await client.get("/v1/users/me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] == operator.id
    # The key carries its user's role: an operator key cannot list users.
    assert_problem(await client.get("/v1/users", headers={"X-Api-Key": key}), 403)
    tampered = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    assert_problem(await client.get("/v1/users/me", headers={"X-Api-Key": tampered}), 401)

    revoked = await client.delete(f"/v1/api-keys/{body['id']}", headers=tenant.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_problem(await client.get("/v1/users/me", headers={"X-Api-Key": key}), 401)

    # A JWT works in X-Api-Key too (what the LangGraph SDK sends).
    jwt_only = tenant.operator["Authorization"].removeprefix("Bearer ")
    assert (await client.get("/v1/users/me", headers={"X-Api-Key": jwt_only})).status_code == 200


async def test_api_keys_denials_and_isolation(client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    for headers in (mine.designer, mine.operator):
        assert_problem(await client.post("/v1/api-keys", headers=headers, json={"name": "k"}), 403)
        assert_problem(await client.get("/v1/api-keys", headers=headers), 403)
        assert_problem(await client.delete("/v1/api-keys/whatever", headers=headers), 403)
    foreign_user = await client.post(
        "/v1/api-keys", headers=mine.admin, json={"name": "k", "user_id": theirs.users[Role.OPERATOR].id}
    )
    assert_problem(foreign_user, 404)
    theirs_key = (await client.post("/v1/api-keys", headers=theirs.admin, json={"name": "k"})).json()
    assert_problem(await client.delete(f"/v1/api-keys/{theirs_key['id']}", headers=mine.admin), 404)
    assert_problem(await client.post("/v1/api-keys", headers=mine.admin, json={"name": ""}), 422, "name")


def test_first_start_message_says_where_things_are(server_settings) -> None:
    from server.app import first_start_message

    text = first_start_message(server_settings, "0.0.0.0", 8123)  # noqa: S104 - display only
    assert "http://127.0.0.1:8123/docs" in text and "eawe tenant create" in text
    assert "/v1/auth/token" in text
    assert max(len(line) for line in text.splitlines()) < 80
