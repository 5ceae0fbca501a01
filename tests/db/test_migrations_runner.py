"""eawe.db.migrate against a real PostgreSQL: Prisma's bookkeeping, refusals, locking, append-only audit.

Each test gets its own throwaway database on the session server (``pg_admin_conninfo``).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql

from eawe.db.migrate import (
    PRISMA_MIGRATE_LOCK_KEY,
    MigrationError,
    MigrationState,
    load_migrations,
    migration_checksum,
    migration_status,
    upgrade,
)

PACKAGED = load_migrations()
NAMES = [m.name for m in PACKAGED]
INIT = NAMES[0]


@pytest.fixture
def db(pg_admin_conninfo: str) -> Iterator[str]:
    """A fresh, empty database; dropped after the test."""
    name = f"eawe_t_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(pg_admin_conninfo, dbname=name)
    finally:
        with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged migrations folder."""
    target = tmp_path / "migrations"
    shutil.copytree(Path(__file__).parents[2] / "eawe" / "db" / "migrations", target)
    return target


def _rows(conninfo: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            'SELECT "id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", '
            '"started_at", "applied_steps_count" FROM "_prisma_migrations" ORDER BY "migration_name"'
        ).fetchall()


def _add_migration(folder: Path, name: str, script: str) -> None:
    (folder / name).mkdir()
    (folder / name / "migration.sql").write_text(script)


# --- discovery -----------------------------------------------------------------------------------


def test_packaged_migrations_are_found_in_name_order() -> None:
    assert len(NAMES) >= 2
    assert NAMES == sorted(NAMES)
    assert INIT.endswith("_init")
    assert any(name.endswith("_audit_append_only") for name in NAMES)
    assert all(m.script for m in PACKAGED)


def test_checksum_is_prismas() -> None:
    # The value Prisma's own checksum test pins for "hello".
    assert migration_checksum(b"hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_lock_file_must_name_postgresql(migrations_copy: Path) -> None:
    (migrations_copy / "migration_lock.toml").write_text('provider = "mysql"\n')
    with pytest.raises(MigrationError, match=r"migration_lock\.toml: provider is 'mysql'"):
        load_migrations(migrations_copy)


def test_folder_without_script_is_named(migrations_copy: Path) -> None:
    (migrations_copy / "20990101000000_empty").mkdir()
    with pytest.raises(MigrationError, match=r"20990101000000_empty: migration\.sql is missing"):
        load_migrations(migrations_copy)


# --- applying ------------------------------------------------------------------------------------


def test_upgrade_applies_all_and_records_prisma_rows(db: str) -> None:
    assert [s.state for s in migration_status(db)] == [MigrationState.PENDING] * len(NAMES)

    assert upgrade(db) == NAMES

    rows = _rows(db)
    assert [row[3] for row in rows] == NAMES
    for (row_id, checksum, finished_at, _name, logs, rolled_back_at, started_at, steps), migration in zip(
        rows, PACKAGED, strict=True
    ):
        assert str(uuid.UUID(row_id)) == row_id
        assert checksum == hashlib.sha256(migration.script).hexdigest()
        assert finished_at is not None and finished_at >= started_at
        assert logs is None and rolled_back_at is None
        assert steps == 1
    assert all(s.state is MigrationState.APPLIED and s.applied for s in migration_status(db))


def test_bookkeeping_table_has_prismas_ddl(db: str) -> None:
    upgrade(db)
    with psycopg.connect(db) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = '_prisma_migrations' "
            "ORDER BY ordinal_position"
        ).fetchall()
        primary_key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = '\"_prisma_migrations\"'::regclass AND i.indisprimary"
        ).fetchall()
    assert columns == [
        ("id", "character varying", 36, "NO", None),
        ("checksum", "character varying", 64, "NO", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        ("migration_name", "character varying", 255, "NO", None),
        ("logs", "text", None, "YES", None),
        ("rolled_back_at", "timestamp with time zone", None, "YES", None),
        ("started_at", "timestamp with time zone", None, "NO", "now()"),
        ("applied_steps_count", "integer", None, "NO", "0"),
    ]
    assert primary_key == [("id",)]


def test_second_upgrade_applies_nothing(db: str) -> None:
    upgrade(db)
    before = _rows(db)

    assert upgrade(db) == []
    assert _rows(db) == before


def test_only_the_new_migration_is_applied(db: str, migrations_copy: Path) -> None:
    upgrade(db, directory=migrations_copy)
    _add_migration(migrations_copy, "20990101000000_notes", 'CREATE TABLE "Note" ("id" TEXT PRIMARY KEY);')

    assert upgrade(db, directory=migrations_copy) == ["20990101000000_notes"]
    assert [row[3] for row in _rows(db)] == [*NAMES, "20990101000000_notes"]


def test_failing_migration_leaves_nothing_behind(db: str, migrations_copy: Path) -> None:
    _add_migration(
        migrations_copy,
        "20990101000000_broken",
        'CREATE TABLE "HalfDone" ("id" TEXT PRIMARY KEY);\nALTER TABLE "NoSuchTable" ADD COLUMN "x" INT;\n',
    )

    with pytest.raises(
        MigrationError, match=r"20990101000000_broken failed and was rolled back.*NoSuchTable"
    ):
        upgrade(db, directory=migrations_copy)

    with psycopg.connect(db) as conn:
        assert conn.execute("""SELECT to_regclass('"HalfDone"')""").fetchone() == (None,)
    assert [row[3] for row in _rows(db)] == NAMES  # the good ones before it stay applied
    status = {s.name: s.state for s in migration_status(db, directory=migrations_copy)}
    assert status["20990101000000_broken"] is MigrationState.PENDING


# --- refusals ------------------------------------------------------------------------------------


def test_changed_checksum_is_refused(db: str, migrations_copy: Path) -> None:
    upgrade(db, directory=migrations_copy)
    script = migrations_copy / INIT / "migration.sql"
    script.write_bytes(script.read_bytes() + b"\n-- an innocent-looking edit\n")
    _add_migration(migrations_copy, "20990101000000_after", 'CREATE TABLE "After" ("id" TEXT PRIMARY KEY);')

    with pytest.raises(MigrationError, match=rf"migration {INIT} was modified after it was applied"):
        upgrade(db, directory=migrations_copy)

    states = {s.name: s.state for s in migration_status(db, directory=migrations_copy)}
    assert states[INIT] is MigrationState.MODIFIED
    assert states["20990101000000_after"] is MigrationState.PENDING  # refused before applying anything


def test_line_ending_change_is_not_a_modification(db: str, migrations_copy: Path) -> None:
    # Prisma accepts a CRLF checkout of an LF-applied migration (git autocrlf); so does EAWE.
    upgrade(db, directory=migrations_copy)
    script = migrations_copy / INIT / "migration.sql"
    script.write_bytes(script.read_bytes().replace(b"\n", b"\r\n"))

    assert upgrade(db, directory=migrations_copy) == []


def test_recorded_failed_migration_is_refused_until_resolved(db: str, migrations_copy: Path) -> None:
    _add_migration(migrations_copy, "20990101000000_next", 'CREATE TABLE "Next" ("id" TEXT PRIMARY KEY);')
    upgrade(db, directory=migrations_copy)
    with psycopg.connect(db) as conn:  # what `prisma migrate deploy` leaves after a failed script
        conn.execute('DELETE FROM "_prisma_migrations" WHERE "migration_name" = %s', ("20990101000000_next",))
        conn.execute('DROP TABLE "Next"')
        conn.execute(
            'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "logs") '
            "VALUES (%s, %s, %s, 'syntax error')",
            (str(uuid.uuid4()), "0" * 64, "20990101000000_next"),
        )

    with pytest.raises(MigrationError, match=r"migration 20990101000000_next is recorded as failed"):
        upgrade(db, directory=migrations_copy)
    states = {s.name: s.state for s in migration_status(db, directory=migrations_copy)}
    assert states["20990101000000_next"] is MigrationState.FAILED

    with psycopg.connect(db) as conn:  # `prisma migrate resolve --rolled-back`
        conn.execute('UPDATE "_prisma_migrations" SET "rolled_back_at" = now() WHERE "finished_at" IS NULL')
    assert upgrade(db, directory=migrations_copy) == ["20990101000000_next"]


def test_migration_unknown_to_the_package_is_refused(db: str, migrations_copy: Path) -> None:
    _add_migration(migrations_copy, "20990101000000_newer", 'CREATE TABLE "Newer" ("id" TEXT PRIMARY KEY);')
    upgrade(db, directory=migrations_copy)

    with pytest.raises(
        MigrationError, match=r"migration 20990101000000_newer is applied in the database but missing"
    ):
        upgrade(db)
    unknown = [s for s in migration_status(db) if s.state is MigrationState.UNKNOWN]
    assert [s.name for s in unknown] == ["20990101000000_newer"]


# --- locking -------------------------------------------------------------------------------------


def test_concurrent_upgrades_apply_each_migration_once(db: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(upgrade(db))
        except BaseException as exc:
            errors.append(exc)

    # Hold the migration lock so both upgrades are provably queued on it at the same time.
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (PRISMA_MIGRATE_LOCK_KEY,))
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        waiting = 0
        for _ in range(2000):
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
                (PRISMA_MIGRATE_LOCK_KEY,),
            ).fetchone()[0]
            if waiting == 2 or errors:
                break
            threading.Event().wait(0.01)
        assert waiting == 2, f"expected both upgrades waiting on the lock, saw {waiting}; errors={errors}"
        holder.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_MIGRATE_LOCK_KEY,))
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results, key=len) == [[], NAMES]
    assert [row[3] for row in _rows(db)] == NAMES


def test_waiting_too_long_for_the_lock_is_an_error(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (PRISMA_MIGRATE_LOCK_KEY,))
        with pytest.raises(MigrationError, match=r"held the migration lock for more than 0\.2 s"):
            upgrade(db, lock_timeout_seconds=0.2)
    assert upgrade(db) == NAMES


# --- the append-only audit log -------------------------------------------------------------------


@pytest.fixture
def audited_db(db: str) -> str:
    upgrade(db)
    with psycopg.connect(db) as conn:
        conn.execute("""INSERT INTO "Tenant" ("id", "name", "updatedAt") VALUES ('t1', 'acme', now())""")
        conn.execute(
            'INSERT INTO "WorkflowDefinition" ("id", "name", "definitionGraph", "tenantId", "updatedAt") '
            "VALUES ('wd1', 'flow', '{}', 't1', now())"
        )
        conn.execute(
            'INSERT INTO "WorkflowRun" ("id", "workflowDefinitionId", "tenantId", "updatedAt") '
            "VALUES ('run1', 'wd1', 't1', now())"
        )
        conn.execute(
            'INSERT INTO "AuditLog" ("id", "workflowRunId", "action", "tenantId") '
            "VALUES ('a1', 'run1', 'WORKFLOW_STARTED', 't1')"
        )
    return db


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("""UPDATE "AuditLog" SET "action" = 'FORGED' WHERE "id" = 'a1'""", "UPDATE"),
        ("""DELETE FROM "AuditLog" WHERE "id" = 'a1'""", "DELETE"),
        ('TRUNCATE "AuditLog"', "TRUNCATE"),
        # The foreign key's ON DELETE SET NULL would rewrite the audit row: refused as well.
        ("""DELETE FROM "WorkflowRun" WHERE "id" = 'run1'""", "UPDATE"),
    ],
)
def test_audit_log_refuses_changes_even_from_its_owner(
    audited_db: str, statement: str, operation: str
) -> None:
    with psycopg.connect(audited_db) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege) as refused:
            conn.execute(statement)
        conn.rollback()
        assert "append-only" in str(refused.value)
        assert operation in str(refused.value)
        assert conn.execute('SELECT "action" FROM "AuditLog"').fetchall() == [("WORKFLOW_STARTED",)]


def test_audit_log_still_accepts_inserts(audited_db: str) -> None:
    with psycopg.connect(audited_db) as conn:
        conn.execute(
            'INSERT INTO "AuditLog" ("id", "action", "tenantId") VALUES (\'a2\', \'USER_CREATED\', \'t1\')'
        )
        assert conn.execute('SELECT count(*) FROM "AuditLog"').fetchone() == (2,)
        # ... unsealed ones only: the sealer alone sets leafIndex, hash and prevHash
        with pytest.raises(pg_errors.InsufficientPrivilege, match="sealed row"):
            conn.execute(
                'INSERT INTO "AuditLog" ("id", "action", "tenantId", "prevHash", "hash") '
                "VALUES ('a3', 'USER_CREATED', 't1', 'h1', 'h2')"
            )


def test_superuser_can_tamper_only_by_disabling_the_trigger(audited_db: str) -> None:
    # The documented way tests forge history to prove the hash chain catches it.
    with psycopg.connect(audited_db) as conn:
        conn.execute('ALTER TABLE "AuditLog" DISABLE TRIGGER "AuditLog_seal_once_row"')
        conn.execute("""UPDATE "AuditLog" SET "action" = 'FORGED' WHERE "id" = 'a1'""")
        conn.execute('ALTER TABLE "AuditLog" ENABLE TRIGGER "AuditLog_seal_once_row"')
        assert conn.execute('SELECT "action" FROM "AuditLog"').fetchall() == [("FORGED",)]
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("""UPDATE "AuditLog" SET "action" = 'AGAIN' WHERE "id" = 'a1'""")


def test_public_has_no_write_privileges_on_the_audit_log(audited_db: str) -> None:
    with psycopg.connect(audited_db) as conn:
        granted = conn.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = 'AuditLog' AND grantee = 'PUBLIC'"
        ).fetchall()
    assert not {"UPDATE", "DELETE", "TRUNCATE"} & {row[0] for row in granted}
