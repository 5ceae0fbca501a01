"""The pooled Postgres checkpointer: concurrent runs keep their own, complete histories."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from agents import LocalChatModelFactory, Principal, RunContext, create_registry
from checkpoints.saver import PooledPostgresSaver, open_checkpoint_store
from graphs.compiler import compile_workflow
from tests.engine.conftest import linear

CHAIN = linear(
    {"x": {"type": "string"}},
    [{"id": f"s{i}", "type": "transform", "config": {"set": {"x": "{x}."}}} for i in range(5)],
)


async def test_concurrent_runs_on_the_pooled_saver(database_conninfo: str) -> None:
    store = await open_checkpoint_store(database_conninfo, max_size=8)
    try:
        assert type(store.saver) is PooledPostgresSaver
        graph = compile_workflow(CHAIN, create_registry(plugins=False), checkpointer=store.saver)
        context = RunContext(tenant_id="t", principal=Principal(None), chat_models=LocalChatModelFactory())

        async def one(i: int) -> Any:
            config = {"configurable": {"thread_id": f"pooled-{i}"}}
            result = await graph.ainvoke({"x": str(i)}, config, context=context, durability="sync")
            history = [c async for c in graph.aget_state_history(config)]
            return result["x"], len(history)

        results = await asyncio.gather(*(one(i) for i in range(32)))
        assert results == [(f"{i}.....", 7) for i in range(32)]  # input + 5 steps + start checkpoint
        await store.delete_run("pooled-0")
        assert (await graph.aget_state({"configurable": {"thread_id": "pooled-0"}})).values == {}
    finally:
        await store.close()


async def test_setup_is_idempotent_and_the_stock_saver_is_available(database_conninfo: str) -> None:
    first, second = await asyncio.gather(
        open_checkpoint_store(database_conninfo, max_size=2),
        open_checkpoint_store(database_conninfo, max_size=2, serialize=True),
    )
    try:
        assert type(second.saver) is AsyncPostgresSaver
    finally:
        await first.close()
        await second.close()
