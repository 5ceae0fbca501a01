"""``eawe worker`` beside an embedded-Qdrant ``eawe serve`` (issue 13, finding 7), as a real subprocess.

Before: the worker started with a warning and then paused every retrieval run with an error.
Now it refuses at once with a one-line reason and a non-zero exit, unless told it needs no
retrieval (``--no-retrieval``), in which case it starts and works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS

EAWE = [sys.executable, "-m", "cli"]


def _env(conninfo: str, data_dir: Path) -> dict[str, str]:
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
        EAWE_JWT_SECRET="worker-test-secret-0123456789abcdef",
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        COLUMNS="60",  # a narrow terminal must not wrap the reason
    )
    return env


def test_worker_on_embedded_qdrant_refuses_with_one_line(database_conninfo: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [*EAWE, "worker"],
        env=_env(database_conninfo, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "QDRANT_URL" in lines[0] and "--no-retrieval" in lines[0]
    assert "Traceback" not in done.stderr


def test_worker_concurrency_below_one_is_refused_with_one_line(
    database_conninfo: str, tmp_path: Path
) -> None:
    for value in ("0", "-2"):
        done = subprocess.run(
            [*EAWE, "worker", "--no-retrieval", "--concurrency", value],
            env=_env(database_conninfo, tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1, (done.stdout, done.stderr)
        assert f"--concurrency: must be at least 1 (got {value})" in lines[0]


def test_worker_without_retrieval_starts_and_stops_cleanly(database_conninfo: str, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*EAWE, "worker", "--no-retrieval", "--concurrency", "3"],
            env=_env(database_conninfo, tmp_path),
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while "started (concurrency" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert "started (concurrency 3)" in log.read_text()
            assert "unavailable" not in log.read_text()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
