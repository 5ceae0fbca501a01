"""``eawe --version``, ``eawe tenant list`` and ``eawe user create``, as real subprocesses.

Errors are one line on stderr with exit status 2; a password never travels on the command line
and never shows in the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import psycopg

from eawe.passwords import verify_password
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS

EAWE = [sys.executable, "-m", "cli"]


def _env(database_conninfo: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EAWE_", "DATABASE_URL", "OPENAI_"))}
    env.update(
        DATABASE_URL=database_conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        EAWE_JWT_SECRET="accounts-test-secret-0123456789abcdef",
        COLUMNS="60",  # a narrow terminal must not wrap an error
    )
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EAWE, *args], input=stdin, env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return lines[0]


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    done = _run(["--version"], dict(os.environ), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"eawe {version('eawe')}"


def test_user_create_and_tenant_list(owner_conninfo: str, database_conninfo: str, tmp_path: Path) -> None:
    env = _env(database_conninfo, tmp_path / "data")
    made = _run(
        [
            "tenant",
            "create",
            "Accounts Co",
            "--admin-email",
            "root@accounts.io",
            "--admin-password",
            "pass-word-1",
        ],
        env,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr

    password = "canary-pass-word-77"
    created = _run(
        [
            "user",
            "create",
            "Reviewer@Accounts.io",
            "--tenant",
            "Accounts Co",
            "--role",
            "operator",
            "--groups",
            "finance, legal",
            "--name",
            "Rita Reviewer",
            "--password-stdin",
        ],
        env,
        tmp_path,
        stdin=password + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert "reviewer@accounts.io (OPERATOR) created in tenant 'Accounts Co'" in created.stdout
    assert password not in created.stdout + created.stderr
    with psycopg.connect(owner_conninfo) as conn:
        row = conn.execute(
            """SELECT u.role::text, u.groups, u.name, u.password FROM "User" u JOIN "Tenant" t
               ON t.id = u."tenantId" WHERE t.name = 'Accounts Co' AND u.email = 'reviewer@accounts.io'"""
        ).fetchone()
    assert row is not None and row[:3] == ("OPERATOR", ["finance", "legal"], "Rita Reviewer")
    assert row[3] != password and verify_password(row[3], password)

    listed = _run(
        ["tenant", "list"], _env(database_conninfo, tmp_path / "data") | {"COLUMNS": "200"}, tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if "Accounts Co" in line]
    assert [cell.strip() for cell in line.strip("│┃ ").split("│")][1:3] == ["Accounts Co", "2"]

    again = _run(
        ["user", "create", "reviewer@accounts.io", "--tenant", "Accounts Co", "--password-stdin"],
        env,
        tmp_path,
        stdin=password,
    )
    assert "already exists" in _one_error_line(again)
    short = _run(
        ["user", "create", "new@accounts.io", "--tenant", "Accounts Co", "--password-stdin"],
        env,
        tmp_path,
        stdin="short",
    )
    assert "password: must be at least 8 characters" in _one_error_line(short)
    bad_email = _run(
        ["user", "create", "not-an-email", "--tenant", "Accounts Co", "--password-stdin"],
        env,
        tmp_path,
        stdin=password,
    )
    assert _one_error_line(bad_email).startswith("error: email:")
    typo = _run(
        ["user", "create", "x@accounts.io", "--tenant", "No-such-tenant", "--password-stdin"],
        env,
        tmp_path,
        stdin=password,
    )
    assert "tenant 'No-such-tenant' not found" in _one_error_line(typo)
    with psycopg.connect(owner_conninfo) as conn:
        users = conn.execute(
            """SELECT count(*) FROM "User" u JOIN "Tenant" t ON t.id = u."tenantId"
               WHERE t.name = 'Accounts Co'"""
        ).fetchone()
    assert users == (2,)  # nothing half-written by the refused ones
