"""EAWE's checkpoint saver against LangGraph's own conformance suite (``langgraph-checkpoint-conformance``).

The :class:`~checkpoints.saver.StepSaver` replaces the stock saver's write path (one transaction
per super-step), so it must still honour the whole checkpointer contract: blob round-trips,
metadata, namespaces, pending writes, listing, deletion, copying and pruning — on a real
PostgreSQL. With no run attached, every call is its own transaction (the suite's case).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from langgraph.checkpoint.conformance import checkpointer_test, validate

from checkpoints.saver import StepSaver, open_checkpoint_store
from eawe.db.database import Database


async def test_step_saver_passes_langgraph_conformance(database: Database, database_conninfo: str) -> None:
    @checkpointer_test(name="EAWE StepSaver")
    async def step_saver() -> AsyncIterator[StepSaver]:
        store = await open_checkpoint_store(database_conninfo, max_size=4, database=database)
        try:
            assert isinstance(store.saver, StepSaver)
            yield store.saver
        finally:
            await store.close()

    report = await validate(step_saver)
    report.print_report()
    failures = {name: r.failures for name, r in report.results.items() if r.passed is False}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures  # the extended capabilities it has too (copy, prune, …)
