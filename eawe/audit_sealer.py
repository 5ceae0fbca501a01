"""The audit sealer: one per database, elected among every server and worker process.

Each process runs an :class:`AuditSealer`. It opens a connection of its own and tries the
session advisory lock ``SEALER_LOCK_KEY``; the holder seals, the others retry every
``audit_sealer_retry_seconds``. PostgreSQL drops a session lock with its session, so when the
holder dies (or its connection does) a standby takes over on its next try; a holder whose
connection fails steps down and stands again. Every round runs on the lock's own connection, so
a round commits only while its sealer still holds the lock.

A round, in one REPEATABLE READ transaction: take the rows no transaction in flight can still
precede (:func:`~eawe.db.repositories.audit_log.sealable_entries`), append them to their
tenants' trees from the latest signed head's frontier, write each row's leaf index, leaf hash
and previous root, and publish one signed tree head per tenant touched. Killed mid-round, the
transaction rolls back and the next sealer does the round again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from eawe.audit import entry_leaf_hash, entry_record
from eawe.audit_keys import AuditSigner
from eawe.db.repositories.audit_log import (
    insert_tree_head,
    seal_entries,
    sealable_entries,
    tree_states,
    try_sealer_lock,
)
from eawe.db.tenant_scope import SYSTEM_SCOPE, TENANT_SETTING
from eawe.merkle import MerkleFrontier
from eawe.settings import Settings

__all__ = ["AuditSealer", "epoch_ms", "running_sealer"]

_log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1)


def epoch_ms(moment: datetime) -> int:
    """Naive-UTC timestamp → integer epoch milliseconds (exact, no float)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


class AuditSealer:
    """Stands for election, and seals while it holds the lock."""

    def __init__(
        self,
        sqlalchemy_url: str,
        signer: AuditSigner,
        *,
        interval: float = 1.0,
        retry: float = 2.0,
        batch: int = 500,
    ) -> None:
        self._engine = create_async_engine(
            sqlalchemy_url,
            poolclass=NullPool,
            isolation_level="REPEATABLE READ",
            # The sealer orders every tenant's entries: its own connections are in the system
            # scope of row-level security (eawe/db/tenant_scope.py) for their whole session.
            connect_args={"options": f"-c timezone=UTC -c {TENANT_SETTING}={SYSTEM_SCOPE}"},
        )
        self._signer = signer
        self._interval = interval
        self._retry = retry
        self._batch = batch
        self.is_leader = False
        self.backend_pid: int | None = None
        self.sealed = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Stand, seal while elected, stand again after losing the connection; until ``stop``."""
        try:
            while not stop.is_set():
                try:
                    await self._serve(stop)
                except (DBAPIError, InterfaceError, OSError) as exc:
                    _log.warning(
                        "audit sealer lost its database session (%s); standing again", type(exc).__name__
                    )
                except Exception:  # a bad round must not end sealing in this process
                    _log.exception("audit sealer round failed; standing again")
                finally:
                    if self.is_leader:
                        _log.info("audit sealer (backend %s) stepped down", self.backend_pid)
                    self.is_leader = False
                await _wait(stop, self._retry)
        finally:
            await self._engine.dispose()

    async def seal_now(self) -> int:
        """One pass for a short-lived process (the CLI): if no sealer is elected, seal what is
        sealable now and let go; returns how many entries were sealed. Closes the sealer."""
        total = 0
        try:
            async with self._engine.connect() as conn:
                if await try_sealer_lock(conn):
                    while (count := await self.seal_round(conn)) > 0:
                        total += count
        finally:
            await self._engine.dispose()
        return total

    async def _serve(self, stop: asyncio.Event) -> None:
        async with self._engine.connect() as conn:
            self.backend_pid = await conn.scalar(select(func.pg_backend_pid()))
            await conn.commit()
            while not await try_sealer_lock(conn):
                if await _wait(stop, self._retry):
                    return
            self.is_leader = True
            _log.info("audit sealer elected (backend %s)", self.backend_pid)
            while not stop.is_set():
                if await self.seal_round(conn) < self._batch:
                    await _wait(stop, self._interval)

    async def seal_round(self, conn: AsyncConnection) -> int:
        """Seal what is sealable now; returns how many entries were sealed."""
        async with conn.begin():
            rows = await sealable_entries(conn, self._batch)
            if not rows:
                return 0
            by_tenant: dict[str, list[dict]] = {}
            for row in rows:
                by_tenant.setdefault(row["tenant_id"], []).append(row)
            states = await tree_states(conn, list(by_tenant))
            ids: list[str] = []
            leaves: list[int] = []
            hashes: list[str] = []
            prevs: list[str] = []
            heads = []
            now = epoch_ms(datetime.now(UTC).replace(tzinfo=None))
            for tenant_id, items in by_tenant.items():
                size, edge, last = states.get(tenant_id, (0, [], _EPOCH))
                frontier = MerkleFrontier(size, [bytes.fromhex(h) for h in edge])
                for row in items:
                    leaf = entry_leaf_hash(entry_record(_Entry(row, frontier.size)))
                    ids.append(row["id"])
                    leaves.append(frontier.size)
                    hashes.append(leaf.hex())
                    prevs.append(frontier.root().hex())
                    frontier.append(leaf)
                stamp = max(now, epoch_ms(last))  # a tenant's head timestamps never go back
                heads.append(
                    (self._signer.sign(tenant_id, frontier.size, frontier.root().hex(), stamp), frontier)
                )
            sealed = await seal_entries(conn, ids, leaves, hashes, prevs)
            if sealed != len(ids):
                raise RuntimeError(f"audit sealer: sealed {sealed} of {len(ids)} rows; round abandoned")
            for head, frontier in heads:
                await insert_tree_head(
                    conn,
                    tenant_id=head.tenant_id,
                    tree_size=head.tree_size,
                    root_hash=head.root_hash,
                    timestamp=_from_ms(head.timestamp),
                    key_id=head.key_id,
                    signature=head.signature,
                    frontier=[h.hex() for h in frontier.hashes],
                )
        self.sealed += len(ids)
        return len(ids)


class _Entry:
    """A selected row seen through the attributes :func:`entry_record` reads."""

    def __init__(self, row: dict, leaf_index: int) -> None:
        self.__dict__.update(row)
        self.leaf_index = leaf_index


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when ``stop`` was set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


@asynccontextmanager
async def running_sealer(settings: Settings, sqlalchemy_url: str) -> AsyncIterator[AuditSealer]:
    """Run this process's sealer candidate for the duration of the block."""
    sealer = AuditSealer(
        sqlalchemy_url,
        settings.audit_signer(),
        interval=settings.audit_seal_interval_seconds,
        retry=settings.audit_sealer_retry_seconds,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sealer.run(stop), name="eawe-audit-sealer")
    try:
        yield sealer
    finally:
        stop.set()
        await task
