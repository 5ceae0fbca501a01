"""The A2A request handler: JSON-RPC methods of ``/a2a/{assistant_id}`` mapped onto the run engine.

``message/send`` (``SendMessage``) and ``message/stream`` start a run of the assistant's workflow
as the caller — through the same engine calls as ``POST /v1/runs`` — or, when the message names
a task waiting for approval and carries ``{"decision": ...}``, decide that approval (as
``POST /v1/hitl-tasks/{id}/decision`` does). ``tasks/get``, ``tasks/cancel`` and
``tasks/resubscribe`` read, cancel and follow the run. A message's ``contextId`` groups its runs
(table ``A2ATask``); a context's next message continues the thread of its latest run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskPushNotificationConfig,
)
from a2a.utils.errors import (
    A2AError,
    ExtendedAgentCardNotConfiguredError,
    InvalidParamsError,
    InvalidRequestError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)

from checkpoints.events import RUN_WAKEUP
from eawe.db.models import HITLStatus, RunStatus, WorkflowRun
from eawe.db.repositories import a2a_tasks
from eawe.db.repositories.hitl import tasks_for_run
from eawe.db.repositories.runs import get_run
from eawe.db.tenant_scope import bind_tenant
from eawe.errors import ConflictError, EAWEError, NotFoundError, PermissionDeniedError, ValidationError
from server.a2a_server.task_views import (
    decision_of,
    message_input,
    output_artifact,
    run_context_id,
    status_update,
    task_of,
)
from server.auth.permissions import Permission
from server.auth.principal import Principal
from server.auth.run_visibility import can_read_run_content
from server.limits import enforce_run_rate_limit
from server.resources import ServerResources
from server.run_events import settled
from server.run_outcome import RunOutcome, read_outcome, wait_until_settled

__all__ = ["A2ACall", "WorkflowRequestHandler"]

_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class A2ACall:
    """Who is calling which assistant: put into the call context's state by the route."""

    resources: ServerResources
    principal: Principal
    assistant_id: str
    workflow_id: str
    input_schema: dict[str, Any]

    @classmethod
    def of(cls, context: ServerCallContext) -> A2ACall:
        call = context.state.get("eawe")
        if not isinstance(call, cls):
            raise RuntimeError("A2A request reached the handler without an authenticated caller")
        bind_tenant(call.principal.tenant_id)  # the SDK may run handlers outside the request's task
        return call

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    def require(self, permission: Permission) -> None:
        if not self.principal.allows(permission):
            raise PermissionDeniedError(
                f"role {self.principal.role.value} may not perform {permission.value}"
            )


@contextmanager
def _as_a2a_errors() -> Iterator[None]:
    """EAWE's errors as A2A errors (JSON-RPC error objects), each keeping its message."""
    try:
        yield
    except A2AError:
        raise
    except NotFoundError as exc:
        raise TaskNotFoundError(str(exc)) from None
    except ValidationError as exc:
        raise InvalidParamsError(str(exc), data={"errors": [p.as_dict() for p in exc.problems]}) from None
    except EAWEError as exc:
        raise InvalidRequestError(f"{exc.title}: {exc}") from None


class WorkflowRequestHandler(RequestHandler):
    """One handler for every assistant; the assistant and caller come with each call's context."""

    # --- messages ----------------------------------------------------------------------------
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Task | Message:
        call = A2ACall.of(context)
        with _as_a2a_errors():
            run, context_id = await self._submit(call, params.message)
            if not params.configuration.return_immediately:
                run = await wait_until_settled(
                    call.resources.engine, call.tenant_id, run.id, timeout_s=self._wait_seconds(call)
                )
            return task_of(
                await read_outcome(call.resources.engine, call.tenant_id, run), context_id, with_content=True
            )

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        call = A2ACall.of(context)
        with _as_a2a_errors():
            run, context_id = await self._submit(call, params.message)
        async for event in self._follow(call, run.id, context_id):
            yield event

    # --- tasks -------------------------------------------------------------------------------
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        call = A2ACall.of(context)
        with _as_a2a_errors():
            run, context_id = await self._task_run(call, params.id)
            async with call.resources.session() as session:
                visible = await can_read_run_content(session, call.principal, run)
            outcome = await read_outcome(call.resources.engine, call.tenant_id, run, with_values=visible)
            return task_of(outcome, context_id, with_content=visible)

    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext) -> Task | None:
        call = A2ACall.of(context)
        with _as_a2a_errors():
            call.require(Permission.RUNS_CONTROL)
            run, context_id = await self._task_run(call, params.id)
            try:
                run = await call.resources.engine.cancel(
                    call.tenant_id, run.id, actor_id=call.principal.user_id
                )
            except ConflictError as exc:
                raise TaskNotCancelableError(str(exc)) from None
            return task_of(RunOutcome(run=run), context_id, with_content=False)

    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        call = A2ACall.of(context)
        with _as_a2a_errors():
            run, context_id = await self._task_run(call, params.id)
        async for event in self._follow(call, run.id, context_id):
            yield event

    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        raise UnsupportedOperationError("tasks/list is not supported; list runs with GET /v1/runs")

    # --- not offered -------------------------------------------------------------------------
    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        raise ExtendedAgentCardNotConfiguredError

    # --- internals ---------------------------------------------------------------------------
    @staticmethod
    def _wait_seconds(call: A2ACall) -> float:
        return call.resources.settings.interop_wait_seconds

    async def _task_run(self, call: A2ACall, task_id: str) -> tuple[WorkflowRun, str]:
        """The run behind a task id, if it is a run of this assistant in the caller's tenant."""
        async with call.resources.session() as session:
            run = await get_run(session, call.tenant_id, task_id)
            recorded = await a2a_tasks.context_of_run(session, call.tenant_id, run.id)
        if run.workflow_definition_id != call.workflow_id:
            raise NotFoundError("task", task_id)
        return run, run_context_id(run, recorded)

    async def _submit(self, call: A2ACall, message: Message) -> tuple[WorkflowRun, str]:
        if message.task_id:
            return await self._answer(call, message)
        return await self._start(call, message)

    async def _start(self, call: A2ACall, message: Message) -> tuple[WorkflowRun, str]:
        call.require(Permission.RUNS_CREATE)
        run_input = message_input(message, call.input_schema)
        context_id = message.context_id or uuid.uuid4().hex
        resources = call.resources
        async with resources.session() as session:
            await enforce_run_rate_limit(
                session, call.tenant_id, resources.settings.run_rate_limit_per_minute
            )
            # The context's next message continues the thread of its latest run.
            thread_id = await a2a_tasks.thread_of_context(session, call.tenant_id, context_id)
        run = await resources.engine.create_run(
            call.tenant_id,
            call.assistant_id,
            thread_id=thread_id,
            run_input=run_input,
            started_by=call.principal.user_id,
        )
        async with resources.database.transaction() as session:
            await a2a_tasks.record_a2a_task(
                session, tenant_id=call.tenant_id, run_id=run.id, context_id=context_id
            )
        return run, context_id

    async def _answer(self, call: A2ACall, message: Message) -> tuple[WorkflowRun, str]:
        """A reply to a task waiting for approval: the reviewer's decision."""
        run, context_id = await self._task_run(call, message.task_id)
        if message.context_id and message.context_id != context_id:
            raise InvalidParamsError(
                f"task {run.id} belongs to context {context_id}, not {message.context_id}"
            )
        if run.status != RunStatus.PAUSED_FOR_APPROVAL:
            raise InvalidParamsError(
                f"task {run.id} is not waiting for input (run {run.status.value}); "
                "send a new message without taskId to start another task"
            )
        decision = decision_of(message)
        if decision is None:
            raise InvalidParamsError(
                'reply with a data part {"decision": "approve"|"reject"|"edit", '
                '"reason"?, "corrected_output"?}'
            )
        call.require(Permission.HITL_DECIDE)
        decision = dict(decision)
        chosen = decision.pop("hitl_task_id", None)
        async with call.resources.session() as session:
            open_tasks = await tasks_for_run(session, call.tenant_id, run.id, status=HITLStatus.PENDING)
        candidates = [t for t in open_tasks if chosen is None or t.id == chosen]
        if len(candidates) != 1:
            ids = ", ".join(t.id for t in open_tasks)
            raise InvalidParamsError(f"name the approval to decide with hitl_task_id (open: {ids})")
        await call.resources.engine.decide(
            call.tenant_id, candidates[0].id, decision, actor_id=call.principal.user_id
        )
        async with call.resources.session() as session:
            run = await get_run(session, call.tenant_id, run.id)
        return run, context_id

    async def _follow(self, call: A2ACall, run_id: str, context_id: str) -> AsyncGenerator[Event]:
        """The task, then a status update per change, until the run finishes or pauses (bounded)."""
        engine, tenant_id = call.resources.engine, call.tenant_id
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._wait_seconds(call)

        async def current() -> WorkflowRun:
            async with call.resources.session() as session:
                return await get_run(session, tenant_id, run_id)

        async with engine.subscribe(tenant_id, run_id) as events:
            run = await current()
            first = await read_outcome(engine, tenant_id, run)
            yield task_of(first, context_id, with_content=True)
            if settled(run.status, stop_on_pause=True):
                return
            last = run.status
            while loop.time() < give_up:
                event = await events.next(wait_seconds=min(_POLL_SECONDS, max(give_up - loop.time(), 0.01)))
                if event is None or event.type in ("stream.lagged", "run.status", RUN_WAKEUP):
                    run = await current()  # a step's wake-up may carry a status change too
                if run.status == last:
                    continue
                last = run.status
                if not settled(run.status, stop_on_pause=True):
                    yield status_update(RunOutcome(run=run), context_id)
                    continue
                outcome = await read_outcome(engine, tenant_id, run)
                if run.status == RunStatus.COMPLETED:
                    yield TaskArtifactUpdateEvent(
                        task_id=run.id,
                        context_id=context_id,
                        artifact=output_artifact(outcome),
                        last_chunk=True,
                    )
                yield status_update(outcome, context_id)
                return
