"""A thread's checkpoints: state, history, time travel (update, fork), copy, delete, prune.

The graph that reads or writes a thread's checkpoints is the one its runs executed: the newest
run's pinned workflow version, or its code graph (a factory is called with the access context
LangGraph's server uses, ``threads.read`` / ``threads.update``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot
from sqlalchemy import select

from checkpoints.claimed_graph import tenant_store
from checkpoints.definitions import load_run_graph
from checkpoints.resources import EngineResources
from checkpoints.run_queue import cancel_active_runs
from eawe.db.ids import new_id
from eawe.db.models import AgentThread, RunStatus, WorkflowDefinition, WorkflowRun, utcnow
from eawe.db.repositories import threads as thread_repo
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError

__all__ = ["ThreadStates"]


def _config(thread_id: str, checkpoint_id: str | None = None, checkpoint_ns: str = "") -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


class ThreadStates:
    """Checkpoint-level operations on a tenant's threads (``engine.threads``)."""

    def __init__(self, resources: EngineResources) -> None:
        self.r = resources

    async def graph(self, tenant_id: str, thread_id: str, *, access: str = "threads.read") -> Pregel | None:
        """The graph of the thread's runs; None when no run ever started on it.

        Raises:
            eawe.errors.NotFoundError: No such thread in the tenant.
        """
        async with self.r.database.session() as session:
            thread = await thread_repo.get_thread(session, tenant_id, thread_id)
            run = await thread_repo.latest_run(session, tenant_id, thread_id)
            if run is not None and run.workflow_definition_id is not None:
                graph, _ = await load_run_graph(
                    self.r,
                    session,
                    tenant_id=tenant_id,
                    workflow_id=run.workflow_definition_id,
                    version=run.workflow_version,
                    graph_hash=run.graph_hash,
                )
                return graph
            graph_id = run.graph_id if run is not None else thread.graph_id
            if graph_id and graph_id not in self.r.code_graphs:
                workflow = await session.scalar(
                    select(WorkflowDefinition).where(
                        WorkflowDefinition.tenant_id == tenant_id, WorkflowDefinition.slug == graph_id
                    )
                )
                if workflow is not None and workflow.published_version:
                    graph, _ = await load_run_graph_latest(self.r, session, tenant_id, workflow)
                    return graph
        if not graph_id or graph_id not in self.r.code_graphs:
            return None
        return await self.r.code_graphs.instance(
            graph_id, checkpointer=self.r.saver, store=tenant_store(self.r, tenant_id), access_context=access
        )

    async def state(
        self, tenant_id: str, thread_id: str, *, checkpoint_id: str | None = None, subgraphs: bool = False
    ) -> StateSnapshot | None:
        graph = await self.graph(tenant_id, thread_id)
        if graph is None:
            return None
        snapshot = await graph.aget_state(_config(thread_id, checkpoint_id), subgraphs=subgraphs)
        if checkpoint_id and snapshot.created_at is None:
            raise NotFoundError("checkpoint", checkpoint_id)
        return snapshot

    async def history(
        self,
        tenant_id: str,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_id: str | None = None,
    ) -> list[StateSnapshot]:
        graph = await self.graph(tenant_id, thread_id)
        if graph is None:
            return []
        return [
            snapshot
            async for snapshot in graph.aget_state_history(
                _config(thread_id, checkpoint_id),
                limit=limit,
                before=_config(thread_id, before) if before else None,
                filter=metadata or None,
            )
        ]

    async def update(
        self,
        tenant_id: str,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
        actor_id: str | None = None,
    ) -> RunnableConfig:
        """Write ``values`` as if ``as_node`` returned them; returns the new checkpoint's config.

        Raises:
            eawe.errors.ConflictError: A run of the thread is pending or running, or no graph is
                known for the thread yet (no run started on it).
        """
        async with self.r.database.session() as session:
            if await thread_repo.active_runs(session, tenant_id, thread_id):
                raise ConflictError(f"thread {thread_id} is busy; update its state when the run settles")
        graph = await self.graph(tenant_id, thread_id, access="threads.update")
        if graph is None:
            raise ConflictError(
                f"thread {thread_id} has no graph yet: start a run on it first", field="thread_id"
            )
        config = _config(thread_id, checkpoint_id)
        config["metadata"] = {
            "thread_id": thread_id,
            "updated_by": actor_id,
            "source_of_update": "update_state",
        }
        try:
            return await graph.aupdate_state(config, values, as_node=as_node)
        except (ValueError, KeyError) as exc:  # unknown node, ambiguous update, bad channel
            raise ValidationError(Problem("as_node" if as_node else "values", str(exc))) from exc

    async def copy(self, tenant_id: str, thread_id: str, *, actor_id: str | None) -> AgentThread:
        """A new thread with the same metadata, graph and checkpoints (history included)."""
        async with self.r.database.transaction() as session:
            source = await thread_repo.get_thread(session, tenant_id, thread_id)
            copied = await thread_repo.create_thread(
                session,
                tenant_id,
                thread_id=new_id(),
                metadata=dict(source.metadata_ or {}),
                created_by_id=actor_id,
                graph_id=source.graph_id,
                assistant_id=source.assistant_id,
            )
            copied.status = "idle" if source.status == "busy" else source.status
            last = await thread_repo.latest_run(session, tenant_id, thread_id)
            if last is not None:
                # The copy reads its checkpoints with the source's newest graph: a settled run.
                session.add(_settled_copy(last, copied.id))
        await _copy_checkpoints(self.r.saver, thread_id, copied.id)
        return copied

    async def delete(self, tenant_id: str, thread_id: str, *, actor_id: str | None = None) -> None:
        """Delete the thread and its checkpoints; its pending and running runs are cancelled first."""
        async with self.r.database.transaction() as session:
            active = await thread_repo.active_runs(session, tenant_id, thread_id, for_update=True)
            if active:
                await cancel_active_runs(session, tenant_id, active, action="interrupt", actor_id=actor_id)
            await thread_repo.delete_thread(session, tenant_id, thread_id)
        await self.r.saver.adelete_thread(thread_id)

    async def prune(self, tenant_id: str, thread_ids: list[str], *, strategy: str = "delete") -> int:
        """Delete threads, or keep only their latest checkpoint (``keep_latest``)."""
        pruned = 0
        for thread_id in thread_ids:
            async with self.r.database.session() as session:
                try:
                    await thread_repo.get_thread(session, tenant_id, thread_id)
                except NotFoundError:
                    continue
            if strategy == "keep_latest":
                prune = getattr(self.r.saver, "aprune", None)
                if prune is not None:
                    await prune([thread_id], strategy="keep_latest")
            else:
                await self.delete(tenant_id, thread_id)
            pruned += 1
        return pruned


async def load_run_graph_latest(
    resources: EngineResources, session: Any, tenant_id: str, workflow: WorkflowDefinition
) -> Any:
    from eawe.db.repositories.workflows import get_version

    version = await get_version(session, tenant_id, workflow.id, None)
    return await load_run_graph(
        resources,
        session,
        tenant_id=tenant_id,
        workflow_id=workflow.id,
        version=version.version,
        graph_hash=version.graph_hash,
    )


def _settled_copy(run: WorkflowRun, thread_id: str) -> WorkflowRun:
    now = utcnow()
    return WorkflowRun(
        id=new_id(),
        tenant_id=run.tenant_id,
        workflow_definition_id=run.workflow_definition_id,
        workflow_version=run.workflow_version,
        graph_hash=run.graph_hash,
        status=run.status
        if run.status not in (RunStatus.PENDING, RunStatus.RUNNING)
        else RunStatus.CANCELLED,
        input=None,
        payload=run.payload,
        started_by_id=run.started_by_id,
        thread_id=thread_id,
        graph_id=run.graph_id,
        assistant_id=run.assistant_id,
        kwargs={"copied_from_run": run.id},
        started_at=run.started_at,
        completed_at=run.completed_at or now,
    )


async def _copy_checkpoints(saver: BaseCheckpointSaver[Any], source: str, target: str) -> None:
    """Every checkpoint (all namespaces) and pending write of ``source`` under ``target``."""
    items = [item async for item in saver.alist({"configurable": {"thread_id": source}})]
    for item in reversed(items):  # oldest first, so parents exist before children
        configurable = item.config["configurable"]
        ns = configurable.get("checkpoint_ns", "")
        parent_id = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        config: RunnableConfig = {"configurable": {"thread_id": target, "checkpoint_ns": ns}}
        if parent_id:
            config["configurable"]["checkpoint_id"] = parent_id
        metadata: Any = {**(item.metadata or {}), "thread_id": target}
        saved = await saver.aput(
            config, item.checkpoint, metadata, item.checkpoint.get("channel_versions", {})
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in item.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(saved, writes, task_id)
