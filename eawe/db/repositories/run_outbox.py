"""A run's event outbox: ``RunStreamEvent`` rows numbered from ``WorkflowRun.eventSeq``.

Everything a reader may stream about a run — the engine's events (``run.status``,
``node.finished``, ``task.created`` …) and the LangGraph stream parts a client asked for — is a
row here, written in the transaction that made it true. Its ``seq`` is taken from the run's
counter under the run's row lock, so two writers of one run (the worker executing it and an
operator deciding a task) never collide and ``seq`` order is commit order: a reader that has
seen ``seq`` N and reads ``seq > N`` misses nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import RunStreamEvent
from eawe.db.repositories.threads import append_stream_events

__all__ = ["StepGuard", "append_outbox", "guard_step", "outbox_after", "reserve_event_seqs"]


@dataclass(frozen=True)
class StepGuard:
    """What the lease holder learns when it commits a step."""

    first_seq: int
    """The first of the seqs taken for this step's outbox rows."""
    cancel_requested: bool


async def reserve_event_seqs(session: AsyncSession, run_id: str, count: int) -> int | None:
    """Take ``count`` seqs of the run (locking its row until commit); the first, or None if no run."""
    taken = await session.scalar(
        text('UPDATE "WorkflowRun" SET "eventSeq" = "eventSeq" + :n WHERE id = :id RETURNING "eventSeq"'),
        {"n": count, "id": run_id},
    )
    return None if taken is None else int(taken) - count + 1


async def guard_step(
    session: AsyncSession, run_id: str, *, owner: str, lease_seconds: float, count: int
) -> StepGuard | None:
    """For the worker executing the run: check and renew its lease and take ``count`` seqs, in one
    statement. None when ``owner`` no longer holds the run (the step must not commit)."""
    row = (
        await session.execute(
            text(
                """UPDATE "WorkflowRun"
                   SET "leaseExpiresAt" = LOCALTIMESTAMP + make_interval(secs => :ttl),
                       "eventSeq" = "eventSeq" + :n
                   WHERE id = :id AND "leaseOwner" = :owner AND status = 'RUNNING'
                   RETURNING "eventSeq", "cancelRequested" """
            ),
            {"id": run_id, "owner": owner, "ttl": lease_seconds, "n": count},
        )
    ).first()
    if row is None:
        return None
    return StepGuard(first_seq=int(row.eventSeq) - count + 1, cancel_requested=bool(row.cancelRequested))


async def append_outbox(
    session: AsyncSession, tenant_id: str, run_id: str, first_seq: int, parts: Sequence[tuple[str, Any]]
) -> None:
    """Store ``parts`` ((event name, data), in order) at the seqs taken from ``first_seq`` on."""
    await append_stream_events(session, tenant_id, run_id, first_seq, parts)


async def outbox_after(
    session: AsyncSession,
    tenant_id: str,
    run_id: str,
    after_seq: int,
    *,
    events: Collection[str] | None = None,
    limit: int = 500,
) -> list[RunStreamEvent]:
    """The run's outbox rows after ``after_seq``, in order (only the named ``events`` if given)."""
    query = select(RunStreamEvent).where(
        RunStreamEvent.tenant_id == tenant_id,
        RunStreamEvent.run_id == run_id,
        RunStreamEvent.seq > after_seq,
    )
    if events is not None:
        query = query.where(RunStreamEvent.event.in_(list(events)))
    rows = await session.scalars(query.order_by(RunStreamEvent.seq).limit(limit))
    return list(rows.all())
