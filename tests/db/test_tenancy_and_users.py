"""Tenants, users and Argon2id; every repository function is tenant-scoped."""

from __future__ import annotations

import psycopg
import pytest
from argon2 import PasswordHasher

from eawe.db.models import Role
from eawe.db.repositories.tenants import create_tenant_with_admin
from eawe.db.repositories.users import create_user, get_user, list_users
from eawe.errors import ConflictError, NotFoundError, ValidationError
from eawe.passwords import hash_password, verify_password


def _count(conninfo: str, table: str, where: str = "", params: tuple = ()) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}" {where}', params).fetchone()[0]


def test_argon2id_parameters_meet_owasp() -> None:
    stored = hash_password("correct horse")
    params = PasswordHasher().check_needs_rehash  # noqa: F841 - just proving the lib is argon2-cffi
    assert stored.startswith("$argon2id$")
    assert "m=19456" in stored and "t=2" in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong")
    assert not verify_password("not-a-hash", "x")


async def test_tenant_with_admin_is_created(database) -> None:
    async with database.transaction() as session:
        made = await create_tenant_with_admin(
            session, name="Acme Corp", admin_email="Admin@Acme.io", admin_password="s3cret-pass"
        )
    assert made.admin.role is Role.ADMINISTRATOR
    assert made.admin.email == "admin@acme.io"
    assert made.admin.password.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Bad Email Co", "admin_email": "not-an-email", "admin_password": "s3cret-pass"}, "email"),
        ({"name": "Short Pw Co", "admin_email": "ok@short.io", "admin_password": "x"}, "password"),
        ({"name": "   ", "admin_email": "ok@blank.io", "admin_password": "s3cret-pass"}, "name"),
    ],
)
async def test_bad_input_names_the_field_and_leaves_nothing(database, kwargs, field) -> None:
    before = _count(database.conninfo, "Tenant")
    with pytest.raises(ValidationError) as info:
        async with database.transaction() as session:
            await create_tenant_with_admin(session, **kwargs)
    assert field in {p.field for p in info.value.problems}
    assert _count(database.conninfo, "Tenant") == before


async def test_duplicates_conflict_without_partial_rows(database) -> None:
    async with database.transaction() as session:
        await create_tenant_with_admin(
            session, name="Dup Co", admin_email="dup@dup.io", admin_password="s3cret-pass"
        )
    with pytest.raises(ConflictError) as info:
        async with database.transaction() as session:
            await create_tenant_with_admin(
                session, name="Dup Co", admin_email="x@dup.io", admin_password="s3cret-pass"
            )
    assert info.value.field == "name"
    # new tenant name but taken email: the tenant row must not survive
    with pytest.raises(ConflictError) as info:
        async with database.transaction() as session:
            await create_tenant_with_admin(
                session, name="Other Co", admin_email="DUP@dup.io", admin_password="s3cret-pass"
            )
    assert info.value.field == "email"
    assert _count(database.conninfo, "Tenant", "WHERE name = %s", ("Other Co",)) == 0


async def test_unknown_role_lists_valid_values(database, tenant_factory) -> None:
    made = await tenant_factory()
    with pytest.raises(ValidationError) as info:
        async with database.transaction() as session:
            await create_user(
                session, tenant_id=made.tenant.id, email="r@r.io", password="s3cret-pass", role="SUPERUSER"
            )
    problem = info.value.problems[0]
    assert problem.field == "role" and "ADMINISTRATOR" in problem.message


async def test_cross_tenant_fetch_is_not_found_and_lists_are_scoped(database, tenant_factory) -> None:
    a = await tenant_factory(users=[("a1@a.io", Role.OPERATOR, ["Finance"]), ("a2@a.io", Role.DESIGNER, [])])
    b = await tenant_factory(users=[("b1@b.io", Role.OPERATOR, [])])
    async with database.session() as session:
        with pytest.raises(NotFoundError):
            await get_user(session, b.tenant.id, a.users[0].id)
        assert (await get_user(session, a.tenant.id, a.users[0].id)).groups == ["Finance"]
        page_a = await list_users(session, a.tenant.id)
        page_b = await list_users(session, b.tenant.id)
    assert {u.id for u in page_a.items} == {u.id for u in a.users}
    assert {u.id for u in page_b.items} == {u.id for u in b.users}


async def test_list_pagination_walks_every_row_once(database, tenant_factory) -> None:
    made = await tenant_factory(users=[(f"p{i}@p.io", Role.OPERATOR, []) for i in range(5)])
    seen: list[str] = []
    cursor = None
    async with database.session() as session:
        while True:
            page = await list_users(session, made.tenant.id, limit=2, cursor=cursor)
            seen.extend(u.id for u in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert sorted(seen) == sorted(u.id for u in made.users) and len(seen) == 5
