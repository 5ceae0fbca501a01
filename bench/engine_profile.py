"""Where an engine step's time goes: statements per step, their latency, and Python time.

    python bench/engine_profile.py [--runs 32] [--concurrency 16] [--steps 10] [--cprofile 25]

Drives the full engine path of ``bench/engine.py`` (queue a run, claim it, execute it) over a
chain of trivial nodes and prints, per step:

  * every statement the process sent to PostgreSQL, grouped by kind (verb and table; ``BEGIN``,
    ``COMMIT`` and the connection pool's ``ping`` included), counted on the client: statements,
    round trips (an ``executemany`` is one round trip in psycopg's pipeline mode) and the mean
    time from sending to result, as awaited by the caller (under concurrency it includes waiting
    for the event loop);
  * wall time and the process's CPU time per step (the Python side: when CPU ≈ wall the process,
    not the database, bounds throughput);
  * with ``--cprofile N``, a second measured round under ``cProfile``: own time by package and
    the N functions with the most own time.

Counting patches psycopg's cursor and connection methods in this process only; it measures, it
asserts nothing. Without ``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL
is started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import os
import pstats
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from engine import (
    bench_engine,
    chain_definition,
    execute_run,
    fresh_database,
    publish_chain,
    queue_run,
    start_postgres,
)
from psycopg import _connection_base
from table import print_table

_TABLE = re.compile(r'(?:INTO|UPDATE|FROM)\s+"?([A-Za-z_]+)"?', re.IGNORECASE)


def statement_kind(query: Any) -> str:
    """``INSERT checkpoint_writes``, ``UPDATE WorkflowRun``, ``BEGIN``… for a query."""
    text = query.decode() if isinstance(query, bytes) else str(query)
    if not isinstance(query, str | bytes):
        text = getattr(query, "_obj", None) or text  # psycopg.sql.Composed
        text = str(text)
    words = text.strip().split(None, 1)
    if not words:
        return "?"
    verb = words[0].upper()
    if verb == "WITH":  # the claim: WITH target AS (SELECT ...) UPDATE ...
        verb = "WITH…UPDATE" if "UPDATE" in text.upper() else "WITH…SELECT"
    if verb in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
        return verb
    if text.strip().lower() == "select 1" or text.strip() == ";":
        return "ping"
    if verb == "SELECT" and "set_config" in text:
        return "SELECT set_config"
    match = _TABLE.search(text)
    return f"{verb} {match.group(1)}" if match else verb


class StatementLog:
    """Counts and times the statements this process sends, by kind."""

    def __init__(self) -> None:
        self.count: collections.Counter[str] = collections.Counter()
        self.round_trips: collections.Counter[str] = collections.Counter()
        self.seconds: collections.Counter[str] = collections.Counter()

    def reset(self) -> None:
        self.count.clear()
        self.round_trips.clear()
        self.seconds.clear()

    def install(self) -> None:
        log = self
        execute, executemany = psycopg.AsyncCursor.execute, psycopg.AsyncCursor.executemany
        exec_command = _connection_base.BaseConnection._exec_command

        async def timed_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            kind = statement_kind(query)
            started = time.perf_counter()
            try:
                return await execute(self, query, *args, **kwargs)
            finally:
                log.count[kind] += 1
                log.round_trips[kind] += 1
                log.seconds[kind] += time.perf_counter() - started

        async def timed_executemany(self: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            params = list(params_seq)
            kind = statement_kind(query)
            started = time.perf_counter()
            try:
                return await executemany(self, query, params, **kwargs)
            finally:
                log.count[kind] += len(params)
                log.round_trips[kind] += 1 if params else 0
                log.seconds[kind] += time.perf_counter() - started

        def counted_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
            kind = statement_kind(command)
            log.count[kind] += 1
            log.round_trips[kind] += 0 if self._pipeline else 1  # in a pipeline: sent with the rest
            return exec_command(self, command, *args, **kwargs)

        psycopg.AsyncCursor.execute = timed_execute  # type: ignore[method-assign]
        psycopg.AsyncCursor.executemany = timed_executemany  # type: ignore[method-assign]
        _connection_base.BaseConnection._exec_command = counted_command  # type: ignore[method-assign]


async def round_of(engine: Any, target: tuple[str, str], runs: int, concurrency: int) -> tuple[float, float]:
    """``runs`` full engine runs, ``concurrency`` at a time: (wall seconds, CPU seconds)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await execute_run(engine, await queue_run(engine, target))

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(runs)))
    return time.perf_counter() - wall, time.process_time() - cpu


def package_of(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for name in ("checkpoints", "eawe", "graphs", "agents"):
        if name in parts:
            return name
    if filename.startswith("<") or "/lib/python3" in filename:
        return "stdlib/builtins"
    return "other"


def print_profile(profile: cProfile.Profile, steps: int, top: int) -> None:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values())
    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        by_package[package_of(filename)] += tt
    print_table(
        f"Own time by package under cProfile ({total:.2f} s profiled, {steps} steps; cProfile itself "
        "inflates Python time, compare shares)",
        ("package", "ms/step", "share"),
        [
            (name, f"{1000 * seconds / steps:.3f}", f"{100 * seconds / total:.1f}%")
            for name, seconds in by_package.most_common()
        ],
    )
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    print_table(
        f"The {top} functions with the most own time",
        ("function", "calls/step", "own ms/step", "cumulative ms/step"),
        [
            (
                f"{package_of(filename)}:{Path(filename).name}:{line}:{name}",
                f"{nc / steps:.1f}",
                f"{1000 * tt / steps:.3f}",
                f"{1000 * ct / steps:.3f}",
            )
            for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows
        ],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also profile; show N functions")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    log = StatementLog()
    log.install()
    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    profile: cProfile.Profile | None = None
    try:
        async with bench_engine(conninfo) as engine:
            (target,) = await publish_chain(engine, chain_definition(args.steps))
            await round_of(engine, target, args.concurrency, args.concurrency)  # warm-up
            log.reset()
            wall, cpu = await round_of(engine, target, args.runs, args.concurrency)
            counts = (log.count.copy(), log.round_trips.copy(), log.seconds.copy())
            if args.cprofile:
                profile = cProfile.Profile()
                profile.enable()
                await round_of(engine, target, args.runs, args.concurrency)
                profile.disable()
    finally:
        drop()
        stop_server()

    steps = args.runs * args.steps
    count, trips, seconds = counts
    per: Callable[[float], str] = lambda n: f"{n / steps:.2f}"  # noqa: E731
    rows = [
        (kind, per(count[kind]), per(trips[kind]), f"{1000 * seconds[kind] / max(trips[kind], 1):.2f}")
        for kind in sorted(count, key=lambda k: (-count[k], k))
    ]
    rows.append(("total", per(sum(count.values())), per(sum(trips.values())), ""))
    print_table(
        f"Statements of the full engine path, {args.runs} runs of {args.steps} steps, {args.concurrency} "
        "concurrent (per step; ms: mean time awaited per round trip with a measured time)",
        ("statement", "statements/step", "round trips/step", "ms/round trip"),
        rows,
    )
    print_table(
        "Wall and CPU time of the process",
        ("runs", "steps", "wall ms/step", "CPU ms/step", "CPU / wall", "steps/s"),
        [
            (
                str(args.runs),
                str(steps),
                f"{1000 * wall / steps:.3f}",
                f"{1000 * cpu / steps:.3f}",
                f"{cpu / wall:.2f}",
                f"{steps / wall:,.0f}",
            )
        ],
    )
    if profile is not None:
        print_profile(profile, steps, args.cprofile)


if __name__ == "__main__":
    asyncio.run(main())
