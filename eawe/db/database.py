"""Connections to the relational store: SQLAlchemy 2 async over psycopg 3.

SQLAlchemy's async ORM on psycopg 3 gives typed models, unit-of-work transactions and
``SELECT ... FOR UPDATE`` without hand-written SQL, and psycopg 3 is the same driver the
LangGraph Postgres checkpointer uses, so one driver serves the whole process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from eawe.settings import Settings

__all__ = ["Database", "open_database", "resolve_conninfo", "to_sqlalchemy_url"]


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


def resolve_conninfo(settings: Settings) -> str:
    """The libpq URI to use: ``DATABASE_URL`` or the embedded server (started if needed)."""
    if settings.database_url:
        url = make_url(settings.database_url)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    from eawe.db.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir)


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
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
    )
