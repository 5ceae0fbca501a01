"""``eawe audit export`` / ``eawe audit verify FILE`` as real subprocesses, against real PostgreSQL.

The attack the Merkle log exists for: a database superuser rewrites an entry and has the whole
log re-sealed, so every hash and every signature in the database is valid again. Alone, the
rewritten export verifies; a verifier holding any earlier tree head catches it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eawe.audit import append_audit
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS
from tests.db.audit_support import superuser

EAWE = [sys.executable, "-m", "cli"]


def _env(conninfo: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EAWE_", "DATABASE_URL", "OPENAI_"))}
    env.update(
        DATABASE_URL=conninfo,
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        EAWE_JWT_SECRET="cli-test-secret-0123456789abcdef",
        EAWE_DATA_DIR=str(data_dir),
    )
    return env


def _eawe(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EAWE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


async def _append(database, tenant_id: str, n: int, prefix: str) -> None:
    async with database.transaction() as session:
        for i in range(n):
            await append_audit(session, tenant_id=tenant_id, action=f"{prefix}{i}", details={"amount": i})


async def test_offline_verify_catches_a_resealed_rewrite_with_an_earlier_head(
    database, tenant_factory, tmp_path: Path
) -> None:
    made = await tenant_factory()
    tenant_id = made.tenant.id
    env = _env(database.conninfo, tmp_path / "data")
    await _append(database, tenant_id, 5, "PAY")

    keys = _eawe(["audit", "public-keys"], env, tmp_path)
    assert keys.returncode == 0, keys.stderr
    (tmp_path / "keys.json").write_text(keys.stdout)
    first = _eawe(["audit", "export", "--tenant", tenant_id, str(tmp_path / "first.jsonl")], env, tmp_path)
    assert first.returncode == 0 and "exported 6 entries" in first.stdout, first.stdout + first.stderr
    lines = [json.loads(x) for x in (tmp_path / "first.jsonl").read_text().splitlines()]
    assert lines[0]["format"] == "eawe-audit-log/1" and [x["type"] for x in lines].count("entry") == 6
    # the auditor keeps the head they saw (from the export or GET /v1/audit-logs/tree-head)
    kept = next(x for x in reversed(lines) if x["type"] == "tree_head")
    (tmp_path / "kept-head.json").write_text(json.dumps(kept))

    ok = _eawe(["audit", "verify", str(tmp_path / "first.jsonl"), "--public-key", "keys.json"], env, tmp_path)
    assert ok.returncode == 0 and "ok: 6 entries" in ok.stdout, ok.stdout + ok.stderr

    await _append(database, tenant_id, 3, "MORE")
    grown = _eawe(
        ["audit", "export", "--tenant", made.tenant.name, str(tmp_path / "grown.jsonl")], env, tmp_path
    )
    assert grown.returncode == 0, grown.stderr
    consistent = _eawe(
        ["audit", "verify", "grown.jsonl", "--public-key", "keys.json", "--trusted-head", "kept-head.json"],
        env,
        tmp_path,
    )
    assert consistent.returncode == 0 and "1 trusted head(s) consistent" in consistent.stdout, (
        consistent.stdout
    )

    # The superuser: rewrite PAY2, then wipe the sealing so the honest sealer re-hashes and re-signs all.
    superuser(
        database.conninfo,
        (
            'UPDATE "AuditLog" SET details = \'{"amount": 9000}\' '
            "WHERE \"tenantId\" = %s AND action = 'PAY2'",
            (tenant_id,),
        ),
        (
            'UPDATE "AuditLog" SET "leafIndex" = NULL, hash = NULL, "prevHash" = NULL WHERE "tenantId" = %s',
            (tenant_id,),
        ),
        ('DELETE FROM "AuditTreeHead" WHERE "tenantId" = %s', (tenant_id,)),
    )
    forged = _eawe(["audit", "export", "--tenant", tenant_id, str(tmp_path / "forged.jsonl")], env, tmp_path)
    assert forged.returncode == 0 and "exported 9 entries" in forged.stdout, forged.stdout + forged.stderr

    alone = _eawe(["audit", "verify", "forged.jsonl", "--public-key", "keys.json"], env, tmp_path)
    assert alone.returncode == 0, alone.stdout  # self-consistent and validly signed: alone, it passes
    caught = _eawe(
        ["audit", "verify", "forged.jsonl", "--public-key", "keys.json", "--trusted-head", "kept-head.json"],
        env,
        tmp_path,
    )
    assert caught.returncode == 1 and "FAILED" in caught.stdout and "rewritten" in caught.stdout, (
        caught.stdout
    )
    # an older export is as good a source of trusted heads
    caught_too = _eawe(
        ["audit", "verify", "forged.jsonl", "--public-key", "keys.json", "--trusted-head", "first.jsonl"],
        env,
        tmp_path,
    )
    assert caught_too.returncode == 1, caught_too.stdout


async def test_offline_verify_catches_an_edited_file_and_refuses_bad_input(
    database, tenant_factory, tmp_path: Path
) -> None:
    made = await tenant_factory()
    env = _env(database.conninfo, tmp_path / "data")
    await _append(database, made.tenant.id, 3, "X")
    (tmp_path / "keys.json").write_text(_eawe(["audit", "public-keys"], env, tmp_path).stdout)
    assert _eawe(["audit", "export", "--tenant", made.tenant.id, "log.jsonl"], env, tmp_path).returncode == 0

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    edited = [json.loads(x) for x in lines]
    edited[2]["details"] = {"amount": 1_000_000}
    (tmp_path / "edited.jsonl").write_text("\n".join(json.dumps(x) for x in edited) + "\n")
    bad = _eawe(["audit", "verify", "edited.jsonl", "--public-key", "keys.json"], env, tmp_path)
    assert bad.returncode == 1 and "modified" in bad.stdout, bad.stdout

    truncated = [json.loads(x) for x in lines if json.loads(x).get("action") != "X2"]
    (tmp_path / "cut.jsonl").write_text("\n".join(json.dumps(x) for x in truncated) + "\n")
    cut = _eawe(["audit", "verify", "cut.jsonl", "--public-key", "keys.json"], env, tmp_path)
    assert cut.returncode == 1 and "FAILED" in cut.stdout, cut.stdout

    other_key = tmp_path / "other.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other_key.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    wrong = _eawe(["audit", "verify", "log.jsonl", "--public-key", "other.pem"], env, tmp_path)
    assert wrong.returncode == 1 and "unknown key" in wrong.stdout, wrong.stdout
    no_key = _eawe(["audit", "verify", "log.jsonl"], env, tmp_path)
    assert no_key.returncode == 2 and "--public-key" in no_key.stderr
    not_export = _eawe(["audit", "verify", "keys.json", "--public-key", "keys.json"], env, tmp_path)
    assert not_export.returncode == 2 and "FILE" in not_export.stderr
    missing = _eawe(["audit", "export", "--tenant", "no-such-tenant", "x.jsonl"], env, tmp_path)
    assert missing.returncode == 2 and "--tenant" in missing.stderr
