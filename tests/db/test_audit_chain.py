"""The audit log is append-only in the database and its hash chain catches tampering."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from eawe.audit import ActorType, append_audit, verify_chain
from eawe.db.models import Role


async def _tenant_with_rows(database, tenant_factory, n: int = 5):
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


async def test_chain_verifies_and_redacts_secrets(database, tenant_factory) -> None:
    made = await _tenant_with_rows(database, tenant_factory)
    async with database.session() as session:
        result = await verify_chain(session, made.tenant.id)
    # TENANT_CREATED + USER_CREATED + 5 steps
    assert result.ok and result.checked == 7
    with psycopg.connect(database.conninfo) as conn:
        dumped = conn.execute(
            'SELECT details::text FROM "AuditLog" WHERE "tenantId" = %s', (made.tenant.id,)
        ).fetchall()
    assert not any("sk-should-not-be-stored" in (d or "") for (d,) in dumped)
    assert any("[REDACTED]" in (d or "") for (d,) in dumped)


@pytest.mark.parametrize(
    "statement",
    [
        'UPDATE "AuditLog" SET action = \'X\' WHERE "tenantId" = %s',
        'DELETE FROM "AuditLog" WHERE "tenantId" = %s',
    ],
)
async def test_database_refuses_update_and_delete(database, tenant_factory, statement: str) -> None:
    made = await _tenant_with_rows(database, tenant_factory, 1)
    with psycopg.connect(database.conninfo) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement, (made.tenant.id,))


async def test_database_refuses_truncate(database) -> None:
    with psycopg.connect(database.conninfo) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute('TRUNCATE "AuditLog" CASCADE')


def _tamper(conninfo: str, sql: str, params: tuple) -> None:
    """Tamper as superuser, past the trigger (what an attacker with DB superuser could do)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql, params)


async def test_modified_row_is_reported_first(database, tenant_factory) -> None:
    made = await _tenant_with_rows(database, tenant_factory)
    _tamper(
        database.conninfo,
        'UPDATE "AuditLog" SET details = \'{"i": 99}\' WHERE "tenantId" = %s AND seq = 4',
        (made.tenant.id,),
    )
    async with database.session() as session:
        result = await verify_chain(session, made.tenant.id)
    assert not result.ok and result.first_broken_seq == 4 and "modified" in (result.reason or "")


async def test_deleted_row_is_reported(database, tenant_factory) -> None:
    made = await _tenant_with_rows(database, tenant_factory)
    _tamper(database.conninfo, 'DELETE FROM "AuditLog" WHERE "tenantId" = %s AND seq = 3', (made.tenant.id,))
    async with database.session() as session:
        result = await verify_chain(session, made.tenant.id)
    assert not result.ok and result.first_broken_seq == 4 and "gap" in (result.reason or "")


async def test_rehashed_row_still_breaks_the_next_link(database, tenant_factory) -> None:
    made = await _tenant_with_rows(database, tenant_factory)
    _tamper(
        database.conninfo,
        'UPDATE "AuditLog" SET hash = repeat(\'a\', 64) WHERE "tenantId" = %s AND seq = 2',
        (made.tenant.id,),
    )
    async with database.session() as session:
        result = await verify_chain(session, made.tenant.id)
    assert not result.ok and result.first_broken_seq == 2


async def test_concurrent_appends_keep_one_chain(database, tenant_factory) -> None:
    made = await tenant_factory()

    async def writer(i: int) -> None:
        async with database.transaction() as session:
            await append_audit(session, tenant_id=made.tenant.id, action=f"W{i}")

    await asyncio.gather(*(writer(i) for i in range(12)))
    async with database.session() as session:
        result = await verify_chain(session, made.tenant.id)
    assert result.ok and result.checked == 13


async def test_other_tenants_chain_unaffected_by_tampering(database, tenant_factory) -> None:
    a = await _tenant_with_rows(database, tenant_factory, 2)
    b = await _tenant_with_rows(database, tenant_factory, 2)
    _tamper(
        database.conninfo,
        'UPDATE "AuditLog" SET action = \'EVIL\' WHERE "tenantId" = %s AND seq = 1',
        (a.tenant.id,),
    )
    async with database.session() as session:
        assert not (await verify_chain(session, a.tenant.id)).ok
        assert (await verify_chain(session, b.tenant.id)).ok
