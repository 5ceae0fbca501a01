"""Everything the engine holds for the life of a process, built once and passed around."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.context import ChatModelFactory, DocumentRetriever, Principal
from agents.registry import NodeRegistry
from checkpoints.code_graphs import CodeGraphRegistry
from checkpoints.webhooks import WebhookSender
from graphs.compiler import CompiledGraphCache
from graphs.validation import DEFAULT_RECURSION_LIMIT

if TYPE_CHECKING:
    import httpx
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from checkpoints.events import RunEventHub
    from checkpoints.item_store import ItemStore
    from checkpoints.worker_liveness import WorkerLiveness
    from eawe.credentials import CredentialCipher
    from eawe.db.database import Database

__all__ = ["EngineResources", "RetrieverFactory", "default_worker_id"]

RetrieverFactory = Callable[[str, Principal], DocumentRetriever | None]
"""``factory(tenant_id, principal)`` → the permission-filtered retriever a run uses (or None)."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class EngineResources:
    """Shared, long-lived dependencies of the run engine.

    Attributes:
        database: Relational store (SQLAlchemy sessions).
        saver: The LangGraph checkpointer (``PooledPostgresSaver`` in production).
        registry: Node types.
        chat_models: Chat model factory for every run.
        retriever_factory: Builds the retriever for a run's principal; None when no document store.
        cipher: Decrypts stored credentials for ``tool`` nodes; None when no keys are configured.
        http: Shared HTTP client for ``tool`` nodes.
        events: Cross-process run events (None: no events, e.g. in a one-shot CLI run).
        lease_seconds: How long a claimed run stays ours without a heartbeat.
        worker_id: This process's name in ``leaseOwner``.
        recursion_limit: LangGraph super-step limit per invocation.
        store: LangGraph's Postgres store (long-term memory); ``store.for_tenant(tenant_id)`` is
            the tenant-confined store to give a run's graph. None: runs get no store.
    """

    database: Database
    saver: BaseCheckpointSaver[Any]
    registry: NodeRegistry
    chat_models: ChatModelFactory
    retriever_factory: RetrieverFactory | None = None
    cipher: CredentialCipher | None = None
    http: httpx.AsyncClient | None = None
    events: RunEventHub | None = None
    lease_seconds: float = 60.0
    worker_id: str = field(default_factory=default_worker_id)
    recursion_limit: int = DEFAULT_RECURSION_LIMIT
    graphs: CompiledGraphCache = field(default_factory=CompiledGraphCache)
    code_graphs: CodeGraphRegistry = field(default_factory=CodeGraphRegistry)
    """Graphs loaded from a ``langgraph.json`` (``Settings.graphs_config``), runnable by every tenant."""
    webhooks: WebhookSender | None = None
    """Sends the webhook of a run that asked for one, when it settles."""
    store: ItemStore | None = None
    """The LangGraph store; graphs get its tenant-scoped view (``store.for_tenant``)."""
    pool: Any = None
    """The checkpointer's psycopg pool (autocommit connections): a run's claim, each of its steps
    and its release are one round trip each on it (:func:`eawe.db.round_trip.scoped_round_trip`)."""
    liveness: WorkerLiveness | None = None
    """The session lock saying this process is alive (a claim needs it); it stops the executions
    it guards and renames ``worker_id`` when it is lost."""
