"""The ``eawe`` command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS

EAWE = [sys.executable, "-m", "cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_"))
    }
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EAWE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_tenant_create_and_audit_verify(owner_conninfo: str, database_conninfo: str, tmp_path: Path) -> None:
    env = _env(
        DATABASE_URL=database_conninfo,
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        EAWE_JWT_SECRET="cli-test-secret-0123456789abcdef",
        EAWE_DATA_DIR=str(tmp_path),
    )
    made = _run(
        ["tenant", "create", "Cli Co", "--admin-email", "root@cli.io", "--admin-password", "pass-word-1"],
        env,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert "Cli Co" in made.stdout and "pass-word-1" not in made.stdout + made.stderr

    dup = _run(
        ["tenant", "create", "Cli Co", "--admin-email", "x@cli.io", "--admin-password", "pass-word-1"],
        env,
        tmp_path,
    )
    assert dup.returncode == 2 and "already exists" in dup.stderr

    bad = _run(
        ["tenant", "create", "Bad Co", "--admin-email", "nope", "--admin-password", "pass-word-1"],
        env,
        tmp_path,
    )
    assert bad.returncode == 2 and "email" in bad.stderr

    ok = _run(["audit", "verify", "--tenant", "Cli Co"], env, tmp_path)
    assert ok.returncode == 0 and "ok (2 entries, tree size 2" in ok.stdout, ok.stdout + ok.stderr

    with psycopg.connect(owner_conninfo) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            'UPDATE "AuditLog" SET action = \'FORGED\' WHERE "leafIndex" = 1 AND "tenantId" = '
            '(SELECT id FROM "Tenant" WHERE name = %s)',
            ("Cli Co",),
        )
        conn.commit()
    broken = _run(["audit", "verify", "--tenant", "Cli Co"], env, tmp_path)
    assert broken.returncode == 1 and "BROKEN" in broken.stdout and "modified" in broken.stdout


def test_embedded_mode_starts_postgres_and_reuses_it(tmp_path: Path) -> None:
    env = _env(EAWE_DATA_DIR=str(tmp_path / "data"))
    first = _run(["db", "upgrade"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    second = _run(["db", "upgrade"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    made = _run(
        ["tenant", "create", "Embedded Co", "--admin-email", "e@e.io", "--admin-password", "pass-word-1"],
        env,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "data" / "secrets" / "credential-keys").exists()


def test_serve_stops_embedded_postgres_on_sigterm_even_after_a_crashed_holder(tmp_path: Path) -> None:
    import json
    import signal
    import socket
    import time
    import urllib.request

    import psutil

    data = tmp_path / "data"
    env = _env(EAWE_DATA_DIR=str(data))
    # a holder that died without releasing its handle (pid 2**22 + 1 does not exist)
    assert _run(["db", "upgrade"], env, tmp_path).returncode == 0
    (data / "postgres" / ".handle_pids.json").write_text(json.dumps([2**22 + 1]))

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [*EAWE, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("eawe serve did not become healthy")
        pg_pid = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    psutil.wait_procs([psutil.Process(pg_pid)], timeout=30) if psutil.pid_exists(pg_pid) else None
    assert not psutil.pid_exists(pg_pid) or psutil.Process(pg_pid).status() == psutil.STATUS_ZOMBIE
