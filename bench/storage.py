"""Checkpoint storage benchmark: prints a table, asserts nothing.

    python bench/storage.py [--short 10] [--long 100] [--rounds 2] [--database-url postgresql://...]

One engine run of a ``--short``-step chain and one of a ``--long``-step chain (each run its own
thread), in interleaved rounds; for each, what it added to the checkpoint tables (every table of
the database whose name starts with ``checkpoint``, except the saver's migration table): rows and
bytes (``sum(pg_column_size(row))``: the stored tuples with their TOASTed values, without page
overhead and indexes). Each node sets the state to a constant-size value, so the state itself does
not grow: bytes/step staying flat from the short to the long thread means storage is linear in
the steps; a long/short ratio near long/short steps means every checkpoint carries the history
(quadratic). Medians over the rounds (storage is deterministic; the rounds check that).

Without ``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from engine import (  # bench/engine.py: the throwaway server and the engine API
    bench_engine,
    chain_definition,
    execute_run,
    fresh_database,
    publish_chain,
    queue_run,
    start_postgres,
)
from psycopg import sql
from table import print_table


async def checkpoint_usage(conninfo: str) -> dict[str, tuple[int, int]]:
    """Rows and bytes of every checkpoint table."""
    usage: dict[str, tuple[int, int]] = {}
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name LIKE 'checkpoint%%' AND table_name <> 'checkpoint_migrations' ORDER BY 1"
        )
        for (name,) in await cursor.fetchall():
            query = sql.SQL("SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {} t").format(
                sql.Identifier(name)
            )
            rows, size = (await (await conn.execute(query)).fetchone()) or (0, 0)
            usage[name] = (int(rows), int(size))
    return usage


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", type=int, default=10, help="steps of the short thread")
    parser.add_argument("--long", type=int, default=100, help="steps of the long thread")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    lengths = (args.short, args.long)
    added: dict[int, list[dict[str, tuple[int, int]]]] = {n: [] for n in lengths}
    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        async with bench_engine(conninfo) as engine:
            targets = {n: (await publish_chain(engine, chain_definition(n, constant_state=True)))[0] for n in lengths}
            for round_no in range(args.rounds):
                for n in lengths if round_no % 2 == 0 else lengths[::-1]:
                    before = await checkpoint_usage(conninfo)
                    await execute_run(engine, await queue_run(engine, targets[n]))
                    after = await checkpoint_usage(conninfo)
                    added[n].append(
                        {
                            table: (rows - before.get(table, (0, 0))[0], size - before.get(table, (0, 0))[1])
                            for table, (rows, size) in after.items()
                        }
                    )
    finally:
        drop()
        stop_server()

    tables = sorted({table for rounds in added.values() for one in rounds for table in one})
    rows = []
    per_step: dict[int, float] = {}
    for n in lengths:

        def median(table: str, part: int, n: int = n) -> float:
            return statistics.median(one.get(table, (0, 0))[part] for one in added[n])

        total_bytes = sum(median(t, 1) for t in tables)
        per_step[n] = total_bytes / n
        cells = [f"{median(t, 0):,.0f} / {median(t, 1):,.0f}" for t in tables]
        rows.append((str(n), *cells, f"{total_bytes:,.0f}", f"{total_bytes / n:,.0f}"))
    print_table(
        f"Checkpoint storage of one engine run (thread) by its length: rows / bytes added per table, "
        f"medians of {args.rounds} interleaved rounds",
        ("steps", *(f"{t} rows / bytes" for t in tables), "bytes", "bytes/step"),
        rows,
    )
    growth = per_step[args.long] / per_step[args.short] if per_step[args.short] else float("nan")
    print(
        f"\nbytes/step, {args.long} steps / {args.short} steps: {growth:.2f} "
        f"(1.0 = linear growth; {args.long / args.short:.0f} = quadratic)"
    )


if __name__ == "__main__":
    asyncio.run(main())
