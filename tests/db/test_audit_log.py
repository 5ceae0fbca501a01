"""The audit log on real PostgreSQL: lock-free appends, the append-only rules, the sealer, proofs."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from eawe import audit_proofs
from eawe.audit import ActorType, append_audit
from eawe.audit_keys import AuditSigner, PublicKeySet
from eawe.db.database import Database
from eawe.db.models import Role
from tests.conftest import TEST_AUDIT_SIGNING_KEYS
from tests.db.audit_support import (
    reference_root,
    reference_verify_consistency,
    reference_verify_inclusion,
    sealer_running,
    signer,
    superuser,
    wait_sealed,
)

KEYS: PublicKeySet = signer(TEST_AUDIT_SIGNING_KEYS).public_keys()


async def _tenant_with_rows(database: Database, tenant_factory, n: int = 5):
    made = await tenant_factory(users=[("auditor@example.com", Role.ADMINISTRATOR, [])])
    async with database.transaction() as session:
        for i in range(n):
            await append_audit(
                session,
                tenant_id=made.tenant.id,
                action="STEP",
                actor_type=ActorType.AGENT,
                details={"i": i, "nested": {"api_key": "sk-should-not-be-stored", "ok": [1, 2.5, "x"]}},
            )
    return made


async def _sealed_tenant(database: Database, tenant_factory, n: int = 5):
    made = await _tenant_with_rows(database, tenant_factory, n)
    async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):
        await wait_sealed(database.conninfo, made.tenant.id)
    return made


async def test_log_seals_verifies_and_redacts_secrets(database, tenant_factory) -> None:
    made = await _sealed_tenant(database, tenant_factory)
    result, waiting = await audit_proofs.verify_tenant_log(database, made.tenant.id, KEYS)
    # TENANT_CREATED + USER_CREATED + 5 steps, all under one signed head
    assert result.ok and result.checked == 7 and result.tree_size == 7 and waiting == 0, result
    with psycopg.connect(database.conninfo) as conn:
        rows = conn.execute(
            'SELECT details::text, "leafIndex", seq FROM "AuditLog" WHERE "tenantId" = %s '
            'ORDER BY "leafIndex"',
            (made.tenant.id,),
        ).fetchall()
    assert [r[1] for r in rows] == list(range(7))
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)  # one transaction at a time: seq order kept
    assert not any("sk-should-not-be-stored" in (d or "") for d, _, _ in rows)
    assert any("[REDACTED]" in (d or "") for d, _, _ in rows)


@pytest.mark.parametrize(
    "statement",
    [
        'UPDATE "AuditLog" SET action = \'X\' WHERE "tenantId" = %s',
        'DELETE FROM "AuditLog" WHERE "tenantId" = %s',
        # the sealing columns are set once: a sealed row cannot be re-sealed
        'UPDATE "AuditLog" SET "leafIndex" = "leafIndex" + 100, hash = \'x\' WHERE "tenantId" = %s',
        # ... and sealing may not change the content
        'UPDATE "AuditLog" SET "leafIndex" = 99, action = \'X\' '
        'WHERE "tenantId" = %s AND "leafIndex" IS NULL',
        'DELETE FROM "AuditTreeHead" WHERE "tenantId" = %s',
        'UPDATE "AuditTreeHead" SET "rootHash" = \'00\' WHERE "tenantId" = %s',
    ],
)
async def test_database_refuses_changes(database, tenant_factory, statement: str) -> None:
    made = await _sealed_tenant(database, tenant_factory, 1)
    async with database.transaction() as session:  # one unsealed row for the sealing case
        await append_audit(session, tenant_id=made.tenant.id, action="LATE")
    with psycopg.connect(database.conninfo) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement, (made.tenant.id,))


async def test_database_refuses_a_presealed_insert_and_truncate(database, tenant_factory) -> None:
    made = await tenant_factory()
    with psycopg.connect(database.conninfo) as conn, pytest.raises(psycopg.Error, match="sealed row"):
        conn.execute(
            'INSERT INTO "AuditLog" (id, "tenantId", action, "leafIndex", hash, "prevHash") '
            "VALUES ('forged', %s, 'X', 0, 'h', 'p')",
            (made.tenant.id,),
        )
    for table in ("AuditLog", "AuditTreeHead"):
        with psycopg.connect(database.conninfo) as conn, pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(f'TRUNCATE "{table}" CASCADE')


async def test_writers_of_one_tenant_do_not_wait_for_each_other(database, tenant_factory) -> None:
    made = await tenant_factory()
    async with database.transaction() as holder:
        first = await append_audit(holder, tenant_id=made.tenant.id, action="OPEN")

        async def second() -> int:
            async with database.transaction() as session:
                row = await append_audit(session, tenant_id=made.tenant.id, action="COMMITTED")
                return int(row.seq)

        # The old chain took a per-tenant lock here: this append would wait for the holder.
        second_seq = await asyncio.wait_for(second(), 10)
        assert second_seq > first.seq
        # A round now must not seal the committed row ahead of the older, still open one.
        async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS) as sealer:
            await asyncio.sleep(0.5)
            assert sealer.is_leader
            with psycopg.connect(database.conninfo) as conn:
                sealed = conn.execute(
                    'SELECT count(*) FROM "AuditLog" WHERE "tenantId" = %s AND action = \'COMMITTED\' '
                    'AND "leafIndex" IS NOT NULL',
                    (made.tenant.id,),
                ).fetchone()
            assert sealed == (0,)
    async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):
        await wait_sealed(database.conninfo, made.tenant.id)
    with psycopg.connect(database.conninfo) as conn:
        order = conn.execute(
            'SELECT action FROM "AuditLog" WHERE "tenantId" = %s ORDER BY "leafIndex"', (made.tenant.id,)
        ).fetchall()
    assert [a for (a,) in order] == ["TENANT_CREATED", "OPEN", "COMMITTED"]  # the late commit was not skipped


async def test_concurrent_writers_across_tenants_then_one_tree_each(database, tenant_factory) -> None:
    tenants = [await tenant_factory() for _ in range(4)]

    async def writer(tenant_id: str, w: int) -> None:
        for i in range(5):
            async with database.transaction() as session:
                await append_audit(session, tenant_id=tenant_id, action=f"W{w}.{i}")

    async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):  # sealing while they write
        await asyncio.gather(*(writer(t.tenant.id, w) for t in tenants for w in range(4)))
        for t in tenants:
            await wait_sealed(database.conninfo, t.tenant.id)
    for t in tenants:
        result, waiting = await audit_proofs.verify_tenant_log(database, t.tenant.id, KEYS)
        assert result.ok and result.checked == 21 and result.tree_size == 21 and waiting == 0, result


async def test_inclusion_and_consistency_proofs_verify_independently(database, tenant_factory) -> None:
    made = await _sealed_tenant(database, tenant_factory, 4)  # 6 entries
    first_head = await audit_proofs.latest_head(database, made.tenant.id)
    async with database.transaction() as session:
        extra = [await append_audit(session, tenant_id=made.tenant.id, action=f"X{i}") for i in range(7)]
    async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):
        await wait_sealed(database.conninfo, made.tenant.id)
    head = await audit_proofs.latest_head(database, made.tenant.id)
    assert (first_head.tree_size, head.tree_size) == (6, 13)
    assert KEYS.verify(head) is None and KEYS.verify(first_head) is None

    for size in (head.tree_size, 11):
        proof = await audit_proofs.inclusion(database, made.tenant.id, extra[2].id, size)
        assert proof["leaf_index"] == 8 and proof["tree_size"] == size
        assert reference_verify_inclusion(
            8,
            size,
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(p) for p in proof["audit_path"]],
            bytes.fromhex(proof["root_hash"]),
        )
    assert proof["root_hash"] != head.root_hash
    latest = await audit_proofs.inclusion(database, made.tenant.id, extra[2].id, None)
    assert latest["root_hash"] == head.root_hash and latest["tree_head"]["signature"] == head.signature

    cons = await audit_proofs.consistency(database, made.tenant.id, first_head.tree_size, None)
    assert cons["first_root_hash"] == first_head.root_hash and cons["second_root_hash"] == head.root_hash
    assert reference_verify_consistency(
        6,
        13,
        bytes.fromhex(first_head.root_hash),
        bytes.fromhex(head.root_hash),
        [bytes.fromhex(p) for p in cons["proof"]],
    )
    # the signed root is the root of the leaves the log holds, by the RFC's definition
    export = await audit_proofs.export_lines(database, made.tenant.id)
    from eawe.audit import entry_leaf_hash

    leaves = [entry_leaf_hash(line) for line in export if line["type"] == "entry"]
    assert reference_root(leaves).hex() == head.root_hash


async def test_proof_requests_name_the_bad_field(database, tenant_factory) -> None:
    from eawe.errors import ConflictError, NotFoundError, ValidationError

    made = await _sealed_tenant(database, tenant_factory, 1)  # 3 entries
    other = await _sealed_tenant(database, tenant_factory, 1)
    async with database.transaction() as session:
        pending = await append_audit(session, tenant_id=made.tenant.id, action="PENDING")
    first_id = (await audit_proofs.export_lines(database, made.tenant.id))[1]["id"]
    with pytest.raises(ValidationError) as bad:
        await audit_proofs.inclusion(database, made.tenant.id, first_id, 4)
    assert bad.value.problems[0].field == "tree_size"
    with pytest.raises(NotFoundError):  # another tenant's entry is not found
        await audit_proofs.inclusion(database, other.tenant.id, first_id, None)
    with pytest.raises(ConflictError):
        await audit_proofs.inclusion(database, made.tenant.id, pending.id, None)
    with pytest.raises(ValidationError) as bad:
        await audit_proofs.consistency(database, made.tenant.id, 3, 2)
    assert bad.value.problems[0].field == "first"


async def test_key_rotation_keeps_old_heads_verifiable(database, tenant_factory) -> None:
    made = await _sealed_tenant(database, tenant_factory, 1)
    old = await audit_proofs.latest_head(database, made.tenant.id)
    new_key = "2:" + "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M="
    rotated: AuditSigner = signer(f"{TEST_AUDIT_SIGNING_KEYS},{new_key}")
    async with database.transaction() as session:
        await append_audit(session, tenant_id=made.tenant.id, action="AFTER_ROTATION")
    async with sealer_running(database, f"{TEST_AUDIT_SIGNING_KEYS},{new_key}"):
        await wait_sealed(database.conninfo, made.tenant.id)
    new = await audit_proofs.latest_head(database, made.tenant.id)
    assert old.key_id != new.key_id == rotated.active_key_id
    both = rotated.public_keys()
    assert [k["active"] for k in both.describe(rotated.active_key_id)] == [False, True]
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, both)
    assert result.ok and result.heads_checked == 2, result
    only_new = PublicKeySet({new.key_id: both.keys[new.key_id]})
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, only_new)
    assert not result.ok and "unknown key" in (result.reason or "")


async def test_a_modified_row_is_reported_first(database, tenant_factory) -> None:
    made = await _sealed_tenant(database, tenant_factory)
    superuser(
        database.conninfo,
        (
            'UPDATE "AuditLog" SET details = \'{"i": 99}\' WHERE "tenantId" = %s AND "leafIndex" = 4',
            (made.tenant.id,),
        ),
    )
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, KEYS)
    assert not result.ok and "modified" in (result.reason or "")
    assert result.first_broken_id is not None and result.checked == 4


async def test_a_deleted_row_is_reported(database, tenant_factory) -> None:
    made = await _sealed_tenant(database, tenant_factory)
    superuser(
        database.conninfo,
        ('DELETE FROM "AuditLog" WHERE "tenantId" = %s AND "leafIndex" = 3', (made.tenant.id,)),
    )
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, KEYS)
    assert not result.ok and "gap" in (result.reason or "")


async def test_other_tenants_log_unaffected_by_tampering(database, tenant_factory) -> None:
    a = await _sealed_tenant(database, tenant_factory, 2)
    b = await _sealed_tenant(database, tenant_factory, 2)
    superuser(
        database.conninfo,
        ('UPDATE "AuditLog" SET action = \'EVIL\' WHERE "tenantId" = %s AND "leafIndex" = 1', (a.tenant.id,)),
    )
    assert not (await audit_proofs.verify_tenant_log(database, a.tenant.id, KEYS))[0].ok
    assert (await audit_proofs.verify_tenant_log(database, b.tenant.id, KEYS))[0].ok
