"""The sealer's election on real PostgreSQL: one leader, takeover when its session dies (also in
the middle of a round), and existing hash chains sealed in their old order by the migration."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from importlib.resources import files
from pathlib import Path

import psycopg
from psycopg import sql

from eawe import audit_proofs
from eawe.audit import append_audit
from eawe.db.database import open_database
from eawe.db.migrate import upgrade
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, _swap_dbname
from tests.db.audit_support import eventually, sealer_running, signer, superuser, wait_sealed

KEYS = signer(TEST_AUDIT_SIGNING_KEYS).public_keys()


def _terminate(conninfo: str, pid: int | None) -> None:
    assert pid is not None
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_one_sealer_is_elected_and_another_takes_over_when_its_session_dies(
    database, tenant_factory
) -> None:
    made = await tenant_factory()
    async with (
        sealer_running(database, TEST_AUDIT_SIGNING_KEYS) as a,
        sealer_running(database, TEST_AUDIT_SIGNING_KEYS) as b,
    ):
        await eventually(lambda: a.is_leader or b.is_leader, "an elected sealer")
        await asyncio.sleep(0.5)  # several retry periods: the standby stays a standby
        assert a.is_leader != b.is_leader
        leader, standby = (a, b) if a.is_leader else (b, a)
        await wait_sealed(database.conninfo, made.tenant.id)

        killed = leader.backend_pid
        _terminate(database.conninfo, killed)  # the holder's connection dies
        await eventually(lambda: standby.is_leader, "the standby taking over")
        async with database.transaction() as session:
            for i in range(5):
                await append_audit(session, tenant_id=made.tenant.id, action=f"AFTER{i}")
        await wait_sealed(database.conninfo, made.tenant.id)
        assert standby.sealed >= 5
        # the old leader stood again, and waits
        await eventually(lambda: leader.backend_pid not in (None, killed), "the old leader standing again")
        assert not leader.is_leader
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, KEYS)
    assert result.ok and result.checked == 6, result


async def test_a_sealer_killed_mid_round_leaves_nothing_half_sealed(database, tenant_factory) -> None:
    made = await tenant_factory()
    async with database.transaction() as session:
        for i in range(20):
            await append_audit(session, tenant_id=made.tenant.id, action=f"BATCH{i}")
    # A reader's FOR SHARE lock makes the sealer's UPDATE wait: it is then mid-round, holding a
    # computed batch and its signed heads in an open transaction.
    blocker = await psycopg.AsyncConnection.connect(database.conninfo)
    await blocker.execute('SELECT 1 FROM "AuditLog" WHERE "tenantId" = %s FOR SHARE', (made.tenant.id,))
    try:
        async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS) as first:

            def waiting() -> bool:
                with psycopg.connect(database.conninfo) as conn:
                    row = conn.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (first.backend_pid,)
                    ).fetchone()
                return bool(row and row[0] == "Lock")

            await eventually(lambda: first.is_leader and waiting(), "the sealer blocked mid-round")
            killed = first.backend_pid
            _terminate(database.conninfo, killed)
            await eventually(lambda: first.backend_pid != killed, "the killed sealer standing again")
            with psycopg.connect(database.conninfo) as conn:
                assert conn.execute(
                    'SELECT count(*) FROM "AuditLog" WHERE "tenantId" = %s AND "leafIndex" IS NOT NULL',
                    (made.tenant.id,),
                ).fetchone() == (0,)
                assert conn.execute(
                    'SELECT count(*) FROM "AuditTreeHead" WHERE "tenantId" = %s', (made.tenant.id,)
                ).fetchone() == (0,)
            await blocker.rollback()
            async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):
                await wait_sealed(database.conninfo, made.tenant.id)
    finally:
        await blocker.close()
    result, _ = await audit_proofs.verify_tenant_log(database, made.tenant.id, KEYS)
    assert result.ok and result.checked == 21, result  # TENANT_CREATED + 20, each once


def _legacy_rows(tenant_id: str, actions: list[str]) -> list[tuple]:
    """Rows as the hash chain before the Merkle log wrote them."""
    rows, prev = [], "0" * 64
    for seq, action in enumerate(actions, start=1):
        row_id = f"legacy{tenant_id[-6:]}{seq:03d}"
        stamp = f"2026-11-20T10:00:{seq:02d}.123"
        body = {
            "id": row_id,
            "tenant_id": tenant_id,
            "seq": seq,
            "workflow_run_id": None,
            "actor_id": None,
            "actor_type": "SYSTEM",
            "action": action,
            "details": {"n": seq},
            "timestamp": stamp,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
        rows.append((row_id, tenant_id, seq, action, json.dumps({"n": seq}), stamp, prev, digest))
        prev = digest
    return rows


async def test_existing_chains_are_sealed_in_their_old_order(
    pg_admin_conninfo: str, settings, tmp_path: Path
) -> None:
    name = "eawe_t_legacy_chain_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:6]
    with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = _swap_dbname(pg_admin_conninfo, name)
    try:
        old = tmp_path / "migrations"
        shutil.copytree(str(files("eawe.db") / "migrations"), old)
        first_merkle = min(f.name for f in old.iterdir() if f.name.endswith("_audit_merkle_log"))
        for folder in old.iterdir():
            if folder.is_dir() and folder.name >= first_merkle:  # a database from before the Merkle log
                shutil.rmtree(folder)
        upgrade(conninfo, directory=old)
        with psycopg.connect(conninfo) as conn:
            for tenant_id in ("tenant-a", "tenant-b"):
                conn.execute(
                    'INSERT INTO "Tenant" (id, name, "updatedAt") VALUES (%s, %s, now())',
                    (tenant_id, tenant_id),
                )
                actions = ["TENANT_CREATED", "USER_CREATED", "RUN_STARTED", "RUN_COMPLETED"]
                for row in reversed(_legacy_rows(tenant_id, actions)):  # inserted out of order on purpose
                    conn.execute(
                        'INSERT INTO "AuditLog" (id, "tenantId", seq, action, details, "timestamp", '
                        '"prevHash", hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                        row,
                    )
        upgrade(conninfo)  # the Merkle log migrations
        database = await open_database(settings, conninfo=conninfo)
        try:
            async with database.transaction() as session:
                new = await append_audit(session, tenant_id="tenant-a", action="AFTER_MIGRATION")
            assert new.seq == 5  # the global sequence continues after every old seq
            async with sealer_running(database, TEST_AUDIT_SIGNING_KEYS):
                await wait_sealed(conninfo)
            with psycopg.connect(conninfo) as conn:
                order = conn.execute(
                    'SELECT seq, action FROM "AuditLog" WHERE "tenantId" = %s ORDER BY "leafIndex"',
                    ("tenant-a",),
                ).fetchall()
            assert order == [
                (1, "TENANT_CREATED"),
                (2, "USER_CREATED"),
                (3, "RUN_STARTED"),
                (4, "RUN_COMPLETED"),
                (5, "AFTER_MIGRATION"),
            ]
            for tenant_id, size in (("tenant-a", 5), ("tenant-b", 4)):
                result, _ = await audit_proofs.verify_tenant_log(database, tenant_id, KEYS)
                assert result.ok and result.tree_size == size, result
            # the old chain hashes are kept and still checked: a rewritten old row is caught
            superuser(
                conninfo,
                (
                    "UPDATE \"AuditLog\" SET action = 'FORGED' WHERE id = %s",
                    (_legacy_rows("tenant-b", ["x", "y"])[1][0],),
                ),
            )
            result, _ = await audit_proofs.verify_tenant_log(database, "tenant-b", KEYS)
            assert not result.ok and result.first_broken_seq == 2, result
        finally:
            await database.dispose()
    finally:
        with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
