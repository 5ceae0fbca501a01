"""Credentials and audit logs over real HTTP: happy paths, denials, isolation, no secret leaks."""

from __future__ import annotations

import asyncio

import httpx

from tests.server.api_tenants import assert_problem

SECRET = "sk-live-DO-NOT-LEAK-8e5b1c"


async def test_credentials_lifecycle_never_returns_the_secret(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    created = await client.post(
        "/v1/credentials",
        headers=tenant.admin,
        json={"name": "crm", "type": "API_KEY", "service_name": "SALESFORCE", "value": SECRET},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert SECRET not in created.text and "value" not in body and "encrypted_value" not in body
    assert body["service_name"] == "SALESFORCE" and body["key_version"] == 1

    listed = await client.get("/v1/credentials", headers=tenant.admin)
    assert listed.status_code == 200 and SECRET not in listed.text
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]
    got = await client.get(f"/v1/credentials/{body['id']}", headers=tenant.admin)
    assert got.status_code == 200 and SECRET not in got.text

    audit = await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})
    assert SECRET not in audit.text

    deleted = await client.delete(f"/v1/credentials/{body['id']}", headers=tenant.admin)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/v1/credentials/{body['id']}", headers=tenant.admin), 404)


async def test_credentials_validation_denials_isolation(client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    missing = await client.post(
        "/v1/credentials", headers=mine.admin, json={"type": "API_KEY", "service_name": "X"}
    )
    body = assert_problem(missing, 422, "value")
    assert SECRET not in str(body)
    blank = await client.post(
        "/v1/credentials", headers=mine.admin, json={"type": " ", "service_name": "X", "value": SECRET}
    )
    assert_problem(blank, 422, "type")
    assert SECRET not in blank.text
    for headers in (mine.designer, mine.operator):
        assert_problem(await client.get("/v1/credentials", headers=headers), 403)
        denied = await client.post(
            "/v1/credentials", headers=headers, json={"type": "A", "service_name": "B", "value": SECRET}
        )
        assert_problem(denied, 403)
        assert_problem(await client.delete("/v1/credentials/x", headers=headers), 403)
        assert_problem(await client.get("/v1/credentials/x", headers=headers), 403)
    theirs_cred = (
        await client.post(
            "/v1/credentials", headers=theirs.admin, json={"type": "A", "service_name": "B", "value": SECRET}
        )
    ).json()
    assert_problem(await client.get(f"/v1/credentials/{theirs_cred['id']}", headers=mine.admin), 404)
    assert_problem(await client.delete(f"/v1/credentials/{theirs_cred['id']}", headers=mine.admin), 404)
    assert theirs_cred["id"] not in (await client.get("/v1/credentials", headers=mine.admin)).text


async def test_audit_log_query_and_verify(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    other = await api_tenant()
    await client.post(
        "/v1/users",
        headers=tenant.admin,
        json={"email": f"audited-{tenant.tenant_id}@example.com", "password": "long-enough"},
    )
    created = await client.get("/v1/audit-logs", headers=tenant.admin, params={"action": "USER_CREATED"})
    assert created.status_code == 200
    items = created.json()["items"]
    assert items and all(i["action"] == "USER_CREATED" for i in items)
    logins = await client.get(
        "/v1/audit-logs",
        headers=tenant.admin,
        params={"action": "USER_LOGGED_IN", "actor_id": tenant.users[next(iter(tenant.users))].id},
    )
    assert len(logins.json()["items"]) == 1
    everything = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).json()[
        "items"
    ]
    other_ids = {i["id"] for i in (await client.get("/v1/audit-logs", headers=other.admin)).json()["items"]}
    assert other_ids and not other_ids & {i["id"] for i in everything}
    seqs = [i["seq"] for i in everything]
    assert len(set(seqs)) == len(seqs)  # insertion order from one global sequence: unique, with gaps
    future = await client.get(
        "/v1/audit-logs", headers=tenant.admin, params={"since": "2999-01-01T00:00:00Z"}
    )
    assert future.json()["items"] == []
    assert_problem(
        await client.get("/v1/audit-logs", headers=tenant.admin, params={"since": "yesterday"}), 422, "since"
    )

    verified = await client.get("/v1/audit-logs/verify", headers=tenant.admin)
    for _ in range(300):  # the app's sealer seals within a few rounds
        if verified.json()["unsealed"] == 0:
            break
        await asyncio.sleep(0.05)
        verified = await client.get("/v1/audit-logs/verify", headers=tenant.admin)
    assert verified.status_code == 200
    body = verified.json()
    assert body["ok"] is True and body["checked"] == body["tree_size"] >= len(seqs), body
    for headers in (tenant.designer, tenant.operator):
        assert_problem(await client.get("/v1/audit-logs", headers=headers), 403)
        assert_problem(await client.get("/v1/audit-logs/verify", headers=headers), 403)
