"""Building a :class:`~checkpoints.engine.RunEngine` from settings and an open database."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import httpx

from agents.context import ChatModelFactory, Principal
from agents.models.factory import chat_model_factory_from_settings
from agents.registry import NodeRegistry, create_registry
from checkpoints.code_graphs import CodeGraphRegistry, aload_code_graphs
from checkpoints.engine import RunEngine
from checkpoints.events import RunEventHub
from checkpoints.item_store import open_item_store
from checkpoints.resources import EngineResources, RetrieverFactory, default_worker_id
from checkpoints.saver import open_checkpoint_store
from checkpoints.webhooks import WebhookSender
from checkpoints.worker_liveness import WorkerLiveness
from eawe.credentials import CredentialCipher

if TYPE_CHECKING:
    from eawe.db.database import Database
    from eawe.settings import Settings

__all__ = ["open_document_retrieval", "open_engine", "permissioned_retriever_factory"]

logger = logging.getLogger(__name__)


def permissioned_retriever_factory(store: Any) -> RetrieverFactory:
    """Runs retrieve through ``retrieval.PermissionedRetriever`` as their principal (tenant + groups)."""
    from retrieval import PermissionedRetriever, PermissionFilter

    def build(tenant_id: str, principal: Principal) -> Any:
        return PermissionedRetriever(
            store=store, permission_filter=PermissionFilter(tenant_id, principal.groups)
        )

    return build


async def open_document_retrieval(
    settings: Settings, stack: AsyncExitStack, *, required: bool = False
) -> RetrieverFactory | None:
    """Open the chunk store for a CLI or worker process (closed by ``stack``); None if unavailable.

    The embedded Qdrant directory can be held by one process only; without a Qdrant server a
    second process runs without retrieval and its ``retrieve`` nodes fail with a clear error.
    With ``required`` an unavailable store is raised instead (a worker must not start without it).
    """
    try:
        from retrieval import RetrievalError, open_chunk_store

        store = await asyncio.to_thread(open_chunk_store, settings)
    except (ImportError, RetrievalError, OSError) as exc:
        if required:
            raise
        logger.warning(
            "document retrieval is unavailable in this process (%s); retrieve nodes will fail", exc
        )
        return None
    stack.push_async_callback(asyncio.to_thread, store.close)
    return permissioned_retriever_factory(store)


async def open_engine(
    settings: Settings,
    database: Database,
    *,
    registry: NodeRegistry | None = None,
    chat_models: ChatModelFactory | None = None,
    retriever_factory: RetrieverFactory | None = None,
    http: httpx.AsyncClient | None = None,
    events: bool = True,
    lease_seconds: float = 60.0,
    worker_id: str | None = None,
    checkpoint_pool_size: int | None = None,
    serialize_checkpoints: bool = False,
) -> RunEngine:
    """Open the checkpointer pool (and its tables), the event listener and the engine.

    Args:
        settings: Process settings (chat model, credential keys, pool size).
        database: The open relational store.
        registry: Node types; default: built-ins plus installed plugins.
        chat_models: Default: ChatOpenAI when ``OPENAI_API_KEY`` is set, else the local model.
        retriever_factory: Builds a run's retriever from its principal; see
            :func:`permissioned_retriever_factory`. None: ``retrieve`` nodes fail clearly.
        http: Client for ``tool`` nodes (default: one owned by the engine).
        events: Listen for cross-process run events (needed for ``subscribe`` and prompt cancels).
        lease_seconds: Worker lease length.
        worker_id: Lease owner name (default host:pid).
        checkpoint_pool_size: Checkpointer pool size (default ``settings.db_pool_size``).
        serialize_checkpoints: Use the stock saver with its global lock (benchmarks only).
    """
    closers: list[Any] = []
    store = await open_checkpoint_store(
        database.conninfo,
        max_size=max(2, checkpoint_pool_size or settings.db_pool_size),
        serialize=serialize_checkpoints,
        database=None if serialize_checkpoints else database,
    )
    closers.append(store.close)
    try:
        if http is None:
            http = httpx.AsyncClient(follow_redirects=False)
            closers.append(http.aclose)
        hub = None
        if events:
            hub = RunEventHub(database.conninfo)
            await hub.start()
            closers.append(hub.stop)
        # The LangGraph store on the checkpointer's pool (tables by its setup()).
        item_store = await open_item_store(store.pool)
        closers.append(item_store.close)
        keys = settings.parsed_credential_keys()
        code_graphs = (
            await aload_code_graphs(settings.graphs_config) if settings.graphs_config else CodeGraphRegistry()
        )
        resources = EngineResources(
            database=database,
            saver=store.saver,
            pool=store.pool,
            registry=registry if registry is not None else create_registry(),
            chat_models=chat_models
            if chat_models is not None
            else chat_model_factory_from_settings(settings),
            retriever_factory=retriever_factory,
            cipher=CredentialCipher(keys) if keys else None,
            http=http,
            events=hub,
            lease_seconds=lease_seconds,
            worker_id=worker_id or default_worker_id(),
            code_graphs=code_graphs,
            store=item_store,
            webhooks=WebhookSender(
                http, settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            ),
        )
        resources.liveness = WorkerLiveness(database.conninfo, resources)  # fast reclaim (issue 13)
        await resources.liveness.start()
        closers.insert(0, resources.liveness.close)  # released last, after the engine's other closers
    except BaseException:
        for close in reversed(closers):
            await close()
        raise
    return RunEngine(resources, closers=closers)
