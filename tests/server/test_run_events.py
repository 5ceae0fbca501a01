"""The SSE event stream of a run, read incrementally from a real uvicorn server.

The app runs without its worker here, so the test decides when the run executes: it reads the
stream's opening snapshot and the replayed start, then lets the engine run.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish, start_run


@pytest.fixture(scope="module")
def run_worker() -> bool:
    return False


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


async def test_sse_stream_follows_a_run(
    app: FastAPI, live_url: str, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    engine = app.state.resources.engine
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "streams"})

    seen: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=live_url, headers=tenant.operator, timeout=60) as live,
        live.stream("GET", f"/v1/runs/{run['id']}/events", params={"stop_on_pause": "true"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in _events(response):
            data = json.loads(event["data"])
            seen.append({"event": event["event"], "id": event.get("id"), **data})
            if len(seen) == 1:  # the opening snapshot (no id: it is not an event of the outbox)
                assert data["data"] == {"status": "PENDING", "snapshot": True} and seen[0]["id"] is None
            elif data["data"].get("status") == "PENDING":  # the replayed start: now run it
                assert await engine.execute_run(run["id"]) is not None
    types = [e["event"] for e in seen]
    assert types[0] == "run.status" and types[-1] == "run.status"
    statuses = [e["data"]["status"] for e in seen if e["event"] == "run.status"]
    assert statuses[-1] == "PAUSED_FOR_APPROVAL" and "RUNNING" in statuses
    finished = [e["data"]["node_id"] for e in seen if e["event"] == "node.finished"]
    assert finished == ["write"]
    assert types.count("task.created") == 1
    ids = [int(e["id"]) for e in seen[1:]]
    assert ids == sorted(set(ids)) and ids[0] >= 1  # stable, increasing event ids
    assert all(e["run_id"] == run["id"] for e in seen)

    # Decide, then follow the run to the end from the last id seen (SSE reconnection with
    # Last-Event-ID: nothing before it is sent again; no stop_on_pause: it ends when the run does).
    task_id = (await client.get(f"/v1/runs/{run['id']}", headers=tenant.operator)).json()["pending_tasks"][0]
    tail: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=live_url, headers=tenant.operator, timeout=60) as live,
        live.stream(
            "GET", f"/v1/runs/{run['id']}/events", headers={"Last-Event-ID": str(ids[-1])}
        ) as response,
    ):
        async for event in _events(response):
            tail.append({"id": event.get("id"), **json.loads(event["data"])})
            if len(tail) == 1:
                assert tail[0]["data"] == {"status": "PAUSED_FOR_APPROVAL", "snapshot": True}
                decided = await client.post(
                    f"/v1/hitl-tasks/{task_id}/decision",
                    headers=tenant.operator,
                    json={"decision": "approve"},
                )
                assert decided.status_code == 200
                assert await engine.execute_run(run["id"]) is not None
    assert all(int(e["id"]) > ids[-1] for e in tail[1:])
    assert [e["type"] for e in tail].count("task.decided") == 1
    assert tail[-1]["type"] == "run.status" and tail[-1]["data"]["status"] == "COMPLETED"
    assert [e["data"]["node_id"] for e in tail if e["type"] == "node.finished"] == ["review", "publish"]

    # A client arriving after the run finished still gets every event, once, in order.
    late = await client.get(f"/v1/runs/{run['id']}/events", headers=tenant.operator)
    replayed = [json.loads(b.split("data: ", 1)[1]) for b in late.text.split("\r\n\r\n") if "data: " in b]
    nodes = [e["data"]["node_id"] for e in replayed if e["type"] == "node.finished"]
    assert nodes == ["write", "review", "publish"]
    assert replayed[-1]["data"]["status"] == "COMPLETED"
    halfway = await client.get(
        f"/v1/runs/{run['id']}/events", headers={**tenant.operator, "Last-Event-ID": str(ids[-1])}
    )
    assert "node.finished" in halfway.text and '"write"' not in halfway.text
    bad = await client.get(
        f"/v1/runs/{run['id']}/events", headers={**tenant.operator, "Last-Event-ID": "yesterday"}
    )
    assert_problem(bad, 422)


async def test_sse_of_a_finished_run_ends_at_once(
    app: FastAPI, client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "gone"})
    await client.post(f"/v1/runs/{run['id']}/cancel", headers=tenant.operator)
    response = await client.get(f"/v1/runs/{run['id']}/events", headers=tenant.designer)
    assert response.status_code == 200
    blocks = [b for b in response.text.split("\r\n\r\n") if b.strip()]
    # the snapshot, then the stored history (queued, cancelled); the stream ends at once
    assert "CANCELLED" in blocks[0] and "CANCELLED" in blocks[-1]
    assert all("event: run.status\r\n" in b for b in blocks), blocks
    assert_problem(await client.get("/v1/runs/nope/events", headers=tenant.operator), 404)
    assert_problem(await client.get(f"/v1/runs/{run['id']}/events"), 401)
