"""The LangGraph Postgres checkpointer: pooled, and committing each super-step once.

``AsyncPostgresSaver`` serialises every call on one ``asyncio.Lock`` even when it runs on a
connection pool (langgraph issue #7259), so concurrent runs in one process queue behind each
other. With a pool every call checks out its own connection and the lock buys nothing;
:class:`PooledPostgresSaver` skips it in that case (the fix proposed upstream in PR #7269) and
keeps it for a single shared connection. ``bench/engine.py`` measures both.

:class:`StepSaver` (the engine's saver) also makes a super-step one transaction. Stock, a step
costs a commit per statement: the pending writes of each task (``aput_writes``), each blob and
the checkpoint (``aput``) each commit on their own, and EAWE's audit row, run events and stream
parts took another transaction. Here, while a run executes (a :class:`~checkpoints.step_journal.
StepJournal` is attached to its thread), a task's writes wait for the step's checkpoint and are
committed with it, its blobs, the journal's records and the lease check, in one transaction.

``durability="sync"`` keeps its meaning: LangGraph waits for the checkpoint before the next step,
and the checkpoint carries the step's writes, so a node whose step committed never runs again. A
task that finished while sibling tasks of its step still run commits its writes on its own after
``WRITES_GRACE_SECONDS`` (so a crash while a slow sibling runs does not re-run it), and writes that
end a step without a checkpoint (an error, an interrupt) commit at once. Without a journal (a
thread edited through the API, LangGraph's conformance suite) every call is one transaction of its
own and durable when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from eawe.db.driver_cursor import driver_cursor
from eawe.db.round_trip import scoped_round_trip
from eawe.db.tenant_scope import current_scope

if TYPE_CHECKING:
    from checkpoints.step_journal import StepJournal
    from eawe.db.database import Database

__all__ = [
    "WRITES_GRACE_SECONDS",
    "CheckpointStore",
    "PooledPostgresSaver",
    "StepSaver",
    "delete_run_checkpoints",
    "open_checkpoint_store",
]


class PooledPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` without the instance-wide lock when backed by a pool."""

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        if not isinstance(self.conn, AsyncConnectionPool):
            async with super()._cursor(pipeline=pipeline) as cursor:
                yield cursor
            return
        async with self.conn.connection() as conn:
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cursor:
                    yield cursor
            elif pipeline:
                async with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cursor:
                    yield cursor
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cursor:
                    yield cursor


WRITES_GRACE_SECONDS = 0.05
"""How long a finished task's writes wait for their step's checkpoint before committing alone."""

_ENDS_STEP = frozenset({"__error__", "__interrupt__"})  # LangGraph's ERROR and INTERRUPT channels


@dataclass
class _PendingWrites:
    query: str
    params: list[Any]
    done: asyncio.Future[None]


@dataclass
class _Thread:
    journal: StepJournal
    pending: dict[tuple[str, str], list[_PendingWrites]] = field(default_factory=dict)
    """(checkpoint_ns, checkpoint_id) → writes waiting for the checkpoint that follows it."""
    held: tuple[list[Any], tuple[Any, ...]] | None = None
    """The run's input checkpoint (blobs, row): committed with the next commit of the thread."""
    empty: bool = False
    """No checkpoint of the thread exists yet, and none has been put."""


def _settle(entries: list[_PendingWrites], error: BaseException | None) -> None:
    """Tell the waiting ``aput_writes`` calls how their transaction ended."""
    for entry in entries:
        if not entry.done.done():
            if error is None:
                entry.done.set_result(None)
            else:
                entry.done.set_exception(error)


class StepSaver(PooledPostgresSaver):
    """The engine's saver: a run's super-step (writes, checkpoint, journal) is one transaction.

    Reads and a run's step commits use the psycopg pool (each commit one pipelined round trip,
    scoped to the current tenant for row-level security); the engine's :class:`~eawe.db.database.
    Database` serves writes outside a run and the protocol numbering of a run's first parts.
    """

    def __init__(self, pool: AsyncConnectionPool[Any], database: Database) -> None:
        super().__init__(pool)
        self.database = database
        self._threads: dict[str, _Thread] = {}

    @contextlib.contextmanager
    def attach(self, thread_id: str, journal: StepJournal, *, empty: bool = False) -> Iterator[None]:
        """Commit the thread's steps with ``journal`` while the context is open (one execution).

        ``empty``: the thread has no checkpoint yet (it was made for this run, which has not run
        before), so reading its latest checkpoint needs no query until something is put.
        """
        if thread_id in self._threads:
            raise RuntimeError(f"thread {thread_id} is already being executed in this process")
        self._threads[thread_id] = _Thread(journal, empty=empty)
        try:
            yield
        finally:
            self._threads.pop(thread_id, None)

    async def flush_thread(self, thread_id: str) -> None:
        """Commit whatever writes of the thread still wait (before its execution reads its state)."""
        thread = self._threads.get(thread_id)
        if thread is not None:
            for ns, checkpoint_id in list(thread.pending):
                await self._commit_writes(thread_id, thread, ns, checkpoint_id)
            if thread.held is not None:
                await self._commit_step(thread, thread, [], [], None)
                thread.journal.committed()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        configurable = config["configurable"]
        thread = self._threads.get(str(configurable["thread_id"]))
        if thread is not None and thread.empty and not configurable.get("checkpoint_id"):
            return None  # the run's first read of a thread made for it: nothing is stored yet
        return await super().aget_tuple(config)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns, checkpoint_id = configurable["checkpoint_ns"], configurable["checkpoint_id"]
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        params = self._dump_writes(thread_id, ns, checkpoint_id, task_id, task_path, writes)
        thread = self._threads.get(thread_id)
        if thread is None:  # not a step of a run executing here: durable on return
            async with self.database.transaction() as session:
                async with driver_cursor(session) as cur:
                    await cur.executemany(query, params)
            return
        entry = _PendingWrites(query, params, asyncio.get_running_loop().create_future())
        waiting = thread.pending.setdefault((ns, checkpoint_id), [])
        waiting.append(entry)
        if not any(channel in _ENDS_STEP for channel, _ in writes):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(entry.done), WRITES_GRACE_SECONDS)
        if not entry.done.done() and entry in thread.pending.get((ns, checkpoint_id), ()):
            await self._commit_writes(thread_id, thread, ns, checkpoint_id)
        await entry.done

    async def _commit_writes(self, thread_id: str, thread: _Thread, ns: str, checkpoint_id: str) -> None:
        entries = thread.pending.pop((ns, checkpoint_id), [])
        if not entries:
            return
        try:
            await self._commit_step(thread, thread if ns == "" else None, entries, [], None)
        except BaseException as exc:
            _settle(entries, exc)
            raise
        _settle(entries, None)
        if ns == "":
            thread.journal.committed()

    async def _commit_step(
        self,
        owner: _Thread | None,
        thread: _Thread | None,
        entries: list[_PendingWrites],
        blobs: list[Any],
        checkpoint_row: tuple[Any, ...] | None,
    ) -> None:
        """One transaction in one round trip: the tenant scope, the journal's rows (lease check
        included) when ``thread`` is given, the held input checkpoint of ``owner``, the waiting
        writes, the blobs and the checkpoint, sent in one psycopg pipeline (one implicit
        transaction) on a connection of the checkpoint pool. When the lease is gone the journal's
        statement raises, PostgreSQL skips the rest, and nothing is committed."""
        held = None
        if owner is not None:
            held, owner.held = owner.held, None
        if held is not None:
            blobs, rows_before = [*held[0], *blobs], [held[1]]
        else:
            rows_before = []
        journal = thread.journal if thread is not None else None
        rows = None
        if journal is not None and journal.needs_session:  # once per execution, protocol runs
            async with self.database.session() as session:
                rows = await journal.take(session)
        elif journal is not None:
            rows = await journal.take()
        async with self.conn.connection() as conn:  # type: ignore[union-attr, operator]
            async with conn.cursor() as guard, conn.cursor() as cur:
                with journal.refusals() if journal is not None else contextlib.nullcontext():
                    async with scoped_round_trip(conn, current_scope()):
                        if journal is not None and rows is not None:
                            await journal.send(guard, rows)  # aborts all when the lease is gone
                        for entry in entries:
                            await cur.executemany(entry.query, entry.params)
                        if blobs:
                            await cur.executemany(self.UPSERT_CHECKPOINT_BLOBS_SQL, blobs)
                        for before in rows_before:
                            await cur.execute(self.UPSERT_CHECKPOINTS_SQL, before)
                        if checkpoint_row is not None:
                            await cur.execute(self.UPSERT_CHECKPOINTS_SQL, checkpoint_row)
                if journal is not None and rows is not None:
                    await journal.settle(guard, rows)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable["checkpoint_ns"]
        parent_id = configurable.get("checkpoint_id")
        copy = checkpoint.copy()
        copy["channel_values"] = copy["channel_values"].copy()
        blob_values: dict[str, Any] = {}
        for key, value in checkpoint["channel_values"].items():
            if isinstance(value, _DeltaSnapshot):
                blob_values[key] = copy["channel_values"].pop(key)
                copy["channel_values"][key] = True
            elif value is not None and not isinstance(value, str | int | float | bool):
                blob_values[key] = copy["channel_values"].pop(key)
        blob_versions = {k: v for k, v in new_versions.items() if k in blob_values}
        blobs = self._dump_blobs(thread_id, ns, blob_values, blob_versions) if blob_versions else []
        row = (
            thread_id,
            ns,
            checkpoint["id"],
            parent_id,
            Jsonb(copy),
            Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
        )
        thread = self._threads.get(thread_id)
        if thread is not None:
            thread.empty = False
        entries = thread.pending.pop((ns, parent_id), []) if thread is not None and parent_id else []
        done = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}
        }
        if (
            thread is not None
            and ns == ""
            and metadata.get("source") == "input"
            and not entries
            and thread.held is None
        ):
            # The input checkpoint records no node's work: it waits for the first step's commit
            # (a crash before it re-feeds the run's input; nothing that finished runs again).
            thread.held = (blobs, row)
            return done  # type: ignore[return-value]
        try:
            await self._commit_step(thread, thread if ns == "" else None, entries, blobs, row)
        except BaseException as exc:
            _settle(entries, exc)
            raise
        _settle(entries, None)
        if thread is not None and ns == "":
            thread.journal.committed()
        return done  # type: ignore[return-value]


async def delete_run_checkpoints(saver: Any, thread_id: str, run_id: str) -> None:
    """Drop the checkpoints (and their writes) a run wrote on a thread: a rollback.

    Checkpoint metadata carries ``run_id`` (the engine puts it there), which is how they are found.
    Blobs are left to the thread (they are shared by content across checkpoints).
    """
    if not isinstance(saver, AsyncPostgresSaver):
        return
    async with saver._cursor() as cur:
        await cur.execute(
            "DELETE FROM checkpoint_writes w USING checkpoints c WHERE c.thread_id = %s "
            "AND c.metadata->>'run_id' = %s AND w.thread_id = c.thread_id "
            "AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id",
            (thread_id, run_id),
        )
        await cur.execute(
            "DELETE FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s", (thread_id, run_id)
        )


@dataclass
class CheckpointStore:
    """The pool and the saver built on it; close it at shutdown."""

    pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    saver: AsyncPostgresSaver

    async def delete_run(self, run_id: str) -> None:
        """Drop every checkpoint of a run (its thread)."""
        await self.saver.adelete_thread(run_id)

    async def close(self) -> None:
        await self.pool.close()


async def open_checkpoint_store(
    conninfo: str,
    *,
    max_size: int = 10,
    min_size: int = 1,
    serialize: bool = False,
    database: Database | None = None,
) -> CheckpointStore:
    """Open the pool and build the saver (its tables: :func:`eawe.db.owner_upgrade.upgrade_database`).

    Args:
        conninfo: libpq URI of the EAWE database.
        max_size: Pool size (one connection per concurrent checkpoint operation).
        min_size: Connections kept open.
        serialize: Use the stock saver with its instance lock (for the benchmark).
        database: The engine's database: gives the :class:`StepSaver` (one transaction per step).
            Without it, the pooled saver (the benchmark's bare-graph rows).
    """
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
        name="eawe-checkpoints",
    )
    await pool.open(wait=True)
    saver: AsyncPostgresSaver
    if serialize:
        saver = AsyncPostgresSaver(pool)
    elif database is not None:
        saver = StepSaver(pool, database)
    else:
        saver = PooledPostgresSaver(pool)
    return CheckpointStore(pool=pool, saver=saver)
