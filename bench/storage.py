"""Checkpoint storage benchmark: prints a table, asserts nothing.

    python bench/storage.py [--short 10] [--long 100] [--rounds 2] [--database-url postgresql://...]

One engine run of a ``--short``-step chain and one of a ``--long``-step chain (each run its own
thread), the same chains written by hand in LangGraph on the engine's saver
(``durability="sync"``: a checkpoint per step, as the engine writes them), and one LangGraph node
looping back to itself as many times, in interleaved rounds. For each, what it added to the
checkpoint tables (every table of the database whose name starts with ``checkpoint``, except the
saver's migration table): rows and bytes (``sum(pg_column_size(row))``: the stored tuples with
their TOASTed values, without page overhead and indexes). Every node sets the state to a
constant-size value, so the state itself does not grow: bytes/step staying flat from the short to
the long thread means storage is linear in the steps; a long/short ratio near long/short steps
means every checkpoint carries the history (quadratic). The last column: bytes of the thread's
first and largest ``checkpoints`` row (a checkpoint that grows with the steps before it makes the
total quadratic). Medians over the rounds (storage is deterministic; the rounds check that).

Without ``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from engine import (  # bench/engine.py: the throwaway server and the engine API
    bench_engine,
    chain_definition,
    engine_saver,
    execute_run,
    fresh_database,
    hand_written,
    publish_chain,
    queue_run,
    start_postgres,
)
from langgraph.graph import END, START, StateGraph
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


class LoopState(TypedDict, total=False):
    n: int


def loop_graph(steps: int, checkpointer: Any) -> Any:
    """One node run ``steps`` times (it loops back to itself): many steps, one node."""

    async def step(state: LoopState) -> LoopState:
        return {"n": state.get("n", 0) + 1}

    def again(state: LoopState) -> str:
        return "s0" if state["n"] < steps else END

    builder = StateGraph(LoopState)
    builder.add_node("s0", step)
    builder.add_edge(START, "s0")
    builder.add_conditional_edges("s0", again, ["s0", END])
    return builder.compile(checkpointer=checkpointer)


async def thread_checkpoint_sizes(conninfo: str) -> tuple[int, int]:
    """Bytes of the first and the largest checkpoint row of the newest checkpoint's thread."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT pg_column_size(c.*) FROM checkpoints c WHERE c.thread_id = "
            "(SELECT thread_id FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1) ORDER BY c.checkpoint_id"
        )
        sizes = [int(size) for (size,) in await cursor.fetchall()]
    return (sizes[0], max(sizes)) if sizes else (0, 0)


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
    kinds = ("EAWE engine", "hand-written LangGraph", "LangGraph, 1 node looping")
    cells = [(kind, n) for n in lengths for kind in kinds]
    added: dict[tuple[str, int], list[dict[str, tuple[int, int]]]] = {cell: [] for cell in cells}
    first_last: dict[tuple[str, int], tuple[int, int]] = {}
    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        async with bench_engine(conninfo) as engine:
            targets = {
                n: (await publish_chain(engine, chain_definition(n, constant_state=True)))[0] for n in lengths
            }
            graphs = {
                ("hand-written LangGraph", n): hand_written(n, engine_saver(engine), constant_state=True)
                for n in lengths
            } | {("LangGraph, 1 node looping", n): loop_graph(n, engine_saver(engine)) for n in lengths}
            for round_no in range(args.rounds):
                for kind, n in cells if round_no % 2 == 0 else cells[::-1]:
                    before = await checkpoint_usage(conninfo)
                    if kind == "EAWE engine":
                        await execute_run(engine, await queue_run(engine, targets[n]))
                    else:
                        config = {
                            "configurable": {"thread_id": f"bench-storage-{round_no}-{kind}-{n}"},
                            "recursion_limit": n + 10,
                        }
                        await graphs[(kind, n)].ainvoke({}, config, durability="sync")
                    after = await checkpoint_usage(conninfo)
                    first_last[(kind, n)] = await thread_checkpoint_sizes(conninfo)
                    added[(kind, n)].append(
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
    per_step: dict[tuple[str, int], float] = {}
    for kind, n in cells:

        def median(table: str, part: int, cell: tuple[str, int] = (kind, n)) -> float:
            return statistics.median(one.get(table, (0, 0))[part] for one in added[cell])

        total_bytes = sum(median(t, 1) for t in tables)
        per_step[(kind, n)] = total_bytes / n
        first, largest = first_last[(kind, n)]
        rows.append(
            (
                kind,
                str(n),
                *(f"{median(t, 0):,.0f} / {median(t, 1):,.0f}" for t in tables),
                f"{total_bytes:,.0f}",
                f"{total_bytes / n:,.0f}",
                f"{first:,} / {largest:,}",
            )
        )
    print_table(
        f"Checkpoint storage of one thread by its length: rows / bytes added per table, "
        f"medians of {args.rounds} interleaved rounds",
        (
            "run",
            "steps",
            *(f"{t} rows / bytes" for t in tables),
            "bytes",
            "bytes/step",
            "first / largest checkpoint row",
        ),
        rows,
        left=1,
    )
    print()
    for kind in kinds:
        short, long = per_step[(kind, args.short)], per_step[(kind, args.long)]
        print(
            f"{kind}: bytes/step, {args.long} steps / {args.short} steps = {long / short:.2f} "
            f"(1.0 = linear growth; {args.long / args.short:.0f} = quadratic)"
        )


if __name__ == "__main__":
    asyncio.run(main())
