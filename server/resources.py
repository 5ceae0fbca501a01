"""What the app opens once at startup and hands to every request through ``app.state``.

No import-time globals: :func:`open_server_resources` builds everything from the
:class:`~eawe.settings.Settings` it is given and closes it all on exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints import RunEngine, RunWorker, open_engine, permissioned_retriever_factory
from checkpoints.deadlines import run_deadline_timer
from eawe.audit_sealer import running_sealer
from eawe.credentials import CredentialCipher
from eawe.db.database import Database, open_app_database
from eawe.settings import Settings
from server.login_throttle import LoginThrottle
from server.rag import RagResources, open_rag

__all__ = ["ServerResources", "get_resources", "open_server_resources"]

_log = logging.getLogger(__name__)
_API_KEY_CACHE_SIZE = 1024


@dataclass
class ServerResources:
    """Process-wide handles: the database, the run engine (checkpointer pool, events, compiled-graph
    cache) and the retrieval stack."""

    settings: Settings
    database: Database
    cipher: CredentialCipher
    rag: RagResources
    engine: RunEngine
    login_throttle: LoginThrottle
    verified_api_keys: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def remember_api_key(self, digest: str, key_id: str) -> None:
        """Cache that a key's hash verified (sha256 of the key → key id), LRU-bounded."""
        self.verified_api_keys[digest] = key_id
        self.verified_api_keys.move_to_end(digest)
        while len(self.verified_api_keys) > _API_KEY_CACHE_SIZE:
            self.verified_api_keys.popitem(last=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.database.session() as session:
            yield session


def get_resources(request: Request) -> ServerResources:
    resources = getattr(request.app.state, "resources", None)
    if resources is None:
        raise RuntimeError("server resources are not open (the app's lifespan did not run)")
    return resources


@asynccontextmanager
async def _running_worker(
    engine: RunEngine, concurrency: int, deadline_check_seconds: float = 30.0
) -> AsyncIterator[None]:
    """The in-process worker. Its first pass picks up runs a previous process left PENDING or
    RUNNING (expired lease) and resumes them from their checkpoint; paused runs stay paused.
    Beside it, the approval-deadline timer escalates overdue tasks."""
    stop = asyncio.Event()
    task = asyncio.create_task(RunWorker(engine, concurrency=concurrency).run(stop), name="eawe-run-worker")
    timer = asyncio.create_task(
        run_deadline_timer(engine.resources.database, stop, interval_s=deadline_check_seconds),
        name="eawe-deadline-timer",
    )
    try:
        yield
    finally:
        stop.set()
        await task
        await timer


async def _watch_embedded_postgres(settings: Settings, stop: asyncio.Event) -> None:
    """Restart the embedded PostgreSQL if it dies; until it is back, requests answer 503."""
    from eawe.db.embedded import restart_embedded_postgres_if_down

    while not stop.is_set():
        try:
            await asyncio.to_thread(restart_embedded_postgres_if_down, settings.data_dir)
        except Exception:
            _log.exception("restarting the embedded PostgreSQL failed; trying again")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.embedded_postgres_check_seconds)
        except TimeoutError:
            pass


@asynccontextmanager
async def _embedded_postgres_watchdog(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(_watch_embedded_postgres(settings, stop), name="eawe-postgres-watchdog")
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def open_server_resources(
    settings: Settings, *, auto_migrate: bool | None = None, run_worker: bool = True
) -> AsyncIterator[ServerResources]:
    """Open the database (migrating it in embedded mode), the RAG stack, the engine and the worker.

    Closed in reverse order: the worker drains first, the database goes last.
    """
    async with AsyncExitStack() as stack:
        database = await open_app_database(settings, migrate=auto_migrate)
        stack.push_async_callback(database.dispose)
        await stack.enter_async_context(running_sealer(settings, database.sqlalchemy_url))  # audit sealer
        if settings.embedded_mode:
            await stack.enter_async_context(_embedded_postgres_watchdog(settings))
        rag = await stack.enter_async_context(open_rag(settings, database))
        engine = await open_engine(
            settings,
            database,
            retriever_factory=permissioned_retriever_factory(rag.store),
            lease_seconds=settings.run_lease_seconds,
        )
        stack.push_async_callback(engine.close)
        if run_worker:
            await stack.enter_async_context(
                _running_worker(engine, settings.worker_concurrency, settings.deadline_check_seconds)
            )
        yield ServerResources(
            settings=settings,
            database=database,
            cipher=CredentialCipher(settings.parsed_credential_keys()),
            rag=rag,
            engine=engine,
            login_throttle=LoginThrottle.from_settings(settings),
        )
