"""``/a2a/{assistant_id}`` driven by the official ``a2a-sdk`` client over real HTTP (uvicorn, PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers import get_data_parts, get_text_parts, new_data_part, new_text_part
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)

from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, wait_for_status


@asynccontextmanager
async def _a2a_client(
    live_url: str, headers: dict[str, str], assistant_id: str, *, streaming: bool = True
) -> AsyncIterator[tuple[Client, Any]]:
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        card = await A2ACardResolver(http, live_url).get_agent_card(
            http_kwargs={"params": {"assistant_id": assistant_id}}
        )
        client = ClientFactory(ClientConfig(httpx_client=http, streaming=streaming)).create(card)
        yield client, card


def _message(*parts: Part, task_id: str | None = None, context_id: str | None = None) -> SendMessageRequest:
    message = Message(role=Role.ROLE_USER, message_id=uuid.uuid4().hex, parts=list(parts))
    if task_id:
        message.task_id = task_id
    if context_id:
        message.context_id = context_id
    return SendMessageRequest(message=message)


async def _events(client: Client, request: SendMessageRequest) -> list[StreamResponse]:
    return [event async for event in client.send_message(request)]


def _state_of(event: StreamResponse) -> int | None:
    if event.HasField("task"):
        return event.task.status.state
    if event.HasField("status_update"):
        return event.status_update.status.state
    return None


async def test_a2a_stream_input_required_then_approval_completes(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Reviewed note")
    async with _a2a_client(live_url, tenant.operator, workflow_id) as (a2a, card):
        assert card.name == "Reviewed note" and card.capabilities.streaming
        assert card.supported_interfaces[0].url == f"{live_url}/a2a/{workflow_id}"
        events = await _events(a2a, _message(new_text_part("agent protocols")))
        assert events[0].HasField("task")
        task_id, context_id = events[0].task.id, events[0].task.context_id
        states = [s for s in map(_state_of, events) if s is not None]
        assert states[-1] == TaskState.TASK_STATE_INPUT_REQUIRED
        assert TaskState.TASK_STATE_COMPLETED not in states
        paused = events[-1].status_update.status
        assert "Waiting for approval" in get_text_parts(list(paused.message.parts))[0]
        hitl_ids = get_data_parts(list(paused.message.parts))[0]["hitl_task_ids"]
        assert len(hitl_ids) == 1

        got = await a2a.get_task(GetTaskRequest(id=task_id))
        assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED and got.context_id == context_id

        # The reviewer approves through the REST API; the run resumes and the task completes.
        decided = await client.post(
            f"/v1/hitl-tasks/{hitl_ids[0]}/decision", headers=tenant.operator, json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
        await wait_for_status(client, tenant.operator, task_id, "COMPLETED")
        done = await a2a.get_task(GetTaskRequest(id=task_id))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        output = get_data_parts(list(done.artifacts[0].parts))[0]
        assert output["final"] == "published: A note about agent protocols"


async def test_a2a_send_then_reply_with_the_decision_and_cancel(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Reviewed note")
    async with _a2a_client(live_url, tenant.operator, workflow_id, streaming=False) as (blocking, _):
        [sent] = await _events(blocking, _message(new_data_part({"topic": "replies"})))
        task = sent.task
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    async with _a2a_client(live_url, tenant.operator, workflow_id) as (streaming, _):
        events = await _events(
            streaming,
            _message(new_data_part({"decision": "approve"}), task_id=task.id, context_id=task.context_id),
        )
        assert _state_of(events[-1]) == TaskState.TASK_STATE_COMPLETED
        artifacts = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
        assert get_data_parts(list(artifacts[0].parts))[0]["final"] == "published: A note about replies"

        # The same context continues with a follow-up message: a new task in that context.
        follow = (await _events(streaming, _message(new_text_part("more"), context_id=task.context_id)))[0]
        assert follow.task.context_id == task.context_id and follow.task.id != task.id
        first_run = (await client.get(f"/v1/runs/{task.id}", headers=tenant.operator)).json()
        second_run = (await client.get(f"/v1/runs/{follow.task.id}", headers=tenant.operator)).json()
        assert first_run["thread_id"] and second_run["thread_id"] == first_run["thread_id"]
        # ... while a message without a context starts a new thread.
        fresh = (await _events(streaming, _message(new_text_part("fresh"))))[0]
        fresh_run = (await client.get(f"/v1/runs/{fresh.task.id}", headers=tenant.operator)).json()
        assert fresh.task.context_id != task.context_id and fresh_run["thread_id"] != first_run["thread_id"]

        cancelled = await streaming.cancel_task(CancelTaskRequest(id=follow.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED


async def test_a2a_tenant_isolation_roles_and_v03_methods(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Reviewed note")
    theirs_id = await create_and_publish(client, other.designer, REVIEWED_DRAFT, name="Reviewed note")
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as raw:
        assert_problem(
            await raw.get("/.well-known/agent-card.json", params={"assistant_id": workflow_id}), 401
        )
        for path in (f"/a2a/{workflow_id}/.well-known/agent-card.json",):
            assert_problem(await raw.get(path, headers=other.operator), 404)
        assert_problem(
            await raw.get(
                "/.well-known/agent-card.json", params={"assistant_id": workflow_id}, headers=other.operator
            ),
            404,
        )
        v03 = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": uuid.uuid4().hex,
                    "parts": [{"kind": "text", "text": "older clients"}],
                }
            },
        }
        assert_problem(await raw.post(f"/a2a/{workflow_id}", json=v03, headers=other.operator), 404)
        sent = await raw.post(f"/a2a/{workflow_id}", json=v03, headers=tenant.operator)
        assert sent.status_code == 200, sent.text
        result = sent.json()["result"]
        assert result["kind"] == "task" and result["status"]["state"] == "input-required"
        get = {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": result["id"]}}
        assert (await raw.post(f"/a2a/{workflow_id}", json=get, headers=tenant.operator)).json()["result"][
            "status"
        ]["state"] == "input-required"
        # Another tenant's task id through its own assistant is unknown.
        foreign = await raw.post(f"/a2a/{theirs_id}", json=get, headers=other.operator)
        assert foreign.json()["error"]["code"] == -32001

        # message/stream (SSE) and tasks/cancel under their 0.3 names.
        stream_request = {**v03, "id": 3, "method": "message/stream"}
        async with raw.stream(
            "POST", f"/a2a/{workflow_id}", json=stream_request, headers=tenant.operator
        ) as streamed:
            assert streamed.headers["content-type"].startswith("text/event-stream")
            frames = [
                json.loads(line[5:]) async for line in streamed.aiter_lines() if line.startswith("data:")
            ]
        kinds = [frame["result"]["kind"] for frame in frames]
        assert kinds[0] == "task" and kinds[-1] == "status-update"
        assert frames[-1]["result"]["status"]["state"] == "input-required"
        cancel = {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tasks/cancel",
            "params": {"id": frames[0]["result"]["id"]},
        }
        cancelled = await raw.post(f"/a2a/{workflow_id}", json=cancel, headers=tenant.operator)
        assert cancelled.json()["result"]["status"]["state"] == "canceled"

        # A designer may read but not start runs: the message is refused with a JSON-RPC error.
        refused = await raw.post(f"/a2a/{workflow_id}", json=v03, headers=tenant.designer)
        assert "may not perform runs:create" in refused.json()["error"]["message"]
