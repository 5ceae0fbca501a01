"""The LangGraph Postgres checkpointer on one shared psycopg pool.

``AsyncPostgresSaver`` serialises every call on one ``asyncio.Lock`` even when it runs on a
connection pool (langgraph issue #7259), so concurrent runs in one process queue behind each
other. With a pool every call checks out its own connection and the lock buys nothing;
:class:`PooledPostgresSaver` skips it in that case (the fix proposed upstream in PR #7269) and
keeps it for a single shared connection. ``bench/engine.py`` measures both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

__all__ = ["CheckpointStore", "PooledPostgresSaver", "delete_run_checkpoints", "open_checkpoint_store"]

_SETUP_LOCK = "eawe.checkpoint_setup"


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
    conninfo: str, *, max_size: int = 10, min_size: int = 1, serialize: bool = False
) -> CheckpointStore:
    """Open the pool, build the saver and create/upgrade the checkpoint tables.

    Args:
        conninfo: libpq URI of the EAWE database.
        max_size: Pool size (one connection per concurrent checkpoint operation).
        min_size: Connections kept open.
        serialize: Use the stock saver with its instance lock (for the benchmark).
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
    saver = AsyncPostgresSaver(pool) if serialize else PooledPostgresSaver(pool)
    try:
        async with pool.connection() as conn:
            # Several processes may start at once; the saver's migrations are not concurrency-safe.
            await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (_SETUP_LOCK,))
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_SETUP_LOCK,))
    except BaseException:
        await pool.close()
        raise
    return CheckpointStore(pool=pool, saver=saver)
