"""What a run's super-step commits together with its checkpoint.

While a worker executes a run, everything the engine records about a step — the audit entries of
the nodes that finished, their usage rows, the run's events and the stream parts clients asked
for — is gathered here instead of being written on its own. The checkpoint saver
(:class:`checkpoints.saver.StepSaver`) writes it in the transaction that stores the step's
checkpoint and pending writes, after checking and renewing the run's lease in the same statement
that numbers the step's outbox rows: one commit per super-step, and a crash either keeps the step
with all its records or neither.

Items gathered after the last checkpoint of an execution (an error, an interrupt, the outcome)
are written by the engine's closing transaction through :meth:`StepJournal.write`, the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.events import RunEvent
from checkpoints.stream_log import StreamRecorder
from eawe.audit import ActorType, AuditEntry, append_audit_entries
from eawe.db.repositories.run_outbox import append_outbox, guard_step

__all__ = ["LeaseLostError", "StepJournal"]

Deferred = Callable[[AsyncSession], Awaitable[None]]


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
        self._audit: list[AuditEntry] = []
        self._deferred: list[Deferred] = []

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
                "tenant_id": self.tenant_id,
                "action": action,
                "actor_type": actor_type,
                "actor_id": actor_id,
                "workflow_run_id": self.run_id,
                "details": details,
            }
        )

    def event(self, event: RunEvent) -> None:
        """A run event, stored in the run's outbox with the step (readers follow the outbox)."""
        self.recorder.add(event.type, {"data": event.data, "at": event.at})

    def defer(self, write: Deferred) -> None:
        """Any other row of the step (e.g. a node's usage), written in the step's transaction."""
        self._deferred.append(write)

    async def write(self, session: AsyncSession, *, parts_only: bool = False) -> None:
        """Write everything gathered, in the caller's transaction, guarded by the lease.

        With ``parts_only`` just the stream parts and events (token streams between steps): the
        audit entries and deferred rows wait for the step they belong to.

        Raises:
            LeaseLostError: The lease is gone (``lost`` is set; the caller must roll back).
        """
        parts = await self.recorder.take(session)
        if self.owner is not None:
            guard = await guard_step(
                session, self.run_id, owner=self.owner, lease_seconds=self.lease_seconds, count=len(parts)
            )
            if guard is None:
                self.lost.set()
                raise LeaseLostError(f"run {self.run_id}: the lease is held by another worker")
            if guard.cancel_requested:
                self.cancel.set()
            first = guard.first_seq
        else:
            first = await self.recorder.reserve(session, len(parts))
        if parts:
            await append_outbox(session, self.tenant_id, self.run_id, first, parts)
        if parts_only:
            return
        audit, self._audit = self._audit, []
        await append_audit_entries(session, audit)
        deferred, self._deferred = self._deferred, []
        for write in deferred:
            await write(session)

    def committed(self) -> None:
        """The transaction that ran :meth:`write` committed."""
        if self._committed is not None:
            self._committed()
