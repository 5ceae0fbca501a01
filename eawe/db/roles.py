"""The database roles EAWE runs as: the schema's owner, and the application's login in ``eawe_app``.

Migration ``row_level_security`` creates ``eawe_app``: it owns no table and cannot bypass
row-level security, and holds the table privileges the application needs. The application
logs in as a member of it — embedded (and in the tests) as ``eawe_runtime``, created here;
with an external database as whatever login ``DATABASE_URL`` names, e.g.::

    CREATE ROLE eawe_web LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS IN ROLE eawe_app;
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

__all__ = [
    "APP_ROLE",
    "RUNTIME_LOGIN",
    "check_app_role",
    "ensure_runtime_login",
    "runtime_login_conninfo",
]

APP_ROLE = "eawe_app"
RUNTIME_LOGIN = "eawe_runtime"


def runtime_login_conninfo(owner_conninfo: str) -> str:
    """``owner_conninfo`` logging in as :data:`RUNTIME_LOGIN` instead (a local trusted socket)."""
    return (
        make_url(owner_conninfo)
        .set(username=RUNTIME_LOGIN, password=None)
        .render_as_string(hide_password=False)
    )


def login_name(conninfo: str) -> str | None:
    return make_url(conninfo).username


def ensure_runtime_login(conn: psycopg.Connection[Any]) -> None:
    """Create :data:`RUNTIME_LOGIN` in :data:`APP_ROLE` if missing (needs CREATEROLE)."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RUNTIME_LOGIN,)).fetchone()
    if exists is None:
        try:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(
                    sql.Identifier(RUNTIME_LOGIN)
                )
            )
        except psycopg.errors.DuplicateObject:  # another process created it meanwhile
            pass
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), sql.Identifier(RUNTIME_LOGIN)))


def check_app_role(conninfo: str) -> str | None:
    """Why row-level security would not bind the application's login, or None if it does."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT r.rolname, r.rolsuper, r.rolbypassrls,"
            " (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind = 'r'"
            "  AND c.relrowsecurity) AS owned"
            " FROM pg_roles r WHERE r.rolname = current_user"
        ).fetchone()
    assert row is not None
    name, superuser, bypass, owned = row
    if superuser or bypass:
        reason = "is a superuser" if superuser else "has BYPASSRLS"
    elif owned:
        reason = f"owns {owned} tenant tables"
    else:
        return None
    return (
        f"row-level security is not enforced: the application's database login {name!r} {reason}; "
        f"set DATABASE_URL to a login in role {APP_ROLE} and DATABASE_OWNER_URL to the owner"
    )
