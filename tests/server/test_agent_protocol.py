"""The Agent-Protocol routes driven by the official ``langgraph-sdk`` client over a real uvicorn server.

The client authenticates with an EAWE API key (sent as ``x-api-key``) or a login token.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import ConflictError, NotFoundError, PermissionDeniedError, UnprocessableEntityError

from eawe.db.models import Role
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish


async def _api_key(client: httpx.AsyncClient, admin: dict[str, str], user_id: str) -> str:
    created = await client.post("/v1/api-keys", headers=admin, json={"name": "sdk", "user_id": user_id})
    assert created.status_code == 201, created.text
    return created.json()["key"]


async def _status_of(call: Any) -> int:
    """The HTTP status a failing SDK call raised (``runs.wait``/``join`` raise plain httpx errors)."""
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    raise AssertionError("the call succeeded")


async def _collect(stream: Any) -> list[tuple[str, Any]]:
    return [(part.event, part.data) async for part in stream]


async def test_sdk_thread_stream_interrupt_resume_final_state(
    live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="reviewed-note")
    key = await _api_key(client, tenant.admin, tenant.users[Role.OPERATOR].id)
    sdk = get_client(url=live_url, api_key=key)

    info = await sdk.http.get("/info")
    assert info["flags"]["assistants"] is True
    assistants = await sdk.assistants.search()
    assert [a["assistant_id"] for a in assistants] == [workflow_id]
    assert (await sdk.assistants.get("reviewed-note"))["assistant_id"] == workflow_id  # by name too
    graph = await sdk.assistants.get_graph(workflow_id)
    assert {"write", "review", "publish"} <= {n["id"] for n in graph["nodes"]}
    schemas = await sdk.assistants.get_schemas(workflow_id)
    assert schemas["input_schema"]["required"] == ["topic"]

    thread = await sdk.threads.create(metadata={"purpose": "sdk test"})
    thread_id = thread["thread_id"]
    assert thread["status"] == "idle"
    assert (await sdk.threads.get(thread_id))["metadata"]["purpose"] == "sdk test"

    created: list[Any] = []
    first = await _collect(
        sdk.runs.stream(
            thread_id,
            workflow_id,
            input={"topic": "the SDK"},
            stream_mode=["values", "updates"],
            on_run_created=created.append,
        )
    )
    events = [name for name, _ in first]
    assert events[0] == "metadata" and "error" not in events
    run_id = first[0][1]["run_id"]
    assert created and created[0]["run_id"] == run_id and created[0]["thread_id"] == thread_id
    updates = [data for name, data in first if name == "updates"]
    assert {"write": {"draft": "A note about the SDK"}} in updates
    interrupt = updates[-1]["__interrupt__"]
    assert len(interrupt) == 1 and interrupt[0]["value"]["node_id"] == "review"
    values = [data for name, data in first if name == "values"]
    assert values[-1]["draft"] == "A note about the SDK"

    state = await sdk.threads.get_state(thread_id)
    assert state["next"] == ["review"] and state["interrupts"][0]["id"] == interrupt[0]["id"]
    assert (await sdk.threads.get(thread_id))["status"] == "interrupted"

    second = await _collect(
        sdk.runs.stream(
            thread_id,
            workflow_id,
            command={"resume": {"decision": "edit", "corrected_output": "Edited through the SDK"}},
            stream_mode="values",
        )
    )
    # A workflow's approval is a HITL task: the decision continues the same run (one run per
    # start), and its stream goes on from where it paused.
    assert second[0][0] == "metadata" and second[0][1]["run_id"] == run_id, second
    assert second[-1] == ("values", second[-1][1])
    assert second[-1][1]["final"] == "published: Edited through the SDK"

    final = await sdk.threads.get_state(thread_id)
    assert final["next"] == [] and final["values"]["final"] == "published: Edited through the SDK"
    finished = await sdk.threads.get(thread_id)
    assert finished["status"] == "idle" and finished["values"]["draft"] == "Edited through the SDK"
    runs = await sdk.runs.list(thread_id)
    assert [r["status"] for r in runs] == ["success"] and runs[-1]["run_id"] == run_id
    assert (await sdk.runs.get(thread_id, run_id))["status"] == "success"
    history = await sdk.threads.get_history(thread_id, limit=50)
    assert len(history) >= 4 and history[0]["values"]["final"] == "published: Edited through the SDK"
    found = await sdk.threads.search(metadata={"assistant_id": workflow_id})
    assert thread_id in {t["thread_id"] for t in found}

    assert (
        await _status_of(sdk.runs.wait(thread_id, workflow_id, command={"resume": {"decision": "approve"}}))
        == 409
    )
    with pytest.raises(ConflictError):
        await sdk.runs.create(thread_id, workflow_id, command={"resume": {"decision": "approve"}})
    # A thread holds many runs: a second one continues it from its latest checkpoint.
    again = await sdk.runs.wait(thread_id, workflow_id, input={"topic": "again"})
    assert again["__interrupt__"] and again["draft"] == "A note about again"
    assert len(await sdk.runs.list(thread_id)) == 2
    await sdk.aclose()


async def test_sdk_wait_join_cancel_and_events(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    token = tenant.operator["Authorization"].removeprefix("Bearer ")
    sdk = get_client(url=live_url, api_key=token)  # a login token works as the api key too

    waited = await sdk.runs.wait(None, workflow_id, input={"topic": "waiting"})
    assert (
        waited["draft"] == "A note about waiting"
        and waited["__interrupt__"][0]["value"]["node_id"] == "review"
    )

    thread = await sdk.threads.create()
    background = await sdk.runs.create(thread["thread_id"], workflow_id, input={"topic": "background"})
    assert background["status"] in ("pending", "running", "success")
    joined = await sdk.runs.join(thread["thread_id"], background["run_id"])
    assert joined["__interrupt__"] and joined["draft"] == "A note about background"
    resumed = await sdk.runs.wait(thread["thread_id"], workflow_id, command={"resume": "approve"})
    assert resumed["final"] == "published: A note about background"

    events_thread = await sdk.threads.create()
    parts = await _collect(
        sdk.runs.stream(events_thread["thread_id"], workflow_id, input={"topic": "e"}, stream_mode="events")
    )
    ends = [d for name, d in parts if name == "events" and d["event"] == "on_chain_end"]
    assert [d["name"] for d in ends] == ["write"]
    runs = await sdk.runs.list(events_thread["thread_id"])
    await sdk.runs.cancel(events_thread["thread_id"], runs[0]["run_id"])
    cancelled = await sdk.runs.get(events_thread["thread_id"], runs[0]["run_id"])
    assert cancelled["status"] == "interrupted"
    with pytest.raises(ConflictError):
        await sdk.runs.cancel(events_thread["thread_id"], runs[0]["run_id"])
    assert await _status_of(sdk.runs.wait(None, workflow_id, input={})) == 422  # topic is required
    with pytest.raises(UnprocessableEntityError):
        await sdk.runs.create(None, workflow_id, input={"topic": "x", "colour": "red"})
    await sdk.aclose()


async def test_sdk_roles_and_tenant_isolation(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    workflow_id = await create_and_publish(client, theirs.designer, REVIEWED_DRAFT)
    their_sdk = get_client(url=live_url, api_key=theirs.operator["Authorization"].removeprefix("Bearer "))
    their_thread = (await their_sdk.runs.create(None, workflow_id, input={"topic": "private"}))["thread_id"]
    await their_sdk.runs.join(their_thread, their_thread)

    my_sdk = get_client(url=live_url, api_key=mine.admin["Authorization"].removeprefix("Bearer "))
    assert await my_sdk.assistants.search() == []
    assert await my_sdk.threads.search() == []
    for call in (
        my_sdk.assistants.get(workflow_id),
        my_sdk.threads.get(their_thread),
        my_sdk.threads.get_state(their_thread),
        my_sdk.runs.list(their_thread),
        my_sdk.runs.create(None, workflow_id, input={"topic": "steal"}),
        my_sdk.runs.create(their_thread, workflow_id, command={"resume": {"decision": "approve"}}),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert await _status_of(my_sdk.runs.wait(their_thread, workflow_id, command={"resume": "approve"})) == 404
    assert await _status_of(my_sdk.runs.join(their_thread, their_thread)) == 404
    assert (await their_sdk.threads.get(their_thread))["status"] == "interrupted"

    designer_sdk = get_client(url=live_url, api_key=theirs.designer["Authorization"].removeprefix("Bearer "))
    assert [a["assistant_id"] for a in await designer_sdk.assistants.search()] == [workflow_id]
    with pytest.raises(PermissionDeniedError):
        await designer_sdk.runs.create(None, workflow_id, input={"topic": "no"})
    with pytest.raises(PermissionDeniedError):
        await designer_sdk.threads.create()
    anonymous = get_client(url=live_url, api_key=None)
    assert (await anonymous.http.get("/ok")) == {"ok": True}
    with pytest.raises(httpx.HTTPStatusError) as denied:
        await anonymous.assistants.search()
    assert denied.value.response.status_code == 401
    for sdk in (their_sdk, my_sdk, designer_sdk, anonymous):
        await sdk.aclose()


async def test_sdk_remaining_routes(live_url: str, client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    sdk = get_client(url=live_url, api_key=tenant.operator["Authorization"].removeprefix("Bearer "))

    assert await sdk.assistants.count() == 1
    assert await sdk.assistants.count(graph_id="not-a-workflow") == 0
    versions = await sdk.assistants.get_versions(workflow_id)
    assert [v["version"] for v in versions] == [1] and versions[0]["metadata"] == {"created_by": "system"}
    assert await sdk.assistants.get_subgraphs(workflow_id) == {}

    parts = await _collect(
        sdk.runs.stream(None, workflow_id, input={"topic": "stateless"}, stream_mode="updates")
    )
    thread_id = parts[0][1]["thread_id"]
    assert parts[-1][1]["__interrupt__"][0]["value"]["node_id"] == "review"
    assert await sdk.threads.count() == 1
    assert await sdk.threads.count(status="interrupted") == 1 and await sdk.threads.count(status="idle") == 0

    history = await sdk.threads.get_history(thread_id, limit=2)
    assert len(history) == 2
    older = history[1]["checkpoint"]["checkpoint_id"]
    at = await sdk.threads.get_state(thread_id, checkpoint_id=older)
    assert at["checkpoint"]["checkpoint_id"] == older and at["checkpoint"]["thread_id"] == thread_id
    via_get = await sdk.http.get(f"/threads/{thread_id}/history", params={"limit": 1})
    assert len(via_get) == 1 and via_get[0]["checkpoint"] == history[0]["checkpoint"]
    earlier = await sdk.threads.get_history(thread_id, limit=50, before=history[0]["checkpoint"])
    assert earlier and earlier[0]["checkpoint"]["checkpoint_id"] == older

    # Join the stream of a resumed run from a second connection.
    resumed = await sdk.runs.create(thread_id, workflow_id, command={"resume": {"decision": "approve"}})
    joined = await _collect(sdk.runs.join_stream(thread_id, resumed["run_id"], stream_mode="values"))
    assert joined == [] or joined[-1][1]["final"] == "published: A note about stateless"
    final = await sdk.runs.join(thread_id, resumed["run_id"])
    assert final["final"] == "published: A note about stateless"
    settled = await _collect(
        sdk.runs.join_stream(thread_id, resumed["run_id"], stream_mode="values")
    )  # ends at once: final values
    # A settled run's stream is replayed from its stored parts, then ends: the last is the final state.
    names = [name for name, _ in settled]
    assert names and set(names) <= {"metadata", "values"} and settled[-1][1]["final"].startswith("published")
    await sdk.aclose()
