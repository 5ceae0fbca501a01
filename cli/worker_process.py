"""``eawe worker``: a process that only executes runs (scale-out), until SIGINT/SIGTERM.

Needs a Qdrant server (``QDRANT_URL``) for ``retrieve`` nodes when other processes also run:
the embedded engine's directory can be opened by one process at a time, so ``eawe worker``
refuses to start on the embedded engine unless told (``--no-retrieval``) that it needs none.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from checkpoints.deadlines import run_deadline_timer
from checkpoints.open_engine import open_document_retrieval, open_engine
from checkpoints.worker import RunWorker
from eawe.audit_sealer import running_sealer
from eawe.settings import Settings

__all__ = ["run_worker_forever"]

logger = logging.getLogger(__name__)


async def run_worker_forever(
    settings: Settings, *, stop: asyncio.Event | None = None, retrieval: bool = True
) -> None:
    """Open the engine and work until ``stop`` is set (or the process is told to stop).

    Args:
        retrieval: Open the chunk store and fail (raise) if it cannot be opened; False runs
            without it (``retrieve`` nodes then fail with a clear error).
    """
    from eawe.db.database import open_app_database

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
                continue
            stack.callback(loop.remove_signal_handler, sig)
        database = await open_app_database(settings)  # migrates in embedded mode
        stack.push_async_callback(database.dispose)
        await stack.enter_async_context(running_sealer(settings, database.sqlalchemy_url))  # audit sealer
        engine = await open_engine(
            settings,
            database,
            retriever_factory=(
                await open_document_retrieval(settings, stack, required=True) if retrieval else None
            ),
            lease_seconds=settings.run_lease_seconds,
        )
        stack.push_async_callback(engine.close)
        logger.info(
            "worker %s started (concurrency %d)", engine.resources.worker_id, settings.worker_concurrency
        )
        timer = asyncio.create_task(  # approval deadlines, beside the run worker
            run_deadline_timer(database, stop, interval_s=settings.deadline_check_seconds)
        )
        await RunWorker(engine, concurrency=settings.worker_concurrency).run(stop)
        await timer
        logger.info("worker %s stopped", engine.resources.worker_id)
