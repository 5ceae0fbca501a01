"""A separate EAWE process for restart tests.

``python -m tests.engine.engine_process CONNINFO ACTION [RUN_ID [LEASE_SECONDS]]``:

ACTION is ``execute`` (claim and execute RUN_ID) or ``recover`` (execute every claimable run,
retrying until one is found — used after a crashed worker's lease expires). Prints a JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile

from agents import KeywordRetriever, LocalChatModelFactory, create_registry
from checkpoints import open_engine
from eawe.db.database import open_app_database
from eawe.settings import Settings
from tests.engine.conftest import CORPUS


async def main(conninfo: str, action: str, run_id: str | None, lease_seconds: float) -> None:
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
        worker_id=f"process-{action}",
        events=False,
    )
    try:
        if action == "execute":
            assert run_id is not None
            print(json.dumps({"status": str(await engine.execute_run(run_id))}), flush=True)
        else:
            while not (done := await engine.recover()):
                await asyncio.sleep(0.2)
            print(json.dumps({"recovered": done}), flush=True)
    finally:
        await engine.close()
        await database.dispose()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(args[0], args[1], args[2] if len(args) > 2 else None, float(args[3]) if len(args) > 3 else 30.0)
    )
