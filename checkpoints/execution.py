"""Executing one claimed run: start or continue the graph on its thread, stream it, keep status,
audit, the thread's status and the stored stream in step.

The outcome of every execution is one of: COMPLETED (also a code-graph run that stopped at an
interrupt or at ``interrupt_before``/``after``: its thread is then ``interrupted``);
PAUSED_FOR_APPROVAL (a workflow's approval interrupts: HITL tasks are created); PAUSED_WITH_ERROR
(a node failed after its retries, or the run's starter was deactivated; ``retry`` resumes from the
last checkpoint); FAILED (a rejection without a reject route, or a graph that can no longer run);
CANCELLED. Each status change is written in one transaction with its audit row, its event and
the thread's status; every write is guarded by the lease, so a worker that lost its run writes
nothing.

While the graph runs, what the engine records about a step (the finished nodes' audit entries,
their usage, the run's events and stream parts) goes to the run's :class:`StepJournal`, which the
checkpoint saver commits with the step's checkpoint: one transaction per super-step.

A run's first execution feeds the graph its input (or its ``command``) from the thread's latest
checkpoint, or from ``checkpoint_id`` (a fork); a later execution of the same run (after a crash,
an approval or a retry) continues from the run's own last checkpoint, which it recognises by the
``run_id`` in the checkpoint metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot
from sqlalchemy import select

from agents.builtins.approval import ApprovalRejectedError
from checkpoints.claimed_graph import load_claimed_graph, run_config
from checkpoints.events import QUEUE_CHANNEL, RunEvent, event_notice
from checkpoints.hitl import AssigneeUnavailableError, create_tasks_for_interrupts, decided_resume_values
from checkpoints.leases import ClaimedRun, release_run, released, renew_lease
from checkpoints.protocol_log import protocol_chunks
from checkpoints.resources import EngineResources
from checkpoints.run_context import StarterDeactivatedError
from checkpoints.run_tracing import run_traced  # issue 11 (ops)
from checkpoints.saver import StepSaver, delete_run_checkpoints
from checkpoints.step_journal import LeaseLostError, StepJournal
from checkpoints.stream_log import StreamRecorder, graph_stream_modes
from eawe.audit import ActorType
from eawe.db.driver_cursor import driver_cursor
from eawe.db.models import RunStatus, WorkflowRun
from eawe.db.repositories.run_outbox import StepRows
from eawe.db.repositories.threads import ThreadStatus
from eawe.db.round_trip import scoped_round_trip
from eawe.db.tenant_scope import current_scope
from eawe.errors import EAWEError
from eawe.jsonable import jsonable
from graphs.state import initial_state
from graphs.validation import ValidatedWorkflow

__all__ = ["execute_claimed"]

logger = logging.getLogger(__name__)

_MAX_ERROR_TEXT = 2000
_THREAD_STATUS: dict[RunStatus, ThreadStatus] = {
    RunStatus.PAUSED_FOR_APPROVAL: "interrupted",
    RunStatus.PAUSED_WITH_ERROR: "error",
    RunStatus.FAILED: "error",
    RunStatus.CANCELLED: "idle",
    RunStatus.COMPLETED: "idle",
}


_WEBHOOK_STATUS = {
    RunStatus.COMPLETED: "success",
    RunStatus.PAUSED_FOR_APPROVAL: "success",
    RunStatus.FAILED: "error",
    RunStatus.PAUSED_WITH_ERROR: "error",
    RunStatus.CANCELLED: "interrupted",
}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(jsonable(value), default=str))


def _state_summary(snapshot: StateSnapshot) -> dict[str, Any]:
    return {
        "next": list(snapshot.next),
        "interrupts": [i.id for i in snapshot.interrupts],
        "checkpoint_id": (snapshot.config.get("configurable") or {}).get("checkpoint_id"),
    }


def _requested_modes(claimed: ClaimedRun) -> list[str]:
    mode = claimed.kwargs.get("stream_mode")
    if mode is None:
        return []
    return [mode] if isinstance(mode, str) else [m for m in mode if isinstance(m, str)]


class _Execution:
    def __init__(
        self, resources: EngineResources, claimed: ClaimedRun, cancel: asyncio.Event, lost: asyncio.Event
    ):
        self.r = resources
        self.run = claimed
        self.cancel = cancel
        self.lost = lost
        self.config: RunnableConfig = run_config(resources, claimed)
        self.validated: ValidatedWorkflow | None = None
        self.context: Any = None
        self.stream = StreamRecorder(
            claimed.tenant_id,
            claimed.id,
            _requested_modes(claimed),
            protocol_thread=claimed.thread_id if claimed.kwargs.get("protocol") else None,
            graph_name=claimed.graph_id,
        )
        self.journal = StepJournal(
            self.stream,
            owner=resources.worker_id,
            lease_seconds=resources.lease_seconds,
            lost=lost,
            cancel=cancel,
            committed=self._wake_readers,
        )

    def _wake_readers(self) -> None:
        if self.r.events is not None:
            self.r.events.poke(self.run.tenant_id, self.run.id)

    @property
    def _fresh(self) -> bool:
        """A first attempt on the thread made for the run: it has no checkpoint to read yet."""
        return self.run.attempts == 1 and self.run.thread_id == self.run.id

    @property
    def is_workflow(self) -> bool:
        return self.run.workflow_id is not None

    # --- bookkeeping -------------------------------------------------------------------------
    async def _record(
        self,
        action: str,
        details: dict[str, Any],
        *,
        status: RunStatus,
        actor_type: str = ActorType.SYSTEM,
        release: dict[str, Any] | None = None,
        thread_status: ThreadStatus | None = None,
    ) -> bool:
        """One transaction: what the journal holds, the release with the new status (and the
        thread's), the audit row and the status event. False when the lease was lost."""
        data = {"status": status.value, **({"error": release.get("error")} if release else {})}
        event = RunEvent(self.run.tenant_id, self.run.id, "run.status", data)
        self.journal.audit(action, details, actor_type=actor_type)
        self.journal.event(event)
        rows = await self._last_rows()
        async with self.r.pool.connection() as conn, conn.cursor() as cursor:
            async with scoped_round_trip(conn, current_scope()):
                await release_run(
                    cursor,
                    self.run.id,
                    owner=self.r.worker_id,
                    status=status,
                    thread_id=self.run.thread_id,
                    thread_status=thread_status or _THREAD_STATUS[status],
                    notify=event_notice(event),
                    rows=rows,
                    wake_channel=QUEUE_CHANNEL,
                    **(release or {}),
                )
            if not await released(cursor):
                self.lost.set()
                return False
        self.journal.committed()
        return True

    async def _last_rows(self) -> StepRows:
        """What the journal holds, for the statement that releases the run."""
        if self.journal.needs_session:  # the first protocol parts of an execution are numbered
            async with self.r.database.session() as session:
                return await self.journal.take_all(session)
        return await self.journal.take_all()

    async def _finish(
        self,
        status: RunStatus,
        action: str,
        details: dict[str, Any],
        *,
        thread_status: ThreadStatus | None = None,
        **release: Any,
    ) -> RunStatus | None:
        error = release.get("error")
        if status in (RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR) and isinstance(error, dict):
            self.stream.add(
                "error", {"error": error.get("type") or "Error", "message": error.get("message") or ""}
            )
        failed = status in (RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR, RunStatus.CANCELLED)
        message = error.get("message") if isinstance(error, dict) else None
        self.stream.protocol_settled(
            "failed" if failed else "interrupted" if thread_status == "interrupted" else "completed",
            message or (status.value.lower() if failed else None),
        )
        ok = await self._record(action, details, status=status, release=release, thread_status=thread_status)
        if ok:
            await self._webhook(status, release.get("payload"), error)
        return status if ok else None

    async def _webhook(self, status: RunStatus, values: Any, error: Any) -> None:
        url = self.run.kwargs.get("webhook")
        if not isinstance(url, str) or self.r.webhooks is None:
            return
        self.r.webhooks.send(
            url,
            {
                "run_id": self.run.id,
                "thread_id": self.run.thread_id,
                "assistant_id": self.run.assistant_id,
                "graph_id": self.run.graph_id,
                "status": _WEBHOOK_STATUS.get(status, status.value.lower()),
                "run_status": status.value,
                "values": values,
                "error": error,
            },
        )

    async def _cancelled(self) -> RunStatus | None:
        async with self.r.database.session() as session:
            kwargs = await session.scalar(select(WorkflowRun.kwargs).where(WorkflowRun.id == self.run.id))
        action = (kwargs or {}).get("cancel_action", "interrupt")
        if action != "rollback" and isinstance(self.r.saver, StepSaver):
            with contextlib.suppress(LeaseLostError):  # keep what the run committed so far
                await self.r.saver.flush_thread(self.run.thread_id)
        if action == "rollback":
            await delete_run_checkpoints(self.r.saver, self.run.thread_id, self.run.id)
        return await self._finish(RunStatus.CANCELLED, "RUN_CANCELLED", {"action": action}, set_error=False)

    # --- the run -----------------------------------------------------------------------------
    async def _first_input(self, empty_thread: bool) -> Any:
        """What the run's first execution feeds the graph: its command, or its input."""
        command = self.run.kwargs.get("command")
        if isinstance(command, dict) and command:
            return Command(
                resume=command.get("resume"),
                update=command.get("update"),
                goto=command.get("goto") or (),
            )
        if self.validated is not None and empty_thread:
            return initial_state(self.validated.definition, self.run.input)
        return self.run.input

    async def execute(self) -> RunStatus | None:
        saver = self.r.saver
        attached = (
            saver.attach(self.run.thread_id, self.journal, empty=self._fresh)
            if isinstance(saver, StepSaver)
            else contextlib.nullcontext()
        )
        with attached:
            return await self._execute()

    async def _execute(self) -> RunStatus | None:
        try:
            loaded = await load_claimed_graph(self.r, self.run, self.config, journal=self.journal)
            graph, self.validated, self.context = loaded.graph, loaded.validated, loaded.context
        except StarterDeactivatedError as exc:
            # Not the run's fault: pause, so it can be retried once the starter is reactivated.
            error = {"type": type(exc).__name__, "message": str(exc)}
            return await self._finish(
                RunStatus.PAUSED_WITH_ERROR, "RUN_PAUSED_WITH_ERROR", error, error=error, set_error=True
            )
        except EAWEError as exc:
            error = {"type": type(exc).__name__, "message": str(exc)}
            return await self._finish(RunStatus.FAILED, "RUN_FAILED", error, error=error, set_error=True)
        snapshot = None if self._fresh else await graph.aget_state(self.config)
        started = (
            snapshot is not None
            and snapshot.created_at is not None
            and (snapshot.metadata or {}).get("run_id") == self.run.id
        )
        graph_input: Any = None
        run_config = self.config
        if not started:
            try:
                graph_input = await self._first_input(snapshot is None or snapshot.created_at is None)
            except EAWEError as exc:
                error = {"type": "ValidationError", "message": str(exc)}
                return await self._finish(RunStatus.FAILED, "RUN_FAILED", error, error=error, set_error=True)
            checkpoint_id = self.run.kwargs.get("checkpoint_id")
            if checkpoint_id:  # a fork: continue from that checkpoint, not the thread's latest
                run_config = {
                    **self.config,
                    "configurable": {**self.config["configurable"], "checkpoint_id": checkpoint_id},
                }
            action = "RUN_STARTED"
        else:
            action = "RUN_RESUMED"
        details: dict[str, Any] = {
            "workflow_version": self.run.workflow_version if self.is_workflow else None,
            "graph_id": self.run.graph_id,
            "thread_id": self.run.thread_id,
            "attempt": self.run.attempts,
        }
        if self.run.recovered:
            details["recovered"] = True
        self.stream.add(
            "metadata", {"run_id": self.run.id, "thread_id": self.run.thread_id, "attempt": self.run.attempts}
        )
        # committed with the first step (or with the outcome, if no step runs)
        self.journal.audit(action, details)
        self.journal.event(
            RunEvent(self.run.tenant_id, self.run.id, "run.status", {"status": RunStatus.RUNNING.value})
        )
        while True:
            if started and snapshot is not None and self.is_workflow and snapshot.interrupts:
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
            result = await self._stream(graph, graph_input, run_config)
            run_config, started = self.config, True
            if self.lost.is_set():
                logger.warning("run %s: lease lost to another worker; stopping without writing", self.run.id)
                return None
            if result == "cancelled":
                return await self._cancelled()
            if isinstance(self.r.saver, StepSaver):
                await self.r.saver.flush_thread(self.run.thread_id)
            snapshot = await graph.aget_state(self.config)
            if isinstance(result, BaseException):
                return await self._failed(snapshot, result)
            if snapshot.interrupts and self.is_workflow:
                outcome = await self._pause(snapshot)
                if outcome != "resume":
                    return outcome
                continue
            return await self._finish(
                RunStatus.COMPLETED,
                "RUN_COMPLETED",
                {"keys": sorted(snapshot.values) if isinstance(snapshot.values, dict) else []},
                thread_status="interrupted" if snapshot.next else "idle",
                payload=_jsonable(snapshot.values),
                state=_state_summary(snapshot),
                error=None,
                set_error=True,
            )

    async def _stream(self, graph: Pregel, graph_input: Any, config: RunnableConfig) -> Any:
        kwargs = self.run.kwargs

        async def consume() -> None:
            # durability="sync": a step's checkpoint is committed before the next step starts, so
            # a crash never re-runs a node that finished (tool calls have side effects).
            common: dict[str, Any] = {
                "context": self.context,
                "durability": "sync",
                "interrupt_before": kwargs.get("interrupt_before") or None,
                "interrupt_after": kwargs.get("interrupt_after") or None,
            }
            stream: Any
            if self.stream.protocol_thread is not None:  # started through the thread protocol
                self.stream.protocol_started()
                stream = protocol_chunks(graph, graph_input, config, **common)
            else:
                modes: Any = graph_stream_modes(sorted(self.stream.requested))
                stream = graph.astream(graph_input, config, stream_mode=modes, subgraphs=True, **common)
            async for namespace, mode, chunk in stream:
                self.stream.add_chunk(namespace, mode, chunk)
                if mode == "updates" and not namespace and isinstance(chunk, dict):
                    for node_id, update in chunk.items():
                        if node_id != "__interrupt__":
                            self._node_finished(node_id, update)
                elif self.stream.due:  # token streams while a node runs: the parts only
                    async with self.r.database.transaction() as session:
                        await self.journal.write_parts(session)
                    self.journal.committed()

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

    def _node_finished(self, node_id: str, update: Any) -> None:
        """The node's audit row and event, committed with its step's checkpoint.

        LangGraph hands the step's updates to this stream before it saves the step, so they are in
        the journal when the saver commits: a crash keeps the node's writes and its records, or
        neither (and the resumed run executes the node again).
        """
        node_type = self.validated.node_types.get(node_id) if self.validated is not None else None
        details: dict[str, Any] = {
            "node_id": node_id,
            "node_type": node_type.name if node_type else None,
            "keys": sorted(update) if isinstance(update, dict) else [],
        }
        if node_type is not None and node_type.name == "llm":
            models = getattr(self.context, "chat_models", self.r.chat_models)  # the tenant's models
            details["model"] = models.default_model_name
            details["local_model"] = models.is_local
        self.journal.audit("NODE_FINISHED", details, actor_type=ActorType.AGENT)
        self.journal.event(RunEvent(self.run.tenant_id, self.run.id, "node.finished", details))

    async def _pause(self, snapshot: StateSnapshot) -> Any:
        status_event = RunEvent(
            self.run.tenant_id, self.run.id, "run.status", {"status": RunStatus.PAUSED_FOR_APPROVAL.value}
        )
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
                self.stream.protocol_settled("interrupted")
                self.journal.audit(
                    "RUN_PAUSED_FOR_APPROVAL",
                    {"new_tasks": [t.id for t in created], "interrupts": len(snapshot.interrupts)},
                )
                self.journal.event(status_event)
                rows = await self.journal.take_all(session)
                async with driver_cursor(session) as cursor:
                    await release_run(
                        cursor,
                        run.id,
                        owner=self.r.worker_id,
                        status=RunStatus.PAUSED_FOR_APPROVAL,
                        thread_id=self.run.thread_id,
                        thread_status="interrupted",
                        notify=event_notice(status_event),
                        rows=rows,
                        payload=_jsonable(snapshot.values),
                        state=_state_summary(snapshot),
                        error=None,
                        set_error=True,
                    )
                    # (the run's row is locked above and its lease checked: this releases it)
                    await released(cursor)
            self.journal.committed()
            await self._webhook(RunStatus.PAUSED_FOR_APPROVAL, _jsonable(snapshot.values), None)
            return RunStatus.PAUSED_FOR_APPROVAL
        except LeaseLostError:
            return None
        except AssigneeUnavailableError as exc:
            node_id = next(
                (i.value.get("node_id") for i in snapshot.interrupts if isinstance(i.value, dict)), None
            )
            error = {"node_id": node_id, "type": type(exc).__name__, "message": str(exc)}
            return await self._paused_with_error(error, snapshot)

    async def _failed(self, snapshot: StateSnapshot, exc: BaseException) -> RunStatus | None:
        node_id = next((t.name for t in snapshot.tasks if t.error is not None), None)
        scrubber = getattr(self.context, "scrubber", None)
        scrubbed = scrubber.scrub(str(exc)) if scrubber is not None else str(exc)
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
        self.journal.audit("AGENT_ERROR", error, actor_type=ActorType.AGENT)  # with the pause below
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
