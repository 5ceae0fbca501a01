"""The SSE event stream of a run, read incrementally from a real uvicorn server.

The app runs without its worker here, so the test decides when the run executes: it first reads
the stream's opening snapshot (the subscription is then live), then lets the engine run.
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
            seen.append({"event": event["event"], "id": event["id"], **data})
            if len(seen) == 1:
                assert data["data"] == {"status": "PENDING", "snapshot": True}
                assert await engine.execute_run(run["id"]) is not None  # now run it
    types = [e["event"] for e in seen]
    assert types[0] == "run.status" and types[-1] == "run.status"
    statuses = [e["data"]["status"] for e in seen if e["event"] == "run.status"]
    assert statuses[-1] == "PAUSED_FOR_APPROVAL" and "RUNNING" in statuses
    finished = [e["data"]["node_id"] for e in seen if e["event"] == "node.finished"]
    assert finished == ["write"]
    assert types.count("task.created") == 1
    assert [int(e["id"]) for e in seen] == list(range(len(seen)))
    assert all(e["run_id"] == run["id"] for e in seen)

    # Decide, then follow the run to the end (no stop_on_pause: the stream ends when the run finishes).
    task_id = (await client.get(f"/v1/runs/{run['id']}", headers=tenant.operator)).json()["pending_tasks"][0]
    tail: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=live_url, headers=tenant.operator, timeout=60) as live,
        live.stream("GET", f"/v1/runs/{run['id']}/events") as response,
    ):
        async for event in _events(response):
            tail.append(json.loads(event["data"]))
            if len(tail) == 1:
                assert tail[0]["data"]["status"] == "PAUSED_FOR_APPROVAL"
                decided = await client.post(
                    f"/v1/hitl-tasks/{task_id}/decision",
                    headers=tenant.operator,
                    json={"decision": "approve"},
                )
                assert decided.status_code == 200
                assert await engine.execute_run(run["id"]) is not None
    assert [e["type"] for e in tail].count("task.decided") == 1
    assert tail[-1]["type"] == "run.status" and tail[-1]["data"]["status"] == "COMPLETED"
    assert [e["data"]["node_id"] for e in tail if e["type"] == "node.finished"] == ["review", "publish"]


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
    assert len(blocks) == 1 and "CANCELLED" in blocks[0]
    assert_problem(await client.get("/v1/runs/nope/events", headers=tenant.operator), 404)
    assert_problem(await client.get(f"/v1/runs/{run['id']}/events"), 401)
