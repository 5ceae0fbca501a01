"""Tenant isolation enforced by PostgreSQL itself: row-level security on every tenant-owned table.

The application connects as ``eawe_runtime`` (a member of ``eawe_app``, which owns no table), so
a query that forgets its ``WHERE "tenantId" = ...`` still sees only the transaction's tenant.
These tests drop the Python filter on purpose — in raw queries over every model, and in a
route's repository function — and look for foreign rows.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from eawe.db import models
from eawe.db.models import Base, Role, User, WorkflowDefinition
from eawe.db.repositories import workflows as workflow_repo
from eawe.db.roles import APP_ROLE, check_app_role
from eawe.db.tenant_scope import system_scope, tenant_scope
from eawe.errors import NotFoundError
from tests.server.sample_workflows import create_and_publish, linear

# Tables LangGraph's own setup() creates: no tenant column; reached only through thread ids and
# namespaces the application takes from tenant-checked rows (the store prefixes the tenant id).
LANGGRAPH_TABLES = {
    "checkpoint_migrations",
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "store",
    "store_migrations",
}


def _models() -> list[Any]:
    return sorted(
        (m.class_ for m in Base.registry.mappers if m.local_table is not None), key=lambda c: c.__name__
    )


def test_every_application_table_has_a_tenant_policy(owner_conninfo: str) -> None:
    with psycopg.connect(owner_conninfo) as conn:
        tables = dict(
            conn.execute(
                "SELECT c.relname, c.relrowsecurity FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'"
            ).fetchall()
        )
        policies = dict(
            conn.execute("SELECT tablename, qual FROM pg_policies WHERE schemaname = 'public'").fetchall()
        )
    app_tables = set(tables) - LANGGRAPH_TABLES
    assert app_tables == set(Base.metadata.tables)  # a new model is caught here, not forgotten
    for table in sorted(app_tables):
        assert tables[table], f"{table}: row-level security is not enabled"
        assert table in policies, f"{table}: no policy"
        assert "eawe.tenant" in policies[table], f"{table}: policy does not read the tenant setting"


def test_the_application_login_owns_nothing_and_cannot_bypass(
    database_conninfo: str, owner_conninfo: str
) -> None:
    assert check_app_role(database_conninfo) is None
    assert check_app_role(owner_conninfo) is not None  # the check does fire (the owner is a superuser)
    with psycopg.connect(database_conninfo) as conn:
        name, superuser, bypass, member = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, pg_has_role(current_user, %s, 'MEMBER')"
            " FROM pg_roles WHERE rolname = current_user",
            (APP_ROLE,),
        ).fetchone()
        owned = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles"
            " WHERE rolname = current_user)"
        ).fetchone()[0]
        assert (name, superuser, bypass, member, owned) == ("eawe_runtime", False, False, True, 0)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE eawe_sneaky (id int)")


async def _two_tenants(tenant_factory: Any) -> tuple[Any, Any]:
    a = await tenant_factory(users=[("a@example.com", Role.ADMINISTRATOR, ["Staff"])])
    b = await tenant_factory(users=[("b@example.com", Role.ADMINISTRATOR, ["Staff"])])
    return a, b


async def test_queries_without_a_tenant_filter_see_only_their_tenant(
    database: Any, tenant_factory: Any
) -> None:
    a, b = await _two_tenants(tenant_factory)
    with tenant_scope(a.tenant.id):
        async with database.session() as session:
            users = (await session.scalars(select(User))).all()  # no WHERE on purpose
            tenants = (await session.scalars(select(models.Tenant))).all()
            foreign = {
                cls.__name__: await session.scalar(
                    select(func.count()).select_from(cls).where(cls.tenant_id != a.tenant.id)
                )
                for cls in _models()
                if hasattr(cls, "tenant_id")
            }
    assert {u.tenant_id for u in users} == {a.tenant.id}
    assert [t.id for t in tenants] == [a.tenant.id]
    assert foreign and set(foreign.values()) == {0}, foreign
    # Without any scope nothing is visible; the system scope sees both tenants.
    async with database.session() as session:
        assert (await session.scalars(select(User))).all() == []
    with system_scope():
        async with database.session() as session:
            seen = {u.tenant_id for u in (await session.scalars(select(User))).all()}
    assert {a.tenant.id, b.tenant.id} <= seen


async def test_writes_into_another_tenant_are_refused_or_touch_nothing(
    database: Any, tenant_factory: Any
) -> None:
    a, b = await _two_tenants(tenant_factory)
    victim = b.users[0]
    with tenant_scope(a.tenant.id):
        async with database.transaction() as session:
            changed = await session.execute(
                update(User).where(User.id == victim.id).values(is_active=False)  # no tenant filter
            )
            removed = await session.execute(delete(User).where(User.id == victim.id))
        assert (changed.rowcount, removed.rowcount) == (0, 0)
        with pytest.raises(DBAPIError, match="row-level security"):
            async with database.transaction() as session:
                await session.execute(
                    insert(WorkflowDefinition).values(
                        id="planted", tenant_id=b.tenant.id, name="planted", definition_graph={}
                    )
                )
    with system_scope():
        async with database.session() as session:
            again = await session.get(User, victim.id)
            planted = await session.get(WorkflowDefinition, "planted")
    assert again is not None and again.is_active and planted is None


async def test_a_route_whose_tenant_filter_is_dropped_still_answers_404(
    client: httpx.AsyncClient, api_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    definition = linear(
        {"topic": {"type": "string"}}, [{"id": "a", "type": "transform", "config": {"set": {"topic": "x"}}}]
    )
    their_workflow = await create_and_publish(client, theirs.designer, definition, name="their-secret-name")
    assert (await client.get(f"/v1/workflows/{their_workflow}", headers=theirs.designer)).status_code == 200

    async def get_workflow_forgetting_the_tenant(
        session: Any, tenant_id: str, workflow_id: str, *, for_update: bool = False
    ) -> WorkflowDefinition:
        row = await session.get(WorkflowDefinition, workflow_id)  # the bug: no tenant check
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        return row

    monkeypatch.setattr(workflow_repo, "get_workflow", get_workflow_forgetting_the_tenant)
    stolen = await client.get(f"/v1/workflows/{their_workflow}", headers=mine.designer)
    assert stolen.status_code == 404, stolen.text
    assert "their-secret-name" not in stolen.text and "definition_graph" not in stolen.text
    # The patched function is really in use: their own request still finds it.
    assert (await client.get(f"/v1/workflows/{their_workflow}", headers=theirs.designer)).status_code == 200
