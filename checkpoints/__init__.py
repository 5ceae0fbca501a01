"""Durable runs: the Postgres checkpointer, the run queue with leases, HITL bookkeeping and the engine.

The server, workers and the CLI use :func:`open_engine` → :class:`RunEngine` and :class:`RunWorker`.
"""

from checkpoints.engine import TERMINAL_STATUSES, RunEngine
from checkpoints.events import RunEvent, RunEventHub, RunEventStream
from checkpoints.hitl import HitlDecision
from checkpoints.open_engine import open_engine, permissioned_retriever_factory
from checkpoints.resources import EngineResources, RetrieverFactory
from checkpoints.saver import CheckpointStore, PooledPostgresSaver, open_checkpoint_store
from checkpoints.worker import RunWorker

__all__ = [
    "TERMINAL_STATUSES",
    "CheckpointStore",
    "EngineResources",
    "HitlDecision",
    "PooledPostgresSaver",
    "RetrieverFactory",
    "RunEngine",
    "RunEvent",
    "RunEventHub",
    "RunEventStream",
    "RunWorker",
    "open_checkpoint_store",
    "open_engine",
    "permissioned_retriever_factory",
]
