"""Role enforcement and authentication edges, attacked through the real API.

* DESIGNER and OPERATOR calling administrator routes (and each other's) get 403, and nothing changes;
* an OPERATOR cannot decide a task assigned to another user or to another role (REST or Agent Protocol);
* revoked API keys and keys or tokens of deactivated users stop working at once (also when cached);
* forged JWTs (alg none, empty or wrong key, another algorithm, wrong aud/iss/typ, expired,
  tenant/user mismatch) are 401 and the error never shows the signing secret;
* a short JWT signing secret is refused at startup.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from eawe.db.models import Role, User
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from tests.conftest import TEST_CREDENTIAL_KEYS
from tests.server.api_tenants import ApiTenant, assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, start_run, wait_for_status


def _routes(tenant: ApiTenant, ids: dict[str, str]) -> dict[str, list[tuple[str, str, Any]]]:
    admin_only = [
        ("GET", "/v1/users", None),
        ("GET", f"/v1/users/{ids['user']}", None),
        (
            "POST",
            "/v1/users",
            {"email": "x@example.com", "password": "long-enough-1", "role": "ADMINISTRATOR"},
        ),
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/api-keys", {"name": "mine", "user_id": ids["admin"]}),
        ("DELETE", f"/v1/api-keys/{ids['key']}", None),
        ("GET", "/v1/credentials", None),
        ("GET", f"/v1/credentials/{ids['credential']}", None),
        (
            "POST",
            "/v1/credentials",
            {
                "name": "n",
                "type": "API_KEY",
                "service_name": "S",
                "value": "v",
                "allowed_hosts": ["127.0.0.1"],
            },
        ),
        ("DELETE", f"/v1/credentials/{ids['credential']}", None),
        ("GET", "/v1/audit-logs", None),
        ("GET", "/v1/audit-logs/verify", None),
    ]
    designer_only = [
        ("POST", "/v1/workflows", {"name": "w", "definition_graph": REVIEWED_DRAFT}),
        ("POST", "/v1/workflows/validate", {"definition_graph": REVIEWED_DRAFT}),
        ("PATCH", f"/v1/workflows/{ids['workflow']}", {"description": "changed"}),
        ("POST", f"/v1/workflows/{ids['workflow']}/publish", None),
        ("POST", f"/v1/workflows/{ids['workflow']}/archive", None),
        ("DELETE", f"/v1/workflows/{ids['workflow']}", None),
    ]
    operator_only = [
        ("POST", "/v1/runs", {"workflow_id": ids["workflow"], "input": {"topic": "t"}}),
        ("POST", f"/v1/runs/{ids['run']}/cancel", None),
        ("POST", f"/v1/runs/{ids['run']}/retry", None),
        ("GET", "/v1/hitl-tasks", None),
        ("GET", "/v1/hitl-tasks/inbox", None),
        ("GET", f"/v1/hitl-tasks/{ids['task']}", None),
        ("POST", f"/v1/hitl-tasks/{ids['task']}/decision", {"decision": "approve"}),
        ("POST", "/threads", {}),
        ("POST", "/runs", {"assistant_id": ids["workflow"], "input": {"topic": "t"}}),
        ("POST", "/runs/wait", {"assistant_id": ids["workflow"], "input": {"topic": "t"}}),
        ("POST", f"/threads/{ids['run']}/runs", {"command": {"resume": {"decision": "approve"}}}),
        ("POST", f"/threads/{ids['run']}/runs/{ids['run']}/cancel", None),
    ]
    return {
        "designer": admin_only + operator_only,
        "operator": admin_only + designer_only,
    }


async def test_role_matrix_denies_and_changes_nothing(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant(groups=["Everyone"])
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "roles"})
    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    credential = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={
            "name": "crm",
            "type": "API_KEY",
            "service_name": "CRM",
            "value": "s3cr3t-value-xyz",
            "allowed_hosts": ["127.0.0.1"],
        },
    )
    key = await client.post("/v1/api-keys", headers=tenant.admin, json={"name": "k"})
    ids = {
        "user": tenant.users[Role.OPERATOR].id,
        "admin": tenant.users[Role.ADMINISTRATOR].id,
        "key": key.json()["id"],
        "credential": credential.json()["id"],
        "workflow": workflow_id,
        "run": run["id"],
        "task": paused["pending_tasks"][0],
    }
    audit_before = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).json()
    for who, routes in _routes(tenant, ids).items():
        headers = tenant.designer if who == "designer" else tenant.operator
        for method, path, body in routes:
            response = await client.request(method, path, headers=headers, json=body)
            body_text = response.text
            assert response.status_code == 403, f"{who} {method} {path}: {response.status_code} {body_text}"
            assert_problem(response, 403)
    # Nothing happened: the same audit trail, the task still pending, the workflow still active.
    audit_after = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).json()
    assert [row["id"] for row in audit_after["items"]] == [row["id"] for row in audit_before["items"]]
    task = (await client.get(f"/v1/hitl-tasks/{ids['task']}", headers=tenant.admin)).json()
    assert task["status"] == "PENDING"
    workflow = (await client.get(f"/v1/workflows/{workflow_id}", headers=tenant.admin)).json()
    assert workflow["status"] == "ACTIVE" and workflow["description"] != "changed"
    # A designer cannot make itself an administrator through any body field.
    me = await client.get("/v1/users/me", headers=tenant.designer)
    assert me.json()["role"] == "DESIGNER"


def _assigned_to(user: str | None = None, role: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"review": "draft"}
    if user:
        config["assignee_user"] = user
    if role:
        config["assignee_role"] = role
    return {
        **REVIEWED_DRAFT,
        "nodes": [
            REVIEWED_DRAFT["nodes"][0],
            {"id": "review", "type": "approval", "config": config},
            REVIEWED_DRAFT["nodes"][2],
        ],
    }


async def test_operator_cannot_decide_someone_elses_task(
    client: httpx.AsyncClient, app: FastAPI, api_tenant, tenant_factory
) -> None:
    tenant = await api_tenant()
    other_operator = await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={
            "email": f"other-{secrets.token_hex(4)}@example.com",
            "password": "other-operator-1",
            "role": "OPERATOR",
        },
    )
    assert other_operator.status_code == 201
    for label, definition in {
        "another user": _assigned_to(user=other_operator.json()["id"]),
        "another role": _assigned_to(role="ADMINISTRATOR"),
    }.items():
        workflow_id = await create_and_publish(client, tenant.designer, definition, name=label)
        run = await start_run(client, tenant.operator, workflow_id, {"topic": label})
        paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
        task_id = paused["pending_tasks"][0]
        inbox = (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"]
        assert task_id not in [t["id"] for t in inbox], label
        for decision in ({"decision": "approve"}, {"decision": "edit", "corrected_output": "mine"}):
            denied = await client.post(
                f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json=decision
            )
            assert_problem(denied, 403)
        resumed = await client.post(
            f"/threads/{run['id']}/runs",
            headers=tenant.operator,
            json={"command": {"resume": {"decision": "approve"}}},
        )
        assert_problem(resumed, 403)
        task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.admin)).json()
        assert task["status"] == "PENDING" and task["decided_by_id"] is None, label
        state = (await client.get(f"/v1/runs/{run['id']}", headers=tenant.admin)).json()
        assert state["status"] == "PAUSED_FOR_APPROVAL", label


async def _set_active(app: FastAPI, user_id: str, active: bool) -> None:
    with system_scope():  # test setup/inspection as the operator
        async with app.state.resources.database.transaction() as session:
            await session.execute(update(User).where(User.id == user_id).values(is_active=active))


async def test_revoked_keys_and_deactivated_users_stop_at_once(
    client: httpx.AsyncClient, app: FastAPI, api_tenant
) -> None:
    tenant = await api_tenant()
    operator = tenant.users[Role.OPERATOR]
    created = await client.post(
        "/v1/api-keys", headers=tenant.admin, json={"name": "bot", "user_id": operator.id}
    )
    key = created.json()["key"]
    as_key = {"Authorization": f"Bearer {key}"}
    as_header = {"X-Api-Key": key}
    # Used once, so the server has cached that the hash verified.
    assert (await client.get("/v1/users/me", headers=as_key)).status_code == 200
    assert (await client.get("/v1/users/me", headers=as_header)).status_code == 200

    await _set_active(app, operator.id, False)
    try:
        for headers in (as_key, as_header, tenant.operator):
            denied = await client.get("/v1/users/me", headers=headers)
            assert_problem(denied, 401)
            assert key not in denied.text
        login = await client.post(
            "/v1/auth/token",
            data={"username": operator.email, "password": tenant.passwords[Role.OPERATOR]},
        )
        assert_problem(login, 401)
        assert tenant.passwords[Role.OPERATOR] not in login.text
    finally:
        await _set_active(app, operator.id, True)
    assert (await client.get("/v1/users/me", headers=as_key)).status_code == 200

    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=tenant.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    for headers in (as_key, as_header):
        assert_problem(await client.get("/v1/users/me", headers=headers), 401)
    # A key that differs in its secret part only is not the key.
    prefix = key.rsplit("_", 1)[0]
    other = await client.post("/v1/api-keys", headers=tenant.admin, json={"name": "bot2"})
    forged = f"{other.json()['key'].rsplit('_', 1)[0]}_{secrets.token_urlsafe(32)}"
    assert_problem(await client.get("/v1/users/me", headers={"X-Api-Key": forged}), 401)
    assert prefix != forged.rsplit("_", 1)[0]


def _claims(settings: Settings, tenant_id: str, user_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "tid": tenant_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_forged_tokens_are_refused_without_revealing_the_secret(
    client: httpx.AsyncClient, api_tenant, server_settings: Settings
) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    admin = mine.users[Role.ADMINISTRATOR]
    secret = server_settings.jwt_secret.get_secret_value()
    past = datetime.now(UTC) - timedelta(hours=2)

    def signed(claims: dict[str, Any], key: str = secret, alg: str = "HS256") -> str:
        return jwt.encode(claims, key, algorithm=alg)

    def unsigned(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, None, algorithm="none")

    def with_empty_key(claims: dict[str, Any]) -> str:
        import base64
        import hashlib
        import hmac
        import json

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims, default=lambda d: int(d.timestamp())).encode())
        signature = hmac.new(b"", f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(signature)}"

    good = _claims(server_settings, mine.tenant_id, admin.id)
    assert (
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {signed(good)}"})
    ).status_code == 200
    forged = {
        "alg none": unsigned(good),
        "alg None header with signature": signed(good).rsplit(".", 1)[0] + ".",
        "HS256 with empty key": with_empty_key(good),
        "HS512 with the real secret": signed(good, alg="HS512"),
        "HS384 with the real secret": signed(good, alg="HS384"),
        "wrong audience": signed(_claims(server_settings, mine.tenant_id, admin.id, aud="other-api")),
        "no audience": signed(_claims(server_settings, mine.tenant_id, admin.id, aud=None)),
        "wrong issuer": signed(_claims(server_settings, mine.tenant_id, admin.id, iss="evil")),
        "expired": signed(
            _claims(
                server_settings, mine.tenant_id, admin.id, exp=past, iat=past - timedelta(minutes=1), nbf=None
            )
        ),
        "not yet valid": signed(
            _claims(server_settings, mine.tenant_id, admin.id, nbf=datetime.now(UTC) + timedelta(hours=1))
        ),
        "refresh-type token": signed(_claims(server_settings, mine.tenant_id, admin.id, typ="refresh")),
        "their tenant, my user": signed(_claims(server_settings, theirs.tenant_id, admin.id)),
        "my tenant, their user": signed(
            _claims(server_settings, mine.tenant_id, theirs.users[Role.ADMINISTRATOR].id)
        ),
        "tenant id as a list": signed(_claims(server_settings, [mine.tenant_id], admin.id)),  # type: ignore[arg-type]
        "wrong key": signed(good, key=secret + "x"),
    }
    for label, token in forged.items():
        for headers in ({"Authorization": f"Bearer {token}"}, {"X-Api-Key": token}):
            response = await client.get("/v1/users/me", headers=headers)
            assert response.status_code == 401, f"{label}: {response.status_code} {response.text}"
            assert_problem(response, 401)
            assert secret not in response.text, label
            assert secret[:12] not in response.text, label


def test_short_jwt_secret_is_refused(database_conninfo: str) -> None:
    """An HS256 key shorter than 32 bytes can be brute-forced offline from any issued token."""
    for weak in ("", "changeme", "x" * 31):
        with pytest.raises(ValueError, match="EAWE_JWT_SECRET") as info:
            Settings(
                environment="production",
                database_url=database_conninfo,
                jwt_secret=weak,
                credential_keys=TEST_CREDENTIAL_KEYS,
                _env_file=None,
            )
        assert not weak or weak not in str(info.value)
        with pytest.raises(ValueError, match="EAWE_JWT_SECRET"):
            Settings(environment="development", jwt_secret=weak, _env_file=None)
    strong = "s" * 32
    assert Settings(environment="development", jwt_secret=strong, _env_file=None).jwt_secret is not None
