"""Start-up checks for ``eawe serve`` and ``eawe run``, made before anything heavy starts.

One ``eawe serve`` owns a data directory: it holds an exclusive lock on ``<data dir>/serve.lock``
for its life (the OS drops it when the process dies, so a crash leaves nothing stale). A second
``serve`` on the same directory, or an ``eawe run`` beside it (whose run the server's worker would
take), is refused with one line instead of a traceback. The listening port is checked before
PostgreSQL starts and migrations run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

__all__ = [
    "DataDirLock",
    "ServeRefusedError",
    "check_port_free",
    "data_dir_server_pid",
    "first_start",
    "lock_data_dir",
]

_LOCK_NAME = "serve.lock"
_STARTED_MARK = "served-before"


class ServeRefusedError(RuntimeError):
    """A start-up check failed; the message is the one line to print."""


class DataDirLock:
    """The held lock (keep a reference for the life of the process)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def _lock_path(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / _LOCK_NAME


def data_dir_server_pid(data_dir: Path) -> int | None:
    """The pid of the ``eawe serve`` holding ``data_dir``, or None when none does."""
    path = _lock_path(data_dir)
    if not path.exists():
        return None
    with path.open("r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Take the data directory for this ``serve``.

    Raises:
        ServeRefusedError: Another ``eawe serve`` holds it.
    """
    path = _lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ServeRefusedError(
            f"another `eawe serve` (pid {holder}) is already using {path.parent}; stop it, or give this "
            "one its own EAWE_DATA_DIR"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return DataDirLock(handle)


def check_port_free(host: str, port: int) -> None:
    """Raises ServeRefusedError when ``host:port`` cannot be bound (checked before PostgreSQL starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (
                "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            )
            raise ServeRefusedError(f"port {port} on {host} {reason}; pass --port to pick another") from None


def first_start(data_dir: Path) -> bool:
    """True the first time ``serve`` starts on ``data_dir`` (then remembered there)."""
    mark = data_dir.expanduser().resolve() / _STARTED_MARK
    if mark.exists():
        return False
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()
    return True
