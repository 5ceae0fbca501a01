"""PostgreSQL down: every route answers 503 problem+json with Retry-After (like /health), and the
embedded PostgreSQL that ``serve`` started is brought back without restarting the server."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import psutil

from eawe.settings import Settings
from server.app import create_app
from tests.server.api_tenants import assert_problem


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir.resolve() / "postgres" / "postmaster.pid").read_text().splitlines()[0])


async def test_embedded_postgres_killed_gives_503_then_recovers(tmp_path: Path) -> None:
    settings = Settings(
        environment="test", data_dir=tmp_path / "eawe", embedded_postgres_check_seconds=0.5, _env_file=None
    )
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eawe.test") as http:
            assert (await http.get("/health")).status_code == 200
            killed = _postmaster_pid(settings.data_dir)
            os.kill(killed, signal.SIGKILL)
            await asyncio.to_thread(psutil.Process(killed).wait, 10)

            down_seen = {"health": False, "api": False}
            for _ in range(200):
                health = await http.get("/health")
                api = await http.post("/v1/auth/token", data={"username": "a@b.io", "password": "x" * 8})
                if health.status_code == 503:
                    assert_problem(health, 503)
                    assert health.headers["retry-after"]
                    down_seen["health"] = True
                if api.status_code == 503:
                    assert_problem(api, 503)
                    assert int(api.headers["retry-after"]) > 0
                    down_seen["api"] = True
                else:
                    # Never a 500 while the database is down or coming back.
                    assert api.status_code == 401, api.text
                if health.status_code == 200 and api.status_code == 401:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the embedded PostgreSQL did not come back")
            assert down_seen["api"], "no request saw the outage: the kill was not observed"
            assert _postmaster_pid(settings.data_dir) != killed
