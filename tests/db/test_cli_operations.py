"""``eawe credentials add`` (secret from stdin, never echoed) and ``eawe nodes list``, as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from eawe.credentials import CredentialCipher
from eawe.settings import Settings
from tests.conftest import TEST_CREDENTIAL_KEYS

EAWE = [sys.executable, "-m", "cli"]


def _env(database_conninfo: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EAWE_", "DATABASE_URL", "OPENAI_"))}
    env.update(
        DATABASE_URL=database_conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_JWT_SECRET="test-jwt-secret-not-for-production-0123456789",
    )
    return env


def test_credentials_add_reads_the_secret_from_stdin_for_the_local_tenant(
    owner_conninfo: str, database_conninfo: str, tmp_path: Path
) -> None:
    env = _env(database_conninfo, tmp_path / "data")
    secret = "sk-canary-credential-42"
    added = subprocess.run(
        [*EAWE, "credentials", "add", "invoices", "--service", "INVOICES_API"],
        input=secret + "\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    assert "'invoices' stored for tenant 'local'" in added.stdout
    assert secret not in added.stdout + added.stderr
    with psycopg.connect(owner_conninfo) as conn:
        row = conn.execute(
            """SELECT c."tenantId", c.id, c."keyVersion", c."encryptedValue", c."serviceName", c.type
               FROM "Credential" c JOIN "Tenant" t ON t.id = c."tenantId"
               WHERE t.name = 'local' AND c.name = 'invoices'"""
        ).fetchone()
    assert row is not None and row[4:] == ("INVOICES_API", "API_KEY")
    assert secret not in row[3]
    cipher = CredentialCipher(
        Settings(credential_keys=TEST_CREDENTIAL_KEYS, _env_file=None).parsed_credential_keys()
    )
    assert cipher.decrypt(row[0], row[1], row[2], row[3]) == secret

    typo = subprocess.run(
        [*EAWE, "credentials", "add", "x", "--service", "S", "--tenant", "No-such-tenant"],
        input="value\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert typo.returncode == 2 and "tenant 'No-such-tenant' not found" in typo.stderr


def test_nodes_list_names_the_built_ins(tmp_path: Path) -> None:
    listed = subprocess.run(
        [*EAWE, "nodes", "list"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    for name in (
        "llm",
        "retrieve",
        "approval",
        "router",
        "tool",
        "transform",
        "subworkflow",
        "fan_out",
        "join",
    ):
        assert f"{name} " in listed.stdout
    assert "built-in" in listed.stdout
