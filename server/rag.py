"""The server's retrieval stack: one chunk store per process, shared by routes and runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from eawe.settings import Settings
from retrieval import ChunkStore, open_chunk_store
from server.task_set import TaskSet

__all__ = ["RagResources", "open_rag"]


@dataclass
class RagResources:
    """The chunk store (embedded Qdrant allows one opener per directory) and indexing tasks."""

    store: ChunkStore
    tasks: TaskSet = field(default_factory=TaskSet)


@asynccontextmanager
async def open_rag(settings: Settings) -> AsyncIterator[RagResources]:
    store = await asyncio.to_thread(open_chunk_store, settings)
    rag = RagResources(store=store)
    try:
        yield rag
    finally:
        await rag.tasks.close()
        await asyncio.to_thread(store.close)
