"""The run engine: the API the server, the worker and the CLI call.

Build it once per process with :func:`open_engine` (it owns the checkpointer pool, the event
listener and the compiled-graph cache) and close it at shutdown::

    engine = await open_engine(settings, database, retriever_factory=...)
    run = await engine.start_run(tenant_id, workflow_id, {"question": "..."}, started_by=user_id)
    await engine.execute_run(run.id)          # normally a worker does this (RunWorker)
    task = await engine.decide(tenant_id, task_id, {"decision": "approve"}, actor_id=user_id)

Errors are :mod:`eawe.errors`: NotFoundError (404, also for another tenant's ids), ConflictError
(409: a second decision, cancelling a finished run, retrying a run that is not paused with an
error), ValidationError (422, each problem with field and node id), PermissionDeniedError (403).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Literal

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from checkpoints.definitions import load_run_graph, validate_for_tenant
from checkpoints.events import RunEvent, RunEventStream, enqueue_run, publish_event
from checkpoints.hitl import HitlDecision, apply_decision
from checkpoints.resources import EngineResources
from checkpoints.run_queue import MultitaskStrategy, open_thread, queue_run
from checkpoints.run_targets import RunTarget, target_of_assistant, target_of_workflow
from checkpoints.saver import delete_run_checkpoints
from checkpoints.thread_state import ThreadStates
from eawe.audit import ActorType, append_audit
from eawe.db.models import (
    HITLTask,
    RunStatus,
    User,
    WorkflowDefinitionVersion,
    WorkflowRun,
    utcnow,
)
from eawe.db.repositories import runs as run_repo
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories import workflows as workflow_repo
from eawe.db.repositories.feedback import CorrectionFilters
from eawe.db.repositories.hitl import cancel_open_tasks
from eawe.db.repositories.users import get_user
from eawe.db.tenant_scope import scoped_to_tenant, tenant_scope
from eawe.errors import ConflictError
from eawe.feedback_dataset import correction_lines
from eawe.jsonable import jsonable
from graphs.state import initial_state
from graphs.validation import ValidatedWorkflow

__all__ = ["TERMINAL_STATUSES", "RunEngine"]

TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class RunEngine:
    """Starts, executes, pauses, resumes, cancels and retries workflow runs."""

    def __init__(self, resources: EngineResources, *, closers: list[Callable[[], Any]] | None = None) -> None:
        self.resources = resources
        self._closers = closers or []
        self.threads = ThreadStates(resources)
        """Checkpoint-level thread operations: state, history, update, copy, delete, prune."""

    # --- definitions -------------------------------------------------------------------------
    @scoped_to_tenant
    async def validate(self, tenant_id: str, definition: Any) -> ValidatedWorkflow:
        """Validate and test-compile a definition (subworkflows resolved in the tenant).

        Raises:
            eawe.errors.ValidationError: Every problem, each with field and node id.
        """
        async with self.resources.database.session() as session:
            return await validate_for_tenant(self.resources, session, tenant_id, definition)

    @scoped_to_tenant
    async def publish(
        self, tenant_id: str, workflow_id: str, *, actor_id: str | None
    ) -> WorkflowDefinitionVersion:
        """Validate the draft and freeze it as the next published version (workflow becomes ACTIVE)."""
        async with self.resources.database.transaction() as session:
            workflow = await workflow_repo.get_workflow(session, tenant_id, workflow_id, for_update=True)
            validated = await validate_for_tenant(
                self.resources, session, tenant_id, workflow.definition_graph
            )
            return await workflow_repo.publish_version(
                session, tenant_id, workflow_id, graph_hash=validated.graph_hash, actor_id=actor_id
            )

    # --- runs ----------------------------------------------------------------------------------
    @scoped_to_tenant
    async def start_run(
        self,
        tenant_id: str,
        workflow_id: str,
        run_input: Mapping[str, Any] | None,
        started_by: str | None,
        *,
        version: int | None = None,
        thread_id: str | None = None,
        multitask_strategy: MultitaskStrategy = "reject",
    ) -> WorkflowRun:
        """Queue a PENDING run of a published workflow version (the newest by default).

        Without ``thread_id`` the run gets a new thread; with it, the run continues that thread
        from its latest checkpoint.

        Raises:
            eawe.errors.NotFoundError: No such workflow, thread (or user) in this tenant.
            eawe.errors.ConflictError: The workflow is archived or has no published version, or
                the thread is busy (``multitask_strategy="reject"``).
            eawe.errors.ValidationError: The input does not fit the workflow's state.
        """
        async with self.resources.database.transaction() as session:
            target = await target_of_workflow(session, tenant_id, workflow_id, version)
            return await self._queue(
                session,
                tenant_id,
                target,
                thread_id=thread_id,
                run_input=dict(run_input or {}),
                kwargs={},
                started_by=started_by,
                multitask_strategy=multitask_strategy,
            )

    @scoped_to_tenant
    async def create_run(
        self,
        tenant_id: str,
        assistant: str,
        *,
        thread_id: str | None,
        run_input: Any,
        started_by: str | None,
        kwargs: dict[str, Any] | None = None,
        multitask_strategy: MultitaskStrategy = "reject",
        if_not_exists: str = "reject",
        thread_metadata: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        """Queue a run of an assistant (or graph id): a workflow or a code graph, on a thread.

        ``kwargs`` carries what the Agent Protocol asks of the run (``config``, ``context``,
        ``command``, ``checkpoint_id``, ``interrupt_before``/``after``, ``stream_mode``, ...);
        the assistant's config and context are merged under the run's.
        """
        kwargs = dict(kwargs or {})
        async with self.resources.database.transaction() as session:
            target = await target_of_assistant(self.resources, session, tenant_id, assistant)
            configurable = {
                **(target.config.get("configurable") or {}),
                **((kwargs.get("config") or {}).get("configurable") or {}),
            }
            kwargs["config"] = {**target.config, **(kwargs.get("config") or {}), "configurable": configurable}
            kwargs["context"] = {**target.context, **(kwargs.get("context") or {})}
            return await self._queue(
                session,
                tenant_id,
                target,
                thread_id=thread_id,
                run_input=run_input,
                kwargs=kwargs,
                started_by=started_by,
                multitask_strategy=multitask_strategy,
                if_not_exists=if_not_exists,
                thread_metadata=thread_metadata,
            )

    async def _queue(
        self,
        session: AsyncSession,
        tenant_id: str,
        target: RunTarget,
        *,
        thread_id: str | None,
        run_input: Any,
        kwargs: dict[str, Any],
        started_by: str | None,
        multitask_strategy: MultitaskStrategy,
        if_not_exists: str = "reject",
        thread_metadata: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        if started_by is not None:
            await get_user(session, tenant_id, started_by)
        thread, new_thread = await open_thread(
            session,
            tenant_id,
            thread_id,
            target,
            if_not_exists=if_not_exists,
            metadata=thread_metadata,
            created_by_id=started_by,
        )
        if target.version is not None:
            _, validated = await load_run_graph(
                self.resources,
                session,
                tenant_id=tenant_id,
                workflow_id=target.version.workflow_definition_id,
                version=target.version.version,
                graph_hash=target.version.graph_hash,
                row=target.version,
            )
            fresh = new_thread or await thread_repo.latest_run(session, tenant_id, thread.id) is None
            if fresh and "command" not in kwargs:
                initial_state(validated.definition, dict(run_input or {}))  # raises naming input.<field>
        return await queue_run(
            session,
            tenant_id,
            target,
            thread,
            new_thread=new_thread,
            run_input=run_input,
            kwargs=kwargs,
            started_by_id=started_by,
            multitask_strategy=multitask_strategy,
            run_id=thread.id if thread_id is None else None,  # a thread made for the run: one id
        )

    async def execute_run(self, run_id: str) -> RunStatus | None:
        """Claim the run and execute it until it settles: :meth:`RunWorker.execute
        <checkpoints.worker.RunWorker.execute>` (the one claim-and-execute path)."""
        from checkpoints.worker import RunWorker  # the worker builds on the engine

        return await RunWorker(self).execute(run_id)

    async def execute_next(self, limit: int = 1) -> list[tuple[str, RunStatus | None]]:
        """Claim up to ``limit`` runnable runs and execute them: :meth:`RunWorker.run_once
        <checkpoints.worker.RunWorker.run_once>`."""
        from checkpoints.worker import RunWorker

        return await RunWorker(self).run_once(limit)

    async def recover(self, *, batch: int = 8) -> list[str]:
        """After a restart: execute every PENDING run and every RUNNING run whose lease expired.

        Paused runs stay paused; runs of other live workers are left alone. Returns the run ids
        this call executed.
        """
        done: list[str] = []
        while True:
            executed = await self.execute_next(batch)
            if not executed:
                return done
            done.extend(run_id for run_id, _ in executed)

    @scoped_to_tenant
    async def decide(
        self, tenant_id: str, task_id: str, decision: HitlDecision | Mapping[str, Any], *, actor_id: str
    ) -> HITLTask:
        """Apply a reviewer's decision exactly once and queue the run to resume.

        Raises:
            eawe.errors.ValidationError: Bad decision body (e.g. reject without reason).
            eawe.errors.NotFoundError: No such task (or actor) in this tenant.
            eawe.errors.PermissionDeniedError: The actor may not decide this task.
            eawe.errors.ConflictError: The task was already decided.
        """
        parsed = decision if isinstance(decision, HitlDecision) else HitlDecision.parse(decision)
        async with self.resources.database.transaction() as session:
            actor = await get_user(session, tenant_id, actor_id)
            task, _queued = await apply_decision(session, tenant_id, task_id, parsed, actor)
        return task

    @scoped_to_tenant
    async def cancel(
        self,
        tenant_id: str,
        run_id: str,
        *,
        actor_id: str | None,
        action: Literal["interrupt", "rollback"] = "interrupt",
    ) -> WorkflowRun:
        """Cancel a run. A paused or pending run is CANCELLED at once; a running one is asked to stop
        (``cancel_requested``) and its worker marks it CANCELLED. With ``rollback`` the checkpoints
        the run wrote are dropped too, so its thread is back where it was before the run.

        Raises:
            eawe.errors.ConflictError: The run already finished.
        """
        async with self.resources.database.transaction() as session:
            run = await run_repo.get_run(session, tenant_id, run_id, for_update=True)
            if run.status in TERMINAL_STATUSES:
                raise ConflictError(f"run {run_id} is already {run.status.value}", field="status")
            actor_type = ActorType.USER if actor_id else ActorType.SYSTEM
            alive = (
                run.status == RunStatus.RUNNING and run.lease_expires_at and run.lease_expires_at > utcnow()
            )
            run.kwargs = {**(run.kwargs or {}), "cancel_action": action}
            if alive:
                run.cancel_requested = True
                action_name, event = (
                    "RUN_CANCEL_REQUESTED",
                    RunEvent(tenant_id, run_id, "run.cancel_requested", {}),
                )
            else:
                run.status, run.completed_at = RunStatus.CANCELLED, utcnow()
                run.lease_owner, run.lease_expires_at, run.cancel_requested = None, None, True
                await cancel_open_tasks(session, tenant_id, run_id)
                action_name = "RUN_CANCELLED"
                event = RunEvent(tenant_id, run_id, "run.status", {"status": RunStatus.CANCELLED.value})
            await session.flush()
            if not alive and run.thread_id:
                await thread_repo.set_thread_status(session, run.thread_id, "idle")
                queued = await thread_repo.next_queued_run(session, run.thread_id)
                if queued:
                    await enqueue_run(session, queued)
            await append_audit(
                session,
                tenant_id=tenant_id,
                action=action_name,
                actor_type=actor_type,
                actor_id=actor_id,
                workflow_run_id=run_id,
                details={"action": action},
            )
            await publish_event(session, event)
        if not alive and action == "rollback" and run.thread_id:
            await delete_run_checkpoints(self.resources.saver, run.thread_id, run_id)
        return run

    @scoped_to_tenant
    async def retry(self, tenant_id: str, run_id: str, *, actor_id: str | None) -> WorkflowRun:
        """Queue a run PAUSED_WITH_ERROR again; it resumes from its last checkpoint.

        Raises:
            eawe.errors.ConflictError: The run is not paused with an error.
        """
        async with self.resources.database.transaction() as session:
            run = await run_repo.get_run(session, tenant_id, run_id, for_update=True)
            if run.status != RunStatus.PAUSED_WITH_ERROR:
                raise ConflictError(
                    f"only a run paused with an error can be retried; run {run_id} is {run.status.value}",
                    field="status",
                )
            run.status = RunStatus.PENDING
            await session.flush()
            await append_audit(
                session,
                tenant_id=tenant_id,
                action="RUN_RETRIED",
                actor_type=ActorType.USER if actor_id else ActorType.SYSTEM,
                actor_id=actor_id,
                workflow_run_id=run_id,
                details={"error": run.error},
            )
            await publish_event(
                session, RunEvent(tenant_id, run_id, "run.status", {"status": RunStatus.PENDING.value})
            )
            await enqueue_run(session, run_id)
        return run

    # --- observation -------------------------------------------------------------------------
    def subscribe(
        self, tenant_id: str, run_id: str | None = None
    ) -> AbstractAsyncContextManager[RunEventStream]:
        """Live events of a tenant's runs (one run if ``run_id``), from any process.

        Use ``async with engine.subscribe(tenant_id, run_id) as events: async for event in events``.
        Events: ``run.status``, ``node.finished``, ``task.created``, ``task.decided``,
        ``run.cancel_requested``, ``agent.audit``, ``stream.lagged``.
        """
        if self.resources.events is None:
            raise RuntimeError("this engine was opened without events")
        return self.resources.events.subscribe(tenant_id, run_id)

    @scoped_to_tenant
    async def run_state(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        """The latest checkpoint of the run's thread: state values, next nodes and open interrupts."""
        async with self.resources.database.session() as session:
            run = await run_repo.get_run(session, tenant_id, run_id)
        snapshot = await self.threads.state(tenant_id, run.thread_id) if run.thread_id is not None else None
        if snapshot is None:
            return {"values": {}, "next": [], "interrupts": [], "checkpoint_id": None}
        return {
            "values": jsonable(snapshot.values),
            "next": list(snapshot.next),
            "interrupts": [{"id": i.id, "value": jsonable(i.value)} for i in snapshot.interrupts],
            "checkpoint_id": (snapshot.config.get("configurable") or {}).get("checkpoint_id"),
        }

    async def export_corrections(
        self, tenant_id: str, *, workflow_id: str | None = None, filters: CorrectionFilters | None = None
    ) -> AsyncIterator[str]:
        """Decided HITL tasks as JSONL lines: the feedback dataset (:mod:`eawe.feedback_dataset`)."""
        with tenant_scope(tenant_id):
            async for line in correction_lines(
                self.resources.database, tenant_id, filters or CorrectionFilters(workflow_id=workflow_id)
            ):
                yield line

    @scoped_to_tenant
    async def prune_checkpoints(
        self, tenant_id: str, *, finished_before: datetime | None = None, keep_latest: bool = True
    ) -> int:
        """Drop the checkpoint history of the tenant's finished runs (COMPLETED, FAILED, CANCELLED).

        Pruned per thread whose runs have all finished. With ``keep_latest`` each thread keeps its
        final checkpoint (``run_state`` still answers); otherwise its checkpoints are deleted.
        Returns how many threads were pruned.
        """
        async with self.resources.database.session() as session:
            # Threads whose runs are all finished (a thread's checkpoints are shared by its runs).
            stmt = (
                select(WorkflowRun.thread_id)
                .where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.thread_id.is_not(None))
                .group_by(WorkflowRun.thread_id)
                .having(func.bool_and(WorkflowRun.status.in_(list(TERMINAL_STATUSES))))
            )
            if finished_before is not None:
                stmt = stmt.having(func.max(WorkflowRun.completed_at) < finished_before)
            run_ids = [t for t in (await session.scalars(stmt)).all() if t]
        saver = self.resources.saver
        for start in range(0, len(run_ids), 100):
            batch = run_ids[start : start + 100]
            if isinstance(saver, AsyncPostgresSaver):
                await saver.aprune(batch, strategy="keep_latest" if keep_latest else "delete")
            elif not keep_latest:
                for run_id in batch:
                    await saver.adelete_thread(run_id)
        return len(run_ids)

    @scoped_to_tenant
    async def get_actor(self, tenant_id: str, user_id: str) -> User:
        async with self.resources.database.session() as session:
            return await get_user(session, tenant_id, user_id)

    async def pending_runs(self) -> list[str]:
        """Ids of runs waiting for a worker (PENDING), oldest first."""
        async with self.resources.database.session() as session:
            rows = await session.scalars(
                select(WorkflowRun.id)
                .where(WorkflowRun.status == RunStatus.PENDING)
                .order_by(WorkflowRun.created_at)
            )
            return list(rows.all())

    async def close(self) -> None:
        """Stop the event listener and close the checkpointer pool (not the database)."""
        for close in reversed(self._closers):
            result = close()
            if asyncio.iscoroutine(result):
                await result
        self._closers.clear()
