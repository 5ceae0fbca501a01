"""Executing one claimed run: start or resume the graph, stream it, keep status and audit in step.

The outcome of every execution is one of: COMPLETED; PAUSED_FOR_APPROVAL (HITL tasks created for
the interrupts); PAUSED_WITH_ERROR (a node failed after its retries, or the run's starter was
deactivated; ``retry`` resumes from the last checkpoint); FAILED (a rejection without a reject
route, or a definition that can no longer run); CANCELLED. Each status change is written in one
transaction with its audit row and its event; every write is guarded by the lease, so a worker
that lost its run writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot
from sqlalchemy import select

from agents.builtins.approval import ApprovalRejectedError
from agents.context import RunContext
from checkpoints.definitions import load_run_graph
from checkpoints.events import RunEvent, publish_event
from checkpoints.hitl import AssigneeUnavailableError, create_tasks_for_interrupts, decided_resume_values
from checkpoints.leases import ClaimedRun, release_run, renew_lease
from checkpoints.resources import EngineResources
from checkpoints.run_context import StarterDeactivatedError, build_run_context
from checkpoints.run_tracing import run_traced  # issue 11 (ops)
from eawe.audit import ActorType, append_audit
from eawe.db.models import RunStatus, WorkflowRun
from eawe.db.repositories.hitl import cancel_open_tasks
from eawe.errors import EAWEError
from graphs.state import initial_state
from graphs.validation import ValidatedWorkflow

__all__ = ["execute_claimed"]

logger = logging.getLogger(__name__)

_MAX_ERROR_TEXT = 2000


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _state_summary(snapshot: StateSnapshot) -> dict[str, Any]:
    return {
        "next": list(snapshot.next),
        "interrupts": [i.id for i in snapshot.interrupts],
        "checkpoint_id": (snapshot.config.get("configurable") or {}).get("checkpoint_id"),
    }


class _Execution:
    def __init__(
        self, resources: EngineResources, claimed: ClaimedRun, cancel: asyncio.Event, lost: asyncio.Event
    ):
        self.r = resources
        self.run = claimed
        self.cancel = cancel
        self.lost = lost
        self.config: RunnableConfig = {
            "configurable": {"thread_id": claimed.id},
            "recursion_limit": resources.recursion_limit,
        }
        self.validated: ValidatedWorkflow | None = None
        self.context: RunContext | None = None

    # --- bookkeeping -------------------------------------------------------------------------
    async def _record(
        self,
        action: str,
        details: dict[str, Any],
        *,
        status: RunStatus | None = None,
        actor_type: str = ActorType.SYSTEM,
        release: dict[str, Any] | None = None,
        event: RunEvent | None = None,
    ) -> bool:
        """One transaction: optional release with a new status, the audit row, the event."""
        async with self.r.database.transaction() as session:
            if status is not None:
                released = await release_run(
                    session, self.run.id, owner=self.r.worker_id, status=status, **(release or {})
                )
                if not released:
                    self.lost.set()
                    return False
                if status == RunStatus.CANCELLED:
                    await cancel_open_tasks(session, self.run.tenant_id, self.run.id)
            await append_audit(
                session,
                tenant_id=self.run.tenant_id,
                action=action,
                actor_type=actor_type,
                workflow_run_id=self.run.id,
                details=details,
            )
            data = {
                "status": (status or RunStatus.RUNNING).value,
                **({"error": release.get("error")} if release else {}),
            }
            await publish_event(
                session, event or RunEvent(self.run.tenant_id, self.run.id, "run.status", data)
            )
        return True

    async def _finish(
        self, status: RunStatus, action: str, details: dict[str, Any], **release: Any
    ) -> RunStatus | None:
        ok = await self._record(action, details, status=status, release=release)
        return status if ok else None

    # --- the run -----------------------------------------------------------------------------
    async def execute(self) -> RunStatus | None:
        try:
            async with self.r.database.session() as session:
                graph, self.validated = await load_run_graph(
                    self.r,
                    session,
                    tenant_id=self.run.tenant_id,
                    workflow_id=self.run.workflow_id,
                    version=self.run.workflow_version,
                    graph_hash=self.run.graph_hash,
                )
            self.context = await build_run_context(
                self.r,
                tenant_id=self.run.tenant_id,
                run_id=self.run.id,
                workflow_id=self.run.workflow_id,
                workflow_version=self.run.workflow_version,
                started_by_id=self.run.started_by_id,
            )
        except StarterDeactivatedError as exc:
            # Not the run's fault: pause, so it can be retried once the starter is reactivated.
            error = {"type": type(exc).__name__, "message": str(exc)}
            return await self._paused_with_error(error, await graph.aget_state(self.config))
        except EAWEError as exc:
            error = {"type": type(exc).__name__, "message": str(exc)}
            return await self._finish(RunStatus.FAILED, "RUN_FAILED", error, error=error, set_error=True)
        snapshot = await graph.aget_state(self.config)
        graph_input: Any = None
        if snapshot.created_at is None:
            try:
                graph_input = initial_state(self.validated.definition, self.run.input)
            except EAWEError as exc:
                error = {"type": "ValidationError", "message": str(exc)}
                return await self._finish(RunStatus.FAILED, "RUN_FAILED", error, error=error, set_error=True)
            action = "RUN_STARTED"
        else:
            action = "RUN_RESUMED"
        details = {"workflow_version": self.run.workflow_version, "attempt": self.run.attempts}
        if self.run.recovered:
            details["recovered"] = True
        if not await self._record(action, details):
            return None
        while True:
            if snapshot.created_at is not None and snapshot.interrupts:
                async with self.r.database.session() as session:
                    resume = await decided_resume_values(
                        session, self.run.tenant_id, self.run.id, snapshot.interrupts
                    )
                if not resume:
                    outcome = await self._pause(snapshot)
                    if outcome != "resume":
                        return outcome
                    continue
                graph_input = Command(resume=resume)
            result = await self._stream(graph, graph_input)
            if self.lost.is_set():
                logger.warning("run %s: lease lost to another worker; stopping without writing", self.run.id)
                return None
            if result == "cancelled":
                return await self._finish(RunStatus.CANCELLED, "RUN_CANCELLED", {}, set_error=False)
            snapshot = await graph.aget_state(self.config)
            if isinstance(result, BaseException):
                return await self._failed(snapshot, result)
            if snapshot.interrupts:
                outcome = await self._pause(snapshot)
                if outcome != "resume":
                    return outcome
                continue
            return await self._finish(
                RunStatus.COMPLETED,
                "RUN_COMPLETED",
                {"keys": sorted(snapshot.values)},
                payload=_jsonable(snapshot.values),
                state=_state_summary(snapshot),
                error=None,
                set_error=True,
            )

    async def _stream(self, graph: CompiledStateGraph, graph_input: Any) -> Any:
        async def consume() -> None:
            # durability="sync": a step's checkpoint is committed before the next step starts, so
            # a crash never re-runs a node that finished (tool calls have side effects).
            stream = graph.astream(  # type: ignore[call-overload]  # the compiled graph's context type is dynamic
                graph_input,
                self.config,
                context=self.context,
                stream_mode="updates",
                durability="sync",
            )
            async for chunk in stream:
                for node_id, update in chunk.items():
                    if node_id != "__interrupt__":
                        await self._node_finished(node_id, update)

        consumer = asyncio.create_task(consume())
        stop = asyncio.create_task(self._stop_requested())
        try:
            await asyncio.wait({consumer, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not consumer.done():
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer
            return "cancelled"
        exc = consumer.exception()
        return exc if exc is not None else "done"

    async def _stop_requested(self) -> None:
        waits = [asyncio.create_task(self.cancel.wait()), asyncio.create_task(self.lost.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _node_finished(self, node_id: str, update: Any) -> None:
        """The node's audit row and event, written before the stream moves on.

        Awaited here on purpose: a crash right after a step must not leave a completed node
        without its audit row (the resumed run will not execute that node again).
        """
        assert self.validated is not None
        node_type = self.validated.node_types.get(node_id)
        details: dict[str, Any] = {
            "node_id": node_id,
            "node_type": node_type.name if node_type else None,
            "keys": sorted(update) if isinstance(update, dict) else [],
        }
        if node_type is not None and node_type.name == "llm":
            details["model"] = self.r.chat_models.default_model_name
            details["local_model"] = self.r.chat_models.is_local
        event = RunEvent(self.run.tenant_id, self.run.id, "node.finished", details)
        await self._record("NODE_FINISHED", details, actor_type=ActorType.AGENT, event=event)

    async def _pause(self, snapshot: StateSnapshot) -> Any:
        try:
            async with self.r.database.transaction() as session:
                run = await session.scalar(
                    select(WorkflowRun).where(WorkflowRun.id == self.run.id).with_for_update()
                )
                if run is None or run.lease_owner != self.r.worker_id:
                    self.lost.set()
                    return None
                created = await create_tasks_for_interrupts(session, run, snapshot.interrupts)
                if await decided_resume_values(session, run.tenant_id, run.id, snapshot.interrupts):
                    return "resume"  # a decision arrived while we ran: keep going
                await release_run(
                    session,
                    run.id,
                    owner=self.r.worker_id,
                    status=RunStatus.PAUSED_FOR_APPROVAL,
                    payload=_jsonable(snapshot.values),
                    state=_state_summary(snapshot),
                    error=None,
                    set_error=True,
                )
                await append_audit(
                    session,
                    tenant_id=run.tenant_id,
                    action="RUN_PAUSED_FOR_APPROVAL",
                    workflow_run_id=run.id,
                    details={"new_tasks": [t.id for t in created], "interrupts": len(snapshot.interrupts)},
                )
                await publish_event(
                    session,
                    RunEvent(
                        run.tenant_id, run.id, "run.status", {"status": RunStatus.PAUSED_FOR_APPROVAL.value}
                    ),
                )
            return RunStatus.PAUSED_FOR_APPROVAL
        except AssigneeUnavailableError as exc:
            node_id = next(
                (i.value.get("node_id") for i in snapshot.interrupts if isinstance(i.value, dict)), None
            )
            error = {"node_id": node_id, "type": type(exc).__name__, "message": str(exc)}
            return await self._paused_with_error(error, snapshot)

    async def _failed(self, snapshot: StateSnapshot, exc: BaseException) -> RunStatus | None:
        node_id = next((t.name for t in snapshot.tasks if t.error is not None), None)
        scrubbed = self.context.scrubber.scrub(str(exc)) if self.context else str(exc)
        if isinstance(exc, ApprovalRejectedError):
            rejected = {"node_id": exc.node_id, "type": "Rejected", "message": scrubbed}
            return await self._finish(
                RunStatus.FAILED, "RUN_FAILED", rejected, error=rejected, set_error=True
            )
        error: dict[str, Any] = {
            "node_id": node_id,
            "type": type(exc).__name__,
            "message": scrubbed[:_MAX_ERROR_TEXT],
            "attempt": self.run.attempts,
        }
        logger.warning("run %s: node %s failed: %s", self.run.id, node_id, error["type"])
        await self._record("AGENT_ERROR", error, actor_type=ActorType.AGENT)
        return await self._paused_with_error(error, snapshot)

    async def _paused_with_error(self, error: dict[str, Any], snapshot: StateSnapshot) -> RunStatus | None:
        return await self._finish(
            RunStatus.PAUSED_WITH_ERROR,
            "RUN_PAUSED_WITH_ERROR",
            error,
            payload=_jsonable(snapshot.values),
            state=_state_summary(snapshot),
            error=error,
            set_error=True,
        )


async def _heartbeat(
    resources: EngineResources, run_id: str, cancel: asyncio.Event, lost: asyncio.Event
) -> None:
    interval = max(resources.lease_seconds / 3, 0.05)
    while True:
        await asyncio.sleep(interval)
        try:
            async with resources.database.transaction() as session:
                owner, cancel_requested = await renew_lease(
                    session, run_id, owner=resources.worker_id, lease_seconds=resources.lease_seconds
                )
        except Exception:  # a transient database error: try again next beat, the lease has slack
            logger.warning("run %s: lease renewal failed", run_id, exc_info=True)
            continue
        if not owner:
            lost.set()
            return
        if cancel_requested:
            cancel.set()


async def execute_claimed(resources: EngineResources, claimed: ClaimedRun) -> RunStatus | None:
    """Run or resume a run this worker holds the lease on. Returns the status it left the run in,
    or None when the lease was lost (another worker owns the run now)."""
    lost = asyncio.Event()
    watch = (
        resources.events.watch_cancel(claimed.id)
        if resources.events
        else contextlib.nullcontext(asyncio.Event())
    )
    with watch as cancel:
        beat = asyncio.create_task(
            _heartbeat(resources, claimed.id, cancel, lost), name=f"lease-{claimed.id}"
        )
        try:
            # issue 11 (ops): the run's span and log ids — one line, `execute()` runs inside it
            return await run_traced(resources, claimed, _Execution(resources, claimed, cancel, lost).execute)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
