"""A worker's liveness: a PostgreSQL session lock that dies with the process, so runs are
reclaimed in seconds after a crash instead of after their lease.

Each process that claims runs opens one dedicated connection and holds on it the advisory lock of
its worker id (:data:`checkpoints.leases.LIVENESS_LOCK_SQL`). When the process dies (kill -9, OOM,
power) the kernel closes the socket, PostgreSQL ends the session and drops the lock, and the next
claim by any other worker treats the dead worker's RUNNING runs as claimable
(``checkpoints.leases``).

Never one run in two places: the claim and the lease renewal both require the owner's lock, and
this module watches its connection. When the connection is lost while the process lives (a
database restart, a network cut, the session terminated), the process may already have been
declared dead, so it

* takes a new worker id at once (``resources.worker_id``): every later write of an in-flight
  execution is guarded by ``leaseOwner`` and no longer matches, so it writes nothing, and its
  next heartbeat loses the run;
* cancels the executions it guards (:func:`execute_guarded`), so no further node, tool call or
  checkpoint happens in this process;
* reconnects and takes the lock of the new id; until then it claims nothing (the claim needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.conninfo

from checkpoints.execution import execute_claimed
from checkpoints.leases import LIVENESS_LOCK_SQL, ClaimedRun
from eawe.db.tenant_scope import tenant_scope

if TYPE_CHECKING:
    from checkpoints.resources import EngineResources
    from eawe.db.models import RunStatus

__all__ = ["WorkerLiveness", "execute_guarded"]

logger = logging.getLogger(__name__)

# TCP keepalives: a silently vanished database host is noticed within ~10 s, not hours.
_KEEPALIVE_PARAMS = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


class WorkerLiveness:
    """Holds the liveness lock of ``resources.worker_id`` on a connection of its own.

    Args:
        conninfo: libpq connection string of the engine's database.
        resources: The engine's resources; ``worker_id`` is replaced when liveness is lost.
        check_seconds: How often the connection is probed.
        reconnect_seconds: Wait between reconnection attempts after a loss.
    """

    def __init__(
        self,
        conninfo: str,
        resources: EngineResources,
        *,
        check_seconds: float = 0.5,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self.conninfo = conninfo
        self.resources = resources
        self.check_seconds = check_seconds
        self.reconnect_seconds = reconnect_seconds
        self._base_id = resources.worker_id
        self._generation = itertools.count(1)
        self._conn: psycopg.AsyncConnection[object] | None = None
        self._guarded: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self.alive = asyncio.Event()
        self.losses = 0
        """How many times the lock was lost while the process ran."""

    async def _lock(self) -> None:
        conninfo = psycopg.conninfo.make_conninfo(
            self.conninfo, application_name="eawe-liveness", **_KEEPALIVE_PARAMS
        )
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        try:
            await conn.execute(LIVENESS_LOCK_SQL, (self.resources.worker_id,))
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.alive.set()

    async def start(self) -> None:
        """Take the lock (raises if the database cannot be reached) and start watching it."""
        await self._lock()
        self._watch = asyncio.create_task(self._watch_connection(), name="eawe-worker-liveness")

    def guard(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task`` if liveness is lost before it finishes."""
        self._guarded.add(task)
        task.add_done_callback(self._guarded.discard)

    async def _probe(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            async with asyncio.timeout(max(self.check_seconds * 4, 2.0)):
                await conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError, OSError):
            return False
        return True

    def _lost(self) -> None:
        self.alive.clear()
        self.losses += 1
        lost_id = self.resources.worker_id
        # A new id first: from here on no write of an execution still in flight matches its lease.
        self.resources.worker_id = f"{self._base_id}#{next(self._generation)}"
        cancelled = [task for task in self._guarded if not task.done()]
        for task in cancelled:
            task.cancel()
        logger.error(
            "worker %s lost its liveness connection; stopped %d execution(s), continuing as %s",
            lost_id,
            len(cancelled),
            self.resources.worker_id,
        )

    async def _watch_connection(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            if await self._probe():
                continue
            self._lost()
            await self._close_connection()
            while True:
                try:
                    await self._lock()
                    logger.info("worker %s holds its liveness lock again", self.resources.worker_id)
                    break
                except (psycopg.Error, OSError):
                    await asyncio.sleep(self.reconnect_seconds)

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    async def close(self) -> None:
        """Stop watching and release the lock (close the connection)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        self.alive.clear()
        await self._close_connection()


async def execute_guarded(resources: EngineResources, claimed: ClaimedRun) -> RunStatus | None:
    """``execute_claimed`` in a task the process's liveness cancels when it is lost.

    Returns None (like a lost lease) when the execution was stopped that way.
    """
    with tenant_scope(claimed.tenant_id):  # the execution's task sees its tenant's rows only
        task: asyncio.Task[RunStatus | None] = asyncio.ensure_future(execute_claimed(resources, claimed))
    liveness = resources.liveness
    if liveness is not None:
        liveness.guard(task)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled() and not _current_cancelling():
            logger.warning("run %s: stopped because this worker lost its liveness", claimed.id)
            return None
        task.cancel()  # we were cancelled ourselves (shutdown): pass it on
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise


def _current_cancelling() -> int:
    current = asyncio.current_task()
    return current.cancelling() if current is not None else 0
