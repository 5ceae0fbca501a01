"""The worker loop: claim queued runs from PostgreSQL and execute them, a few at a time.

Wakes on ``NOTIFY`` when a run is queued (start, decision, retry) and polls every few seconds
for runs whose lease expired (a crashed worker). Any number of worker processes can run
against one database; ``FOR UPDATE SKIP LOCKED`` hands each run to exactly one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from checkpoints.cron_scheduler import fire_due_crons
from checkpoints.engine import RunEngine
from checkpoints.leases import ClaimedRun, claim_next_runs, claim_run
from checkpoints.worker_liveness import execute_guarded
from eawe.db.models import RunStatus
from eawe.db.tenant_scope import system_scope

__all__ = ["RunWorker"]

logger = logging.getLogger(__name__)


class RunWorker:
    """Executes runs from the durable queue.

    Args:
        engine: The process's engine.
        concurrency: Runs executed at the same time.
        poll_seconds: Fallback poll interval (expired leases produce no notification).
        drain_seconds: On stop, how long running executions may take to settle before they are
            cancelled (a cancelled execution keeps its lease; another worker recovers it later).
    """

    def __init__(
        self,
        engine: RunEngine,
        *,
        concurrency: int = 4,
        poll_seconds: float = 2.0,
        drain_seconds: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.drain_seconds = drain_seconds
        self._running: set[asyncio.Task[object]] = set()

    async def _claim(self, limit: int) -> list[ClaimedRun]:
        resources = self.engine.resources
        with system_scope():  # claims span every tenant
            return await claim_next_runs(
                resources.pool, owner=resources.worker_id, lease_seconds=resources.lease_seconds, limit=limit
            )

    async def _claim_one(self, run_id: str) -> ClaimedRun | None:
        resources = self.engine.resources
        with system_scope():  # claims span every tenant
            return await claim_run(
                resources.pool, run_id, owner=resources.worker_id, lease_seconds=resources.lease_seconds
            )

    async def execute(self, run_id: str) -> RunStatus | None:
        """Claim ``run_id`` (if it is PENDING or its lease expired) and execute it until it settles.

        Returns the status the run was left in, or None if it was not claimable (another worker
        has it, or it is paused or finished) or the lease was lost.
        """
        claimed = await self._claim_one(run_id)
        return None if claimed is None else await execute_guarded(self.engine.resources, claimed)

    async def run_once(self, limit: int = 1) -> list[tuple[str, RunStatus | None]]:
        """Claim up to ``limit`` runnable runs (oldest first) and execute them concurrently until
        they settle: one pass of :meth:`run`, for tests, the CLI and benchmarks."""
        claimed = await self._claim(limit)
        results = await asyncio.gather(*(execute_guarded(self.engine.resources, c) for c in claimed))
        return [(c.id, status) for c, status in zip(claimed, results, strict=True)]

    async def _execute(self, claimed: ClaimedRun) -> object:
        try:
            return await execute_guarded(self.engine.resources, claimed)
        except Exception:
            logger.exception(
                "run %s: execution crashed; its lease will expire and it will be recovered", claimed.id
            )
            return None

    def _finished(self, wake: asyncio.Event) -> Callable[[asyncio.Task[object]], None]:
        def done(task: asyncio.Task[object]) -> None:
            self._running.discard(task)
            wake.set()  # a slot is free

        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        wake = asyncio.Event()
        events = self.engine.resources.events
        unwatch = events.watch_queue(lambda _run_id: wake.set()) if events else None
        try:
            while not stop.is_set():
                try:
                    await fire_due_crons(self.engine)
                except Exception:
                    logger.warning("firing crons failed; retrying", exc_info=True)
                free = self.concurrency - len(self._running)
                if free > 0:
                    try:
                        claimed = await self._claim(free)
                    except Exception:
                        logger.warning("claiming runs failed; retrying", exc_info=True)
                        claimed = []
                    for run in claimed:
                        task = asyncio.create_task(self._execute(run), name=f"run-{run.id}")
                        self._running.add(task)
                        task.add_done_callback(self._finished(wake))
                    if len(claimed) == free:
                        continue  # there may be more waiting
                wake.clear()
                waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
                try:
                    await asyncio.wait(
                        waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            if unwatch:
                unwatch()
            await self._drain()

    async def _drain(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(self._running, timeout=self.drain_seconds)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
