"""Apply Prisma's migrations from Python, recorded exactly as ``prisma migrate deploy`` records them.

Prisma owns the schema (``schema.prisma``) and writes each migration as
``eawe/db/migrations/<timestamp>_<name>/migration.sql``; the folder ships inside the
package. This module applies the pending ones with psycopg 3 and books them in Prisma's
own ``_prisma_migrations`` table (same DDL, same checksum), so ``prisma migrate status``
and ``prisma migrate deploy`` agree with EAWE on what is applied, and either tool can take
over from the other.

Guarantees:
    * One upgrade at a time: a session advisory lock on Prisma Migrate's own key, so EAWE
      processes and a concurrent ``prisma migrate deploy`` queue behind each other.
    * Nothing half-applied: each migration runs in its own transaction together with its
      ``_prisma_migrations`` row; a failure rolls both back and stops the upgrade.
    * Refusals, naming the migration: an applied migration whose file changed, a failed
      migration recorded by Prisma (``finished_at`` and ``rolled_back_at`` both null), a
      migration the database has but this package does not.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors

from eawe.errors import EAWEError

__all__ = [
    "MIGRATIONS_TABLE",
    "PRISMA_MIGRATE_LOCK_KEY",
    "Migration",
    "MigrationError",
    "MigrationState",
    "MigrationStatus",
    "load_migrations",
    "migration_checksum",
    "migration_status",
    "upgrade",
]

_log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_prisma_migrations"

#: Prisma Migrate's advisory lock key (``SELECT pg_advisory_lock(72707369)`` in its schema
#: engine). Sharing it serialises EAWE upgrades with ``prisma migrate`` runs.
PRISMA_MIGRATE_LOCK_KEY = 72707369

# Prisma's DDL for its bookkeeping table, column for column.
_CREATE_MIGRATIONS_TABLE = b"""
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""

_MIGRATION_FILE = "migration.sql"
_LOCK_FILE = "migration_lock.toml"
_PROVIDER = "postgresql"


class MigrationError(EAWEError):
    """The migration history cannot be applied as it stands; the message says which migration and why."""

    title = "Migration error"


@dataclass(frozen=True)
class Migration:
    """One migration folder: its name (``<timestamp>_<name>``) and the exact bytes of ``migration.sql``."""

    name: str
    script: bytes

    @property
    def checksum(self) -> str:
        """The checksum Prisma records for this script (sha256, lowercase hex)."""
        return migration_checksum(self.script)


class MigrationState(StrEnum):
    """Where one migration stands in a database."""

    APPLIED = "applied"
    PENDING = "pending"
    #: Recorded as started by Prisma but neither finished nor rolled back.
    FAILED = "failed"
    #: Applied, but the file has changed since (checksum mismatch).
    MODIFIED = "modified"
    #: Applied in the database, absent from this package (the database is ahead of the code).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class MigrationStatus:
    """The state of one migration, from the files and the ``_prisma_migrations`` rows."""

    name: str
    state: MigrationState
    checksum: str | None
    """Checksum of the local file (``None`` for a migration missing locally)."""
    recorded_checksum: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    logs: str | None = None

    @property
    def applied(self) -> bool:
        """True when the migration is in the database (whether or not its file changed since)."""
        return self.state in (MigrationState.APPLIED, MigrationState.MODIFIED, MigrationState.UNKNOWN)


def migration_checksum(script: bytes) -> str:
    """Prisma's checksum of a migration script: sha256 of its bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(script).hexdigest()


def _matches_recorded_checksum(script: bytes, recorded: str) -> bool:
    """Prisma's comparison: line-ending agnostic, and tolerant of its old unpadded hex format."""
    for variant in (script, script.replace(b"\r\n", b"\n"), script.replace(b"\n", b"\r\n")):
        digest = hashlib.sha256(variant).digest()
        if len(recorded) == 64:
            if digest.hex() == recorded:
                return True
        elif "".join(f"{byte:x}" for byte in digest) == recorded:
            return True
    return False


def _default_directory() -> Traversable:
    return files("eawe.db").joinpath("migrations")


def load_migrations(directory: Traversable | Path | None = None) -> list[Migration]:
    """Read the migration folders in name order, as Prisma does.

    Args:
        directory: A Prisma migrations folder; defaults to the one shipped in ``eawe/db/migrations``.

    Raises:
        MigrationError: The folder, its ``migration_lock.toml`` or a ``migration.sql`` is missing,
            or the lock file names a provider other than PostgreSQL.
    """
    root: Traversable = directory if directory is not None else _default_directory()
    if not root.is_dir():
        raise MigrationError(f"migrations folder not found: {root}")
    lock_file = root.joinpath(_LOCK_FILE)
    if not lock_file.is_file():
        raise MigrationError(f"{_LOCK_FILE} is missing from the migrations folder {root}")
    provider = tomllib.loads(lock_file.read_text(encoding="utf-8")).get("provider")
    if provider != _PROVIDER:
        raise MigrationError(f"{_LOCK_FILE}: provider is {provider!r}, expected {_PROVIDER!r}")
    migrations = []
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if not entry.is_dir() or entry.name.startswith((".", "__")):
            continue
        script = entry.joinpath(_MIGRATION_FILE)
        if not script.is_file():
            raise MigrationError(f"migration {entry.name}: {_MIGRATION_FILE} is missing")
        migrations.append(Migration(name=entry.name, script=script.read_bytes()))
    return migrations


@dataclass(frozen=True)
class _Row:
    migration_name: str
    checksum: str
    started_at: datetime
    finished_at: datetime | None
    rolled_back_at: datetime | None
    logs: str | None


def _read_rows(conn: psycopg.Connection) -> list[_Row]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{MIGRATIONS_TABLE}"',)).fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        'SELECT "migration_name", "checksum", "started_at", "finished_at", "rolled_back_at", "logs" '
        'FROM "_prisma_migrations" ORDER BY "started_at", "migration_name"'
    ).fetchall()
    return [_Row(*row) for row in rows]


def _statuses(migrations: Sequence[Migration], rows: Iterable[_Row]) -> list[MigrationStatus]:
    live = [row for row in rows if row.rolled_back_at is None]  # a rolled-back row no longer counts
    by_name: dict[str, list[_Row]] = {}
    for row in live:
        by_name.setdefault(row.migration_name, []).append(row)

    statuses = []
    for migration in migrations:
        recorded = by_name.pop(migration.name, [])
        failed = [row for row in recorded if row.finished_at is None]
        finished = [row for row in recorded if row.finished_at is not None]
        if failed:
            row = failed[-1]
            state = MigrationState.FAILED
        elif finished:
            row = finished[-1]
            matches = _matches_recorded_checksum(migration.script, row.checksum)
            state = MigrationState.APPLIED if matches else MigrationState.MODIFIED
        else:
            statuses.append(MigrationStatus(migration.name, MigrationState.PENDING, migration.checksum))
            continue
        statuses.append(
            MigrationStatus(
                name=migration.name,
                state=state,
                checksum=migration.checksum,
                recorded_checksum=row.checksum,
                started_at=row.started_at,
                finished_at=row.finished_at,
                logs=row.logs,
            )
        )
    for name, recorded in sorted(by_name.items()):
        row = recorded[-1]
        state = MigrationState.FAILED if row.finished_at is None else MigrationState.UNKNOWN
        statuses.append(
            MigrationStatus(
                name=name,
                state=state,
                checksum=None,
                recorded_checksum=row.checksum,
                started_at=row.started_at,
                finished_at=row.finished_at,
                logs=row.logs,
            )
        )
    return statuses


def migration_status(conninfo: str, *, directory: Traversable | Path | None = None) -> list[MigrationStatus]:
    """Report every migration, local or recorded, with its state. Reads only; takes no lock.

    Args:
        conninfo: libpq connection string of the target database.
        directory: Migrations folder; defaults to the packaged ``eawe/db/migrations``.
    """
    migrations = load_migrations(directory)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return _statuses(migrations, _read_rows(conn))


def _refuse_broken_history(statuses: Sequence[MigrationStatus]) -> None:
    for status in statuses:
        if status.state is MigrationState.FAILED:
            raise MigrationError(
                f"migration {status.name} is recorded as failed (started {status.started_at}, never "
                "finished or rolled back); repair the database, then mark it with `prisma migrate "
                f'resolve --rolled-back "{status.name}"` or `--applied "{status.name}"`'
            )
        if status.state is MigrationState.MODIFIED:
            raise MigrationError(
                f"migration {status.name} was modified after it was applied: its checksum is now "
                f"{status.checksum}, the database recorded {status.recorded_checksum}; restore the "
                "original file and put the change in a new migration"
            )
        if status.state is MigrationState.UNKNOWN:
            raise MigrationError(
                f"migration {status.name} is applied in the database but missing from this EAWE "
                "package; the database was upgraded by a newer version"
            )


def _apply_one(conn: psycopg.Connection, migration: Migration) -> None:
    """Apply one migration and book it, in one transaction."""
    migration_id = str(uuid.uuid4())
    try:
        with conn.transaction():
            conn.execute(
                'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at") '
                "VALUES (%s, %s, %s, clock_timestamp())",
                (migration_id, migration.checksum, migration.name),
            )
            # Without parameters psycopg sends the script with the simple query protocol,
            # which runs its several statements, as Prisma does.
            conn.execute(migration.script)
            conn.execute(
                'UPDATE "_prisma_migrations" SET "finished_at" = clock_timestamp(), '
                '"applied_steps_count" = 1 WHERE "id" = %s',
                (migration_id,),
            )
    except psycopg.Error as exc:
        detail = exc.diag.message_primary or type(exc).__name__
        raise MigrationError(
            f"migration {migration.name} failed and was rolled back (nothing recorded): {detail}"
        ) from exc


def upgrade(
    conninfo: str,
    *,
    directory: Traversable | Path | None = None,
    lock_timeout_seconds: float = 300.0,
) -> list[str]:
    """Apply every pending migration in name order and return the names applied (``[]`` if none).

    Args:
        conninfo: libpq connection string of the target database (its owner, or a role allowed
            to run the DDL).
        directory: Migrations folder; defaults to the packaged ``eawe/db/migrations``.
        lock_timeout_seconds: How long to wait for another upgrade (EAWE or ``prisma migrate``)
            to release the migration lock.

    Raises:
        MigrationError: A migration is recorded as failed, was modified after being applied, is
            unknown to this package, or failed now (its transaction was rolled back); or the
            lock was not obtained in time.
    """
    migrations = load_migrations(directory)
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = '{int(lock_timeout_seconds * 1000)}ms'".encode())
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_MIGRATE_LOCK_KEY,))
        except pg_errors.LockNotAvailable as exc:
            raise MigrationError(
                f"another migration run held the migration lock for more than {lock_timeout_seconds:g} s"
            ) from exc
        try:
            conn.execute(b"RESET lock_timeout")
            conn.execute(_CREATE_MIGRATIONS_TABLE)
            statuses = _statuses(migrations, _read_rows(conn))
            _refuse_broken_history(statuses)
            pending = {status.name for status in statuses if status.state is MigrationState.PENDING}
            for migration in migrations:
                if migration.name in pending:
                    _apply_one(conn, migration)
                    applied.append(migration.name)
                    _log.info("applied migration %s", migration.name)
        finally:
            if not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_MIGRATE_LOCK_KEY,))
    return applied
