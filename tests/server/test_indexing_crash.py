"""A crash during indexing (issue 13, finding 4): kill -9 of ``eawe serve`` mid-indexing, then restart.

The dead server's document must not stay INDEXING: its indexing lease runs out, the restarted
server's sweeper fails it with a reason, and uploading the file again is accepted and indexed
(before: INDEXING for good, and every re-upload a 409 "retry later").
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from eawe.db.models import Role
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS
from tests.security.hostile_files import slow_pdf

LEASE_SECONDS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(conninfo: str, data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_JWT_SECRET="crash-test-secret-0123456789abcdef",
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        EAWE_INDEXING_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / f"serve-{port}.log").open("ab"),
        start_new_session=True,  # its own process group: the kill takes its parser processes too
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


async def _until(check, what: str, seconds: float = 90.0):  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.25)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def _healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/health")).status_code == 200
    except httpx.TransportError:
        return False


async def test_kill_during_indexing_then_restart_fails_the_document_and_reupload_works(
    tenant_factory, database_conninfo: str, tmp_path: Path
) -> None:
    made = await tenant_factory(users=[("admin@example.com", Role.ADMINISTRATOR, [])])
    admin = made.users[0]
    port = _free_port()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        with _serve(database_conninfo, tmp_path, port) as first:
            await _until(lambda: _healthy(http), "the first server")
            token = await http.post(
                "/v1/auth/token", data={"username": admin.email, "password": made.passwords[admin.email]}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            uploaded = await http.post(
                "/v1/documents",
                headers=headers,
                files={"file": ("minutes.pdf", slow_pdf(600_000), "application/pdf")},
                data={"allowed_roles": "Everyone"},
            )
            assert uploaded.status_code == 202, uploaded.text
            document_id = uploaded.json()["id"]

            async def indexing() -> bool:
                got = await http.get(f"/v1/documents/{document_id}", headers=headers)
                return got.json()["status"] == "INDEXING"

            await _until(indexing, "INDEXING")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)

        with _serve(database_conninfo, tmp_path, port):
            await _until(lambda: _healthy(http), "the restarted server")

            async def failed() -> dict | None:
                got = (await http.get(f"/v1/documents/{document_id}", headers=headers)).json()
                return got if got["status"] == "FAILED" else None

            document = await _until(failed, "the interrupted document to fail", seconds=30)
            assert "interrupted" in document["error"] and "upload the file again" in document["error"]

            again = await http.post(
                "/v1/documents",
                headers=headers,
                files={"file": ("minutes.pdf", _small_pdf(), "application/pdf")},
                data={"allowed_roles": "Everyone"},
            )
            assert again.status_code == 202, again.text
            assert again.json()["id"] == document_id

            async def completed() -> dict | None:
                got = (await http.get(f"/v1/documents/{document_id}", headers=headers)).json()
                return got if got["status"] == "COMPLETED" else None

            done = await _until(completed, "the re-uploaded document to be indexed", seconds=60)
            assert done["chunk_count"] >= 1 and done["error"] is None


def _small_pdf() -> bytes:
    from tests.retrieval.document_builders import make_pdf

    return make_pdf(["The minutes of the meeting: the budget was approved."])
