"""Bring a database up to date as its owner: Prisma's migrations, LangGraph's tables, privileges.

The application's login (a member of ``eawe_app``) may not create tables, so everything that
runs DDL runs here, once per start-up or ``eawe db upgrade``, with the owner's conninfo.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.store.postgres import PostgresStore
from psycopg.rows import dict_row

from eawe.db.database import Conninfos
from eawe.db.migrate import upgrade
from eawe.db.roles import APP_ROLE, RUNTIME_LOGIN, ensure_runtime_login, login_name

__all__ = ["upgrade_database"]

# The LangGraph setups run CREATE INDEX CONCURRENTLY, which waits for every older snapshot: a
# second process blocked inside pg_advisory_lock would deadlock it, so the lock is polled.
_LOCK = "eawe-owner-upgrade"
_LOCK_WAIT_SECONDS = 300.0


def _try_lock(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS got", (_LOCK,)).fetchone()
    return bool(row and row["got"])


def upgrade_database(conninfos: Conninfos) -> list[str]:
    """Apply pending migrations, set up LangGraph's checkpoint and store tables, grant them to
    ``eawe_app``, and create the embedded runtime login. Returns the migrations applied."""
    applied = upgrade(conninfos.owner)
    with psycopg.connect(conninfos.owner, autocommit=True, row_factory=dict_row) as conn:
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while not _try_lock(conn):
            if time.monotonic() > deadline:
                raise TimeoutError("another process held the database upgrade lock for too long")
            time.sleep(0.2)
        try:
            PostgresSaver(conn).setup()
            PostgresStore(conn).setup()
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
            conn.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
            conn.execute(f'REVOKE INSERT, UPDATE, DELETE ON "_prisma_migrations" FROM {APP_ROLE}')
            if login_name(conninfos.app) == RUNTIME_LOGIN and login_name(conninfos.owner) != RUNTIME_LOGIN:
                ensure_runtime_login(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK,))
    return applied
