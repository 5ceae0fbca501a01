"""``/v1/audit-logs`` tree heads and proofs over HTTP, checked with the published public key and an
RFC 9162 verifier that does not use eawe.merkle."""

from __future__ import annotations

import asyncio
import json

import httpx

from eawe.audit_keys import TreeHead, load_public_keys
from tests.db.audit_support import reference_verify_consistency, reference_verify_inclusion
from tests.server.api_tenants import assert_problem


async def _sealed(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    for _ in range(300):
        body = (await client.get("/v1/audit-logs/verify", headers=headers)).json()
        if body["unsealed"] == 0 and body["tree_size"]:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the app's sealer did not seal the tenant's log")


async def test_tree_head_and_proofs_verify_with_the_published_key(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    other = await api_tenant()
    first = await _sealed(client, tenant.admin)
    first_head = (await client.get("/v1/audit-logs/tree-head", headers=tenant.admin)).json()
    for i in range(3):  # more entries: each user creation is audited
        created = await client.post(
            "/v1/users",
            headers=tenant.admin,
            json={"email": f"proof-{i}-{tenant.tenant_id}@example.com", "password": "long-enough"},
        )
        assert created.status_code == 201, created.text
    await _sealed(client, tenant.admin)
    head_response = await client.get("/v1/audit-logs/tree-head", headers=tenant.admin)
    assert head_response.status_code == 200
    head = head_response.json()
    assert head["tree_size"] > first["tree_size"] and head["algorithm"] == "Ed25519"

    published = await client.get("/v1/audit-logs/public-keys")  # public, like a JWKS
    assert published.status_code == 200 and published.json()["keys"][0]["active"] is True
    keys = load_public_keys([published.text])
    assert keys.verify(TreeHead.from_dict(head)) is None
    assert keys.verify(TreeHead.from_dict(first_head)) is None
    forged = TreeHead.from_dict({**head, "tree_size": head["tree_size"] + 1})
    assert keys.verify(forged) is not None

    entries = (await client.get("/v1/audit-logs", headers=tenant.admin, params={"limit": 200})).json()[
        "items"
    ]
    entry = next(e for e in entries if e["leaf_index"] == 1)
    proof = await client.get(f"/v1/audit-logs/{entry['id']}/inclusion-proof", headers=tenant.admin)
    assert proof.status_code == 200, proof.text
    body = proof.json()
    assert body["root_hash"] == head["root_hash"] and body["tree_head"]["signature"] == head["signature"]
    assert body["leaf_hash"] == entry["hash"]
    assert reference_verify_inclusion(
        1,
        head["tree_size"],
        bytes.fromhex(body["leaf_hash"]),
        [bytes.fromhex(p) for p in body["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )

    cons = await client.get(
        "/v1/audit-logs/consistency-proof",
        headers=tenant.admin,
        params={"first": first_head["tree_size"], "second": head["tree_size"]},
    )
    assert cons.status_code == 200, cons.text
    assert reference_verify_consistency(
        first_head["tree_size"],
        head["tree_size"],
        bytes.fromhex(first_head["root_hash"]),
        bytes.fromhex(head["root_hash"]),
        [bytes.fromhex(p) for p in cons.json()["proof"]],
    )

    # bad input names the field; another tenant's entry does not exist; roles are enforced
    assert_problem(
        await client.get(
            f"/v1/audit-logs/{entry['id']}/inclusion-proof", headers=tenant.admin, params={"tree_size": 1}
        ),
        422,
        "tree_size",
    )
    assert_problem(
        await client.get(
            "/v1/audit-logs/consistency-proof",
            headers=tenant.admin,
            params={"first": head["tree_size"], "second": 1},
        ),
        422,
        "first",
    )
    assert_problem(
        await client.get("/v1/audit-logs/consistency-proof", headers=tenant.admin, params={"first": 0}), 422
    )
    await _sealed(client, other.admin)
    assert_problem(
        await client.get(f"/v1/audit-logs/{entry['id']}/inclusion-proof", headers=other.admin), 404
    )
    for headers in (tenant.designer, tenant.operator):
        assert_problem(await client.get("/v1/audit-logs/tree-head", headers=headers), 403)
        assert_problem(
            await client.get(f"/v1/audit-logs/{entry['id']}/inclusion-proof", headers=headers), 403
        )
    assert json.loads(published.text)["keys"][0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
