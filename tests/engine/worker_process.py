"""A worker process for crash tests: opens an engine and runs a RunWorker until killed.

``python -m tests.engine.worker_process CONNINFO NAME LEASE_SECONDS``

Prints ``{"ready": worker_id}`` once its engine is open (it then holds its liveness lock) and
works until SIGTERM/SIGINT — or, in the tests, until it is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile

from agents import KeywordRetriever, LocalChatModelFactory, create_registry
from checkpoints import RunWorker, open_engine
from eawe.db.database import open_app_database
from eawe.settings import Settings
from tests.engine.conftest import CORPUS


async def main(conninfo: str, name: str, lease_seconds: float) -> None:
    settings = Settings(
        _env_file=None, environment="test", database_url=conninfo, data_dir=tempfile.mkdtemp()
    )
    database = await open_app_database(settings, migrate=False)  # the one start-up sequence
    engine = await open_engine(
        settings,
        database,
        registry=create_registry(plugins=False),
        chat_models=LocalChatModelFactory(),
        retriever_factory=lambda tenant_id, principal: KeywordRetriever(CORPUS),
        lease_seconds=lease_seconds,
        worker_id=f"{name}:{os.getpid()}",
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        print(json.dumps({"ready": engine.resources.worker_id}), flush=True)
        await RunWorker(engine, concurrency=8).run(stop)
    finally:
        await engine.close()
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
