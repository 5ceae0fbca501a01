"""Workflow definitions the server tests run, and small API steps used by several test modules."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx

from tests.server.api_tenants import assert_problem


def linear(state: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A definition whose nodes run one after the other."""
    ids = ["START", *[n["id"] for n in nodes], "END"]
    return {
        "schema_version": 1,
        "state": state,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
    }


REVIEWED_DRAFT = linear(
    {"topic": {"type": "string", "required": True}, "draft": {"type": "string"}, "final": {"type": "string"}},
    [
        {"id": "write", "type": "transform", "config": {"set": {"draft": "A note about {topic}"}}},
        {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "draft"}},
        {"id": "publish", "type": "transform", "config": {"set": {"final": "published: {draft}"}}},
    ],
)


def fetch_then_finish(url: str) -> dict[str, Any]:
    """A ``tool`` call to ``url`` (no retries inside the run), then a transform."""
    return linear(
        {"topic": {"type": "string"}, "fetched": {"type": "any"}, "final": {"type": "string"}},
        [
            {
                "id": "fetch",
                "type": "tool",
                "config": {"request": {"method": "GET", "url": url}, "output": "fetched"},
                "retry": {"max_attempts": 1},
            },
            {"id": "finish", "type": "transform", "config": {"set": {"final": "done: {topic}"}}},
        ],
    )


async def create_and_publish(
    client: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any], name: str = "wf"
) -> str:
    created = await client.post(
        "/v1/workflows", headers=headers, json={"name": name, "definition_graph": definition}
    )
    assert created.status_code == 201, created.text
    published = await client.post(f"/v1/workflows/{created.json()['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    return created.json()["id"]


async def start_run(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, run_input: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/runs", headers=headers, json={"workflow_id": workflow_id, "input": run_input}
    )
    assert response.status_code == 202, response.text
    return response.json()


async def wait_for_status(
    client: httpx.AsyncClient, headers: dict[str, str], run_id: str, *statuses: str, deadline: float = 60.0
) -> dict[str, Any]:
    """Poll ``GET /v1/runs/{id}`` until the run reaches one of ``statuses`` (fails after ``deadline`` s)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while True:
        response = await client.get(f"/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in statuses:
            return run
        if loop.time() > give_up:
            raise AssertionError(f"run {run_id} stayed {run['status']}, expected one of {statuses}: {run}")
        await asyncio.sleep(0.05)


__all__ = [
    "REVIEWED_DRAFT",
    "assert_problem",
    "create_and_publish",
    "fetch_then_finish",
    "linear",
    "start_run",
    "wait_for_status",
]
