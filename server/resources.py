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
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.credentials import CredentialCipher
from eawe.db.database import Database, open_database, resolve_conninfo
from eawe.settings import Settings
from server.rag import RagResources, open_rag

__all__ = ["ServerResources", "get_resources", "open_server_resources"]

_log = logging.getLogger(__name__)
_API_KEY_CACHE_SIZE = 1024


@dataclass
class ServerResources:
    """Process-wide handles. ``engine`` and ``rag`` are filled by their packages' adapters."""

    settings: Settings
    database: Database
    cipher: CredentialCipher
    rag: RagResources
    engine: Any = None
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
async def open_server_resources(
    settings: Settings, *, auto_migrate: bool | None = None, run_worker: bool = True
) -> AsyncIterator[ServerResources]:
    """Open the database (migrating it in embedded mode), the engine and the RAG stack."""
    async with AsyncExitStack() as stack:
        conninfo = await asyncio.to_thread(resolve_conninfo, settings)
        if auto_migrate if auto_migrate is not None else settings.embedded_mode:
            from eawe.db.migrate import upgrade

            applied = await asyncio.to_thread(upgrade, conninfo)
            for name in applied:
                _log.info("applied migration %s", name)
        database = await open_database(settings, conninfo=conninfo)
        stack.push_async_callback(database.dispose)
        rag = await stack.enter_async_context(open_rag(settings))
        resources = ServerResources(
            settings=settings,
            database=database,
            cipher=CredentialCipher(settings.parsed_credential_keys()),
            rag=rag,
        )
        yield resources
