"""The thread-centric streaming protocol (``langgraph-sdk``'s ``threads.stream``) over a real uvicorn
server on real PostgreSQL, with a small code graph (``protocol_graphs/``): commands, the stored
event stream over SSE and websocket, replay with ``since``, roles and tenant isolation."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from websockets.asyncio.client import connect

from eawe.db.models import Role
from eawe.settings import Settings
from tests.server.api_tenants import assert_problem

GRAPH = "protocol_agent"
START = {"items": []}


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"graphs_config": Path(__file__).parent / "protocol_graphs" / "langgraph.json"}
    )


async def _key(client: httpx.AsyncClient, admin: dict[str, str], user_id: str) -> str:
    created = await client.post("/v1/api-keys", headers=admin, json={"name": "proto", "user_id": user_id})
    assert created.status_code == 201, created.text
    return created.json()["key"]


async def _events(
    live_url: str, key: str, thread_id: str, body: dict[str, Any], *, until: str, seconds: float = 30
) -> list[dict[str, Any]]:
    """Protocol events of a thread's SSE stream, up to the first root lifecycle ``until``."""
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=live_url, headers={"X-Api-Key": key}, timeout=30) as http,
            http.stream("POST", f"/threads/{thread_id}/stream/events", json=body) as response,
        ):
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                seen.append(event)
                data = event["params"]["data"]
                if (
                    event["method"] == "lifecycle"
                    and not event["params"]["namespace"]
                    and data["event"] == until
                ):
                    return

    await asyncio.wait_for(read(), seconds)
    return seen


async def test_sdk_thread_stream_values_interrupt_respond_output(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    key = await _key(client, tenant.admin, tenant.users[Role.OPERATOR].id)
    sdk = get_client(url=live_url, api_key=key)
    async with sdk.threads.stream(assistant_id=GRAPH) as thread:
        started = await thread.run.start(input=START)
        assert started["run_id"]
        snapshots = [snap async for snap in thread.values]
        assert snapshots and snapshots[-1]["items"] == ["prepared"]
        assert thread.interrupted
        assert [i["value"] for i in thread.interrupts] == [{"question": "go on?"}]
        await thread.run.respond("yes")
        final = await thread.output
        assert final["items"] == ["prepared", "answer:yes", "inner"]
        thread_id = thread.thread_id

    async with sdk.threads.stream(thread_id=thread_id, assistant_id=GRAPH) as again:
        # a second conversation turn on the same thread: a new run, the stream numbered on
        await again.run.start(input={"items": ["more"]})
        steps = [e["step"] async for e in again.extensions["progress"]]
        assert steps == ["prepare", "ask"]
        assert again.interrupted
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["items"][:4] == ["prepared", "answer:yes", "inner", "more"]
    assert (await sdk.threads.get(thread_id))["status"] == "interrupted"
    await sdk.aclose()


async def test_stored_stream_replays_with_since_and_filters(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    key = await _key(client, tenant.admin, tenant.users[Role.ADMINISTRATOR].id)
    thread_id = str(uuid.uuid4())
    headers = {"X-Api-Key": key}
    started = await client.post(
        f"/threads/{thread_id}/commands",
        headers=headers,
        json={"id": 1, "method": "run.start", "params": {"assistant_id": GRAPH, "input": START}},
    )
    assert started.status_code == 200, started.text
    assert started.json()["type"] == "success" and started.json()["meta"]["applied_through_seq"] == 0
    everything = ["values", "updates", "lifecycle", "input", "custom", "tools", "messages"]
    first = await _events(live_url, key, thread_id, {"channels": everything}, until="interrupted")
    requested = [e for e in first if e["method"] == "input.requested"]
    assert len(requested) == 1 and requested[0]["params"]["data"]["payload"] == {"question": "go on?"}
    interrupt_id = requested[0]["params"]["data"]["interrupt_id"]
    seqs = [e["seq"] for e in first]
    assert seqs == list(range(1, len(first) + 1))  # numbered from 1, in order, none missing
    assert [e["params"]["data"]["event"] for e in first if e["method"] == "lifecycle"] == [
        "running",
        "interrupted",
    ]

    answered = await client.post(
        f"/threads/{thread_id}/commands",
        headers=headers,
        json={
            "id": 2,
            "method": "input.respond",
            "params": {"interrupt_id": interrupt_id, "namespace": [], "response": "ok"},
        },
    )
    assert answered.json()["meta"]["applied_through_seq"] == seqs[-1]
    # a reconnect after the interrupt gets only what came later: the resuming run's events
    later = await _events(
        live_url, key, thread_id, {"channels": everything, "since": seqs[-1]}, until="completed"
    )
    assert later[0]["seq"] == seqs[-1] + 1 and later[0]["params"]["data"]["event"] == "running"
    nested = [e for e in later if e["params"]["namespace"]]
    assert nested and all(e["params"]["namespace"][0].startswith("nested:") for e in nested)
    # a filter: only custom progress events of the root namespace, from the thread's start
    custom = await _events(
        live_url,
        key,
        thread_id,
        {"channels": ["custom:progress", "lifecycle"], "namespaces": [[]], "depth": 0},
        until="completed",
    )
    assert [e["params"]["data"]["step"] for e in custom if e["method"] == "custom"] == [
        "prepare",
        "ask",
        "ask",
    ]
    assert all(e["params"]["namespace"] == [] for e in custom)
    state = (await client.get(f"/threads/{thread_id}/state", headers=headers)).json()
    assert state["values"]["items"] == ["prepared", "answer:ok", "inner"]


async def test_websocket_stream_and_commands(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    key = await _key(client, tenant.admin, tenant.users[Role.OPERATOR].id)
    thread_id = str(uuid.uuid4())
    url = live_url.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"
    created = await client.post("/threads", headers={"X-Api-Key": key}, json={"thread_id": thread_id})
    assert created.status_code == 200, created.text
    async with connect(url, additional_headers=[("X-Api-Key", key)]) as ws:
        await ws.send(
            json.dumps(
                {"id": 1, "method": "subscription.subscribe", "params": {"channels": ["lifecycle", "input"]}}
            )
        )
        assert json.loads(await ws.recv()) == {"type": "success", "id": 1, "result": {"subscription_id": "1"}}
        await ws.send(
            json.dumps({"id": 2, "method": "run.start", "params": {"assistant_id": GRAPH, "input": START}})
        )
        frames = []
        while not any(f.get("params", {}).get("data", {}).get("event") == "interrupted" for f in frames):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        reply = next(f for f in frames if f.get("id") == 2)
        assert reply["type"] == "success" and reply["result"]["run_id"]
        events = [f for f in frames if f.get("type") == "event"]
        assert [e["method"] for e in events] == ["lifecycle", "input.requested", "lifecycle"]
        await ws.send(json.dumps({"id": 3, "method": "no.such"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert error["type"] == "error" and error["id"] == 3 and error["error"] == "invalid_argument"
    with pytest.raises(Exception) as refused:  # no credentials: the handshake is closed, not accepted
        async with connect(url) as ws:
            await ws.recv()
    assert "HTTP 401" in str(refused.value)


async def test_commands_errors_roles_and_tenant_isolation(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    their_key = await _key(client, theirs.admin, theirs.users[Role.OPERATOR].id)
    their_thread = str(uuid.uuid4())
    ok = await client.post(
        f"/threads/{their_thread}/commands",
        headers={"X-Api-Key": their_key},
        json={"id": 1, "method": "run.start", "params": {"assistant_id": GRAPH, "input": START}},
    )
    assert ok.status_code == 200, ok.text
    await _events(live_url, their_key, their_thread, {"channels": ["lifecycle"]}, until="interrupted")

    my_key = await _key(client, mine.admin, mine.users[Role.ADMINISTRATOR].id)
    mine_h = {"X-Api-Key": my_key}
    respond = {"id": 1, "method": "input.respond", "params": {"interrupt_id": "x", "response": "steal"}}
    assert_problem(await client.post(f"/threads/{their_thread}/commands", headers=mine_h, json=respond), 404)
    state_get = {"id": 2, "method": "state.get", "params": {}}
    assert_problem(
        await client.post(f"/threads/{their_thread}/commands", headers=mine_h, json=state_get), 404
    )
    start = {"id": 3, "method": "run.start", "params": {"assistant_id": GRAPH, "input": START}}
    taken = await client.post(f"/threads/{their_thread}/commands", headers=mine_h, json=start)
    assert taken.status_code in (404, 409), taken.text  # a global thread id held by another tenant
    # their stream is, to me, an unknown thread's: after a short wait for it to appear, a 404
    body = {"channels": ["lifecycle", "input"]}
    foreign = await client.post(f"/threads/{their_thread}/stream/events", headers=mine_h, json=body)
    unknown = await client.post(f"/threads/{uuid.uuid4()}/stream/events", headers=mine_h, json=body)
    assert_problem(foreign, 404)
    assert_problem(unknown, 404)
    assert foreign.json()["title"] == unknown.json()["title"]

    designer = {"X-Api-Key": await _key(client, theirs.admin, theirs.users[Role.DESIGNER].id)}
    assert_problem(await client.post(f"/threads/{uuid.uuid4()}/commands", headers=designer, json=start), 403)
    assert_problem(await client.post(f"/threads/{uuid.uuid4()}/commands", json=start), 401)
    no_assistant = {"id": 4, "method": "run.start", "params": {"input": START}}
    assert_problem(
        await client.post(f"/threads/{uuid.uuid4()}/commands", headers=mine_h, json=no_assistant),
        422,
        "params.assistant_id",
    )
    unknown = {"id": 5, "method": "agent.fly", "params": {}}
    assert_problem(
        await client.post(f"/threads/{uuid.uuid4()}/commands", headers=mine_h, json=unknown), 422, "method"
    )
    bad_filter = await client.post(
        f"/threads/{uuid.uuid4()}/stream/events", headers=mine_h, json={"channels": []}
    )
    assert bad_filter.status_code == 422
