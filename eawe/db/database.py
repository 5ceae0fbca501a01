"""Connections to the relational store: SQLAlchemy 2 async over psycopg 3.

SQLAlchemy's async ORM on psycopg 3 gives typed models, unit-of-work transactions and
``SELECT ... FOR UPDATE`` without hand-written SQL, and psycopg 3 is the same driver the
LangGraph Postgres checkpointer uses, so one driver serves the whole process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from eawe.db.tenant_scope import ScopedSession
from eawe.settings import Settings

__all__ = [
    "Conninfos",
    "Database",
    "open_app_database",
    "open_database",
    "resolve_conninfo",
    "resolve_conninfos",
    "to_sqlalchemy_url",
]

_log = logging.getLogger(__name__)


@dataclass
class Database:
    """The process's handle on PostgreSQL."""

    conninfo: str
    sqlalchemy_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commits on success, rolls back on any error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def to_sqlalchemy_url(conninfo: str) -> str:
    """``postgresql://...`` → ``postgresql+psycopg://...`` (keeps query parameters such as ``host``)."""
    url = make_url(conninfo)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Conninfos:
    """The two ways into the database.

    Attributes:
        owner: The role that owns the schema: migrations and LangGraph's table setup only.
        app: Everything else: a member of ``eawe_app``, which owns no table, so PostgreSQL's
            row-level security applies to it (see :mod:`eawe.db.tenant_scope`).
    """

    owner: str
    app: str


def resolve_conninfos(settings: Settings) -> Conninfos:
    """``DATABASE_URL`` (+ ``DATABASE_OWNER_URL``), or the embedded server (started if needed).

    Embedded, the owner is the server's superuser and the application logs in as
    ``eawe_runtime`` (created by :func:`eawe.db.owner_upgrade.upgrade_database`).
    """
    if settings.database_url:
        app = _libpq(settings.database_url)
        owner = _libpq(settings.database_owner_url) if settings.database_owner_url else app
        return Conninfos(owner=owner, app=app)
    from eawe.db.embedded import start_embedded_postgres
    from eawe.db.roles import runtime_login_conninfo

    owner = start_embedded_postgres(settings.data_dir)
    return Conninfos(owner=owner, app=runtime_login_conninfo(owner))


def resolve_conninfo(settings: Settings) -> str:
    """The application's libpq URI (see :func:`resolve_conninfos`)."""
    return resolve_conninfos(settings).app


async def open_database(settings: Settings, *, conninfo: str | None = None) -> Database:
    """Open the engine. Starts the embedded PostgreSQL when ``DATABASE_URL`` is unset; does not migrate."""
    if conninfo is None:
        conninfo = await asyncio.to_thread(resolve_conninfo, settings)
    sa_url = to_sqlalchemy_url(conninfo)
    # Timestamps are stored as naive UTC (Prisma's timestamp(3)); pin the session time zone.
    engine = create_async_engine(
        sa_url,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC"},
    )
    return Database(
        conninfo=conninfo,
        sqlalchemy_url=sa_url,
        engine=engine,
        # ScopedSession: each transaction starts in the caller's tenant scope (row-level security).
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ScopedSession),
    )


async def _upgrade(conninfos: Conninfos) -> None:
    from eawe.db.owner_upgrade import upgrade_database

    for name in await asyncio.to_thread(upgrade_database, conninfos):
        _log.info("applied migration %s", name)


async def open_app_database(
    settings: Settings, *, migrate: bool | None = None, check_role: bool = True
) -> Database:
    """The one start-up sequence of every EAWE process: conninfos → upgrade → database.

    Args:
        migrate: Apply pending migrations as the owner first (default: in embedded mode only;
            with an external database run ``eawe db upgrade`` at deploy time).
        check_role: Warn when row-level security would not bind the application's login (a
            superuser, BYPASSRLS, or the tables' owner). Off for operator commands, which act
            on every tenant anyway.
    """
    from eawe.db.roles import check_app_role

    conninfos = await asyncio.to_thread(resolve_conninfos, settings)
    wanted = migrate if migrate is not None else settings.embedded_mode
    if wanted and conninfos.owner != conninfos.app:  # the owner migrates (and makes the login)
        await _upgrade(conninfos)
    unbound = await asyncio.to_thread(check_app_role, conninfos.app)  # None: RLS binds the login
    if wanted and conninfos.owner == conninfos.app:
        if unbound is None:  # only DATABASE_URL, and it is an application login: no DDL allowed
            _log.info("not migrating: set DATABASE_OWNER_URL (or run `eawe db upgrade` with it)")
        else:
            await _upgrade(conninfos)
    if unbound and check_role:
        _log.warning("%s", unbound)
    return await open_database(settings, conninfo=conninfos.app)
