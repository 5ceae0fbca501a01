"""Commands of the thread-centric protocol (``POST /threads/{id}/commands``, and the frames of the
websocket stream): ``run.start`` queues a run of the assistant on the thread (creating the thread
when it is new), ``input.respond`` answers an interrupt (a new run resuming the thread, or, on a
workflow waiting for approval, the decision of its HITL task), ``state.get`` reads the thread's
values, ``subscription.subscribe|unsubscribe`` are acknowledged (over HTTP each event stream
carries its own filter).

Runs started here are executed with LangGraph's protocol event stream (run kwargs ``protocol``),
so their events are stored for ``/threads/{id}/stream/events``. The reply is the protocol's
envelope; ``meta.applied_through_seq`` is the thread's last event before the command, the cursor
a client's new streams start after.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from eawe.db.models import AgentThread, RunStatus
from eawe.db.repositories import threads as thread_repo
from eawe.db.repositories.protocol_events import last_protocol_seq
from eawe.errors import EAWEError, PermissionDeniedError, Problem, ValidationError
from server.agent_protocol.encoding import jsonable
from server.agent_protocol.launch import launch
from server.agent_protocol.schemas import RunRequest
from server.auth.permissions import Permission
from server.auth.principal import Principal
from server.deps import Requires, ResourcesDep
from server.limits import enforce_run_rate_limit
from server.resources import ServerResources

__all__ = ["Command", "dispatch", "error_reply", "router"]

router = APIRouter(prefix="/threads", tags=["agent-protocol"])

_MULTITASK = ("reject", "enqueue", "interrupt", "rollback")


class Command(BaseModel):
    """A protocol command: ``{"id", "method", "params"}``."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = Field(default=None, ge=0)
    method: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)


def error_reply(command_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "error": code, "message": message}


def _require(principal: Principal, permission: Permission) -> None:
    if not principal.allows(permission):
        raise PermissionDeniedError(f"role {principal.role.value} may not perform {permission.value}")


def _mapping(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(Problem(f"params.{key}", "must be an object"))
    return value


async def _waits_for_input(resources: ServerResources, principal: Principal, thread_id: str) -> str | None:
    """``"graph"`` when the tenant's thread stopped at an interrupt of a code graph, ``"workflow"``
    when a workflow run on it waits for approval, else None."""
    async with resources.database.session() as session:
        thread = await session.get(AgentThread, thread_id)
        if thread is None or thread.tenant_id != principal.tenant_id or thread.status != "interrupted":
            return None
        last = await thread_repo.latest_run(session, principal.tenant_id, thread_id)
    if last is not None and last.workflow_definition_id is not None:
        return "workflow" if last.status == RunStatus.PAUSED_FOR_APPROVAL else None
    snapshot = await resources.engine.threads.state(principal.tenant_id, thread_id)
    return "graph" if snapshot is not None and snapshot.interrupts else None


async def _run_start(resources: ServerResources, principal: Principal, thread_id: str, params: dict) -> dict:
    _require(principal, Permission.RUNS_CREATE)
    assistant = params.get("assistant_id")
    if not isinstance(assistant, str) or not assistant:
        raise ValidationError(Problem("params.assistant_id", "is required to start a run"))
    strategy: Any = params.get("multitask_strategy") or "enqueue"
    if strategy not in _MULTITASK:
        raise ValidationError(Problem("params.multitask_strategy", f"use one of {', '.join(_MULTITASK)}"))
    async with resources.database.session() as session:
        await enforce_run_rate_limit(
            session, principal.tenant_id, resources.settings.run_rate_limit_per_minute
        )
    kwargs: dict[str, Any] = {
        "config": _mapping(params, "config"),
        "context": _mapping(params, "context"),
        "metadata": _mapping(params, "metadata"),
        "stream_mode": [],
        "protocol": True,
    }
    run_input = params.get("input")
    # On a thread waiting at an interrupt, the protocol's run.start is the answer to it.
    waiting = await _waits_for_input(resources, principal, thread_id)
    if waiting == "workflow":
        paused = await launch(resources, principal, thread_id, RunRequest(command={"resume": run_input}))
        return {"run_id": paused.id}
    if waiting == "graph":
        kwargs["command"], run_input = {"resume": run_input}, None
    run = await resources.engine.create_run(
        principal.tenant_id,
        assistant,
        thread_id=thread_id,
        run_input=run_input,
        started_by=principal.user_id,
        kwargs=kwargs,
        multitask_strategy=strategy,
        if_not_exists="create",
    )
    return {"run_id": run.id}


async def _input_respond(
    resources: ServerResources, principal: Principal, thread_id: str, params: dict
) -> dict:
    _require(principal, Permission.RUNS_CREATE)
    interrupt_id = params.get("interrupt_id")
    if not isinstance(interrupt_id, str) or not interrupt_id:
        raise ValidationError(Problem("params.interrupt_id", "is required: the interrupt to answer"))
    resume = {interrupt_id: params.get("response")}
    async with resources.database.session() as session:
        thread = await thread_repo.get_thread(session, principal.tenant_id, thread_id)
        last = await thread_repo.latest_run(session, principal.tenant_id, thread_id)
    if last is not None and last.workflow_definition_id is not None:  # a workflow's approval task
        run = await launch(resources, principal, thread_id, RunRequest(command={"resume": resume}))
        return {"run_id": run.id}
    assistant = thread.assistant_id or (last.assistant_id if last is not None else None)
    if not assistant:
        raise ValidationError(Problem("params.interrupt_id", f"thread {thread_id} has no run to resume"))
    run = await resources.engine.create_run(
        principal.tenant_id,
        assistant,
        thread_id=thread_id,
        run_input=None,
        started_by=principal.user_id,
        kwargs={
            "config": {},
            "context": {},
            "stream_mode": [],
            "command": {"resume": resume},
            "protocol": True,
        },
        multitask_strategy="enqueue",
    )
    return {"run_id": run.id}


async def _state_get(resources: ServerResources, principal: Principal, thread_id: str, params: dict) -> dict:
    async with resources.database.session() as session:
        await thread_repo.get_thread(session, principal.tenant_id, thread_id)
    snapshot = await resources.engine.threads.state(principal.tenant_id, thread_id)
    if snapshot is None:
        return {"values": {}}
    checkpoint = (snapshot.config.get("configurable") or {}).get("checkpoint_id")
    values = jsonable(snapshot.values) if isinstance(snapshot.values, dict) else {}
    return {"values": values, **({"checkpoint": {"id": checkpoint}} if checkpoint else {})}


async def _acknowledge(
    resources: ServerResources, principal: Principal, thread_id: str, params: dict
) -> dict:
    return {"subscription_id": str(params.get("subscription_id") or "1")} if params.get("channels") else {}


_HANDLERS = {
    "run.start": _run_start,
    "input.respond": _input_respond,
    "state.get": _state_get,
    "subscription.subscribe": _acknowledge,
    "subscription.unsubscribe": _acknowledge,
}


async def execute(resources: ServerResources, principal: Principal, thread_id: str, command: Command) -> dict:
    """Apply one command; raises the engine's errors (404 unknown or foreign thread, 409, 422)."""
    handler = _HANDLERS.get(command.method)
    if handler is None:
        raise ValidationError(
            Problem(
                "method", f"unknown command {command.method!r}; use one of {', '.join(sorted(_HANDLERS))}"
            )
        )
    async with resources.database.session() as session:
        seq = await last_protocol_seq(session, thread_id)
    result = await handler(resources, principal, thread_id, command.params)
    return {"type": "success", "id": command.id, "result": result, "meta": {"applied_through_seq": seq}}


async def dispatch(resources: ServerResources, principal: Principal, thread_id: str, raw: dict) -> dict:
    """A command frame's reply, errors included as the protocol's error envelope (websocket)."""
    try:
        command = Command.model_validate(raw)
    except ValueError as exc:
        return error_reply(raw.get("id"), "invalid_argument", str(exc)[:500])
    try:
        return await execute(resources, principal, thread_id, command)
    except EAWEError as exc:
        code = {404: "no_such_run", 403: "permission_denied"}.get(exc.status_code, "invalid_argument")
        return error_reply(command.id, code, str(exc))


@router.post("/{thread_id}/commands", summary="Send a protocol command to a thread")
async def post_command(
    thread_id: str, body: Command, principal: Requires.RUNS_READ, resources: ResourcesDep
) -> dict[str, Any]:
    return await execute(resources, principal, thread_id, body)
