"""Audit append benchmark: prints a table, asserts nothing.

    python bench/audit_append.py [--rounds 5] [--appends 40] [--hold-ms 2] [--database-url postgresql://...]

Each writer runs ``--appends`` transactions; each transaction appends one audit entry and then
holds the transaction open for ``--hold-ms`` (``pg_sleep``: the rest of a step's transaction, in
which the old per-tenant lock stays held). Two ways of appending, measured in interleaved rounds
on the same database (medians over the rounds):

  * before — the hash chain this replaced: ``pg_advisory_xact_lock`` on the tenant, a read of the
    chain head, the chained hash, then the INSERT (the statements of eawe/audit.py before the
    Merkle log; the row is stored unsealed, as the schema now requires);
  * after  — ``append_audit``: one INSERT, no lock, with this process's sealer running alongside
    (its rounds compete for the same two cores).

Rows: 1 writer, 16 writers on one tenant, 16 writers on 16 tenants. Without ``--database-url``
(or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import fresh_database, start_postgres  # bench/engine.py: the same throwaway server
from sqlalchemy import text

from eawe.audit import GENESIS_HASH, ActorType, append_audit, redact
from eawe.audit_keys import AuditSigner
from eawe.audit_sealer import AuditSealer
from eawe.db.database import Database, open_database
from eawe.db.ids import new_id
from eawe.db.migrate import upgrade
from eawe.db.repositories.tenants import create_tenant
from eawe.settings import Settings


async def append_locked(session, tenant_id: str, action: str) -> None:
    """The old append: a per-tenant transaction lock, the head read, the chained hash, the insert."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"eawe.audit:{tenant_id}"}
    )
    last = (
        await session.execute(
            text('SELECT seq, hash FROM "AuditLog" WHERE "tenantId" = :t ORDER BY seq DESC LIMIT 1'),
            {"t": tenant_id},
        )
    ).first()
    seq, prev = (int(last.seq) + 1, last.hash or GENESIS_HASH) if last else (1, GENESIS_HASH)
    details = redact({"n": seq})
    body = json.dumps(
        {"id": new_id(), "tenant_id": tenant_id, "seq": seq, "details": details}, sort_keys=True
    )
    hashlib.sha256((prev + body).encode()).hexdigest()  # the old chain's hashing work
    await session.execute(
        text(
            'INSERT INTO "AuditLog" (id, "tenantId", seq, action, "actorType", details, "timestamp") '
            "VALUES (:id, :t, :seq, :a, 'SYSTEM', CAST(:d AS jsonb), now())"
        ),
        {"id": new_id(), "t": tenant_id, "seq": seq, "a": action, "d": json.dumps(details)},
    )


async def one_scenario(
    database: Database, mode: str, writers: int, tenants: int, appends: int, hold: float
) -> float:
    """Appends per second for one (mode, writers, tenants) cell."""
    async with database.transaction() as session:
        tenant_ids = [(await create_tenant(session, f"bench-{mode}-{new_id()}")).id for _ in range(tenants)]

    async def writer(w: int) -> None:
        tenant_id = tenant_ids[w % tenants]
        for i in range(appends):
            async with database.transaction() as session:
                if mode == "before":
                    await append_locked(session, tenant_id, f"STEP{i}")
                else:
                    await append_audit(
                        session, tenant_id=tenant_id, action=f"STEP{i}", actor_type=ActorType.AGENT
                    )
                await session.execute(text("SELECT pg_sleep(:s)"), {"s": hold})

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return writers * appends / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--appends", type=int, default=40, help="transactions per writer")
    parser.add_argument("--hold-ms", type=float, default=2.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        upgrade(conninfo)
        settings = Settings(_env_file=None, environment="test", database_url=conninfo, db_pool_size=20)
        database = await open_database(settings, conninfo=conninfo)
        sealer = AuditSealer(database.sqlalchemy_url, AuditSigner({1: _bench_key()}), interval=0.05)
        stop = asyncio.Event()
        sealing = asyncio.create_task(sealer.run(stop))
        cells = [(1, 1), (16, 1), (16, 16)]
        results: dict[tuple[str, int, int], list[float]] = {}
        try:
            for _ in range(args.rounds):  # interleaved: before and after alternate within each round
                for writers, tenants in cells:
                    for mode in ("before", "after"):
                        rate = await one_scenario(
                            database, mode, writers, tenants, args.appends, args.hold_ms / 1000
                        )
                        results.setdefault((mode, writers, tenants), []).append(rate)
        finally:
            stop.set()
            await sealing
            await database.dispose()
        print(
            f"\nAudit appends/s (median of {args.rounds} interleaved rounds; {args.appends} transactions per "
            f"writer, each holding {args.hold_ms:g} ms after its append)\n"
        )
        header = ("writers", "tenants", "before (lock+head read)", "after (lock-free)", "after / before")
        rows = [header]
        for writers, tenants in cells:
            before = statistics.median(results[("before", writers, tenants)])
            after = statistics.median(results[("after", writers, tenants)])
            rows.append(
                (str(writers), str(tenants), f"{before:,.0f}", f"{after:,.0f}", f"{after / before:.2f}x")
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for n, row in enumerate(rows):
            print("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)))
            if n == 0:
                print("  ".join("-" * w for w in widths))
        print(f"\nsealed by this process's sealer meanwhile: {sealer.sealed} entries")
    finally:
        drop()
        stop_server()


def _bench_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


if __name__ == "__main__":
    asyncio.run(main())
