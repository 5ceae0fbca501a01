"""What a run's super-step commits together with its checkpoint.

While a worker executes a run, everything the engine records about a step — the audit entries of
the nodes that finished, their usage rows, the run's events and the stream parts clients asked
for — is gathered here instead of being written on its own. The checkpoint saver
(:class:`checkpoints.saver.StepSaver`) writes it in the transaction that stores the step's
checkpoint and pending writes, after checking and renewing the run's lease in the same statement
that numbers the step's outbox rows: one commit per super-step, and a crash either keeps the step
with all its records or neither.

Items gathered after the last checkpoint of an execution (an error, an interrupt, the outcome)
are written by the statement that releases the run (:meth:`StepJournal.take_all`,
``checkpoints.leases.release_run``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import RunEvent
from checkpoints.stream_log import StreamRecorder
from eawe.audit import ActorType, redact
from eawe.db.driver_cursor import driver_cursor
from eawe.db.ids import new_id
from eawe.db.models import utcnow
from eawe.db.repositories.run_outbox import (
    LEASE_LOST_SQLSTATE,
    NO_SUCH_RUN_SQLSTATE,
    StepRows,
    send_step_rows,
    step_guard_of,
)

__all__ = ["LeaseLostError", "StepJournal"]


class LeaseLostError(RuntimeError):
    """Another worker holds the run now: this worker's step was not committed."""


class StepJournal:
    """The records of one execution of one run, waiting for the next commit.

    Args:
        recorder: The run's stream recorder; its buffered parts (and the events added here, which
            are outbox rows too) are written with the step.
        owner: The worker id holding the lease; ``None`` writes without a lease check.
        lease_seconds: The lease renewed by every step.
        lost: Set when a commit finds the lease gone.
        cancel: Set when a commit finds cancellation requested.
        committed: Called after each commit that stored something (wakes the run's readers).
    """

    def __init__(
        self,
        recorder: StreamRecorder,
        *,
        owner: str | None,
        lease_seconds: float,
        lost: asyncio.Event,
        cancel: asyncio.Event,
        committed: Callable[[], None] | None = None,
    ) -> None:
        self.recorder = recorder
        self.tenant_id = recorder.tenant_id
        self.run_id = recorder.run_id
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.lost = lost
        self.cancel = cancel
        self._committed = committed
        self._audit: list[dict[str, Any]] = []
        self._usage: list[dict[str, Any]] = []

    def audit(
        self,
        action: str,
        details: dict[str, Any],
        *,
        actor_type: str = ActorType.SYSTEM,
        actor_id: str | None = None,
    ) -> None:
        """An audit entry of this run, committed with the step."""
        self._audit.append(
            {
                "id": new_id(),
                "action": action,
                "actorType": actor_type,
                "actorId": actor_id,
                "details": redact(details) if details is not None else None,
            }
        )

    def event(self, event: RunEvent) -> None:
        """A run event, stored in the run's outbox with the step (readers follow the outbox)."""
        self.recorder.add(event.type, {"data": event.data, "at": event.at})

    def node_execution(self, row: dict[str, Any]) -> None:
        """A node execution's usage row (``NodeExecution`` columns by database name, without
        ``id``, tenant, run and ``createdAt``), committed with the step."""
        self._usage.append({"id": new_id(), **row})

    @property
    def needs_session(self) -> bool:
        """:meth:`take` must be given a session (to number the first protocol parts)."""
        return self.recorder.needs_session

    async def take(self, session: AsyncSession | None = None) -> StepRows | None:
        """Empty the journal into the rows of one commit (``session``: see :attr:`needs_session`).

        Send them with :meth:`send` in the commit's transaction, then :meth:`settle`. ``None``:
        nothing to write and no lease to check.
        """
        rows = await self.take_all(session)
        if self.owner is None and not (rows.parts or rows.audit or rows.usage):
            return None
        return rows

    async def take_all(self, session: AsyncSession | None = None) -> StepRows:
        """Empty the journal into the rows of one commit, even when it holds nothing (for the
        statement that releases the run: :func:`checkpoints.leases.release_run`)."""
        parts = await self.recorder.take(session)
        audit, self._audit = self._audit, []
        usage, self._usage = self._usage, []
        at = utcnow()
        return StepRows(
            self.tenant_id,
            self.run_id,
            at.replace(microsecond=at.microsecond // 1000 * 1000),
            parts,
            audit,
            usage,
        )

    async def send(self, cursor: Any, rows: StepRows) -> None:
        """Send the rows' one statement on a psycopg ``cursor`` (results may come later, in a
        pipeline). It aborts the transaction when the lease is gone (see :meth:`refusals`)."""
        await send_step_rows(cursor, rows, owner=self.owner, lease_seconds=self.lease_seconds)

    @contextlib.contextmanager
    def refusals(self) -> Iterator[None]:
        """Turn the step statement's refusal into :class:`LeaseLostError` (``lost`` is set) or
        :class:`LookupError` (no such run). The transaction is aborted: roll it back."""
        try:
            yield
        except psycopg.Error as exc:
            if exc.sqlstate == LEASE_LOST_SQLSTATE:
                self.lost.set()
                raise LeaseLostError(f"run {self.run_id}: the lease is held by another worker") from None
            if exc.sqlstate == NO_SUCH_RUN_SQLSTATE:
                raise LookupError(f"run {self.run_id} does not exist") from None
            raise

    async def settle(self, cursor: Any, rows: StepRows) -> None:
        """Read the outcome of :meth:`send` once its result is in (cancellation requested?)."""
        guard = await step_guard_of(cursor, len(rows.parts))
        if guard.cancel_requested and self.owner is not None:
            self.cancel.set()

    async def write_parts(self, session: AsyncSession) -> None:
        """Write the stream parts and events gathered (token streams between steps), in the
        caller's transaction, guarded by the lease: the audit entries and usage rows wait for
        the step they belong to.

        Raises:
            LeaseLostError: The lease is gone (``lost`` is set; the caller must roll back).
        """
        held = self._audit, self._usage
        self._audit, self._usage = [], []
        try:
            rows = await self.take(session)
        finally:
            self._audit, self._usage = held
        if rows is None:
            return
        async with driver_cursor(session) as cursor:
            with self.refusals():
                await self.send(cursor, rows)
            await self.settle(cursor, rows)

    def committed(self) -> None:
        """The transaction that stored what was taken (a step, :meth:`write_parts`, the release)
        committed."""
        if self._committed is not None:
            self._committed()
