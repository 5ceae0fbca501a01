"""Runs and HITL tasks over HTTP with the in-process worker: pause, decide once, resume, cancel, retry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from eawe.db.models import Role
from tests.engine.stub_http import RecordedRequest, StubHTTPServer
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import (
    REVIEWED_DRAFT,
    create_and_publish,
    fetch_then_finish,
    start_run,
    wait_for_status,
)


@pytest.fixture(scope="module")
def flaky_endpoint() -> Iterator[StubHTTPServer]:
    """Fails until ``healthy`` is set on it; then answers ``{"ok": true}``."""
    stub = StubHTTPServer(lambda request: (200, {"ok": True}))
    stub.healthy = False  # type: ignore[attr-defined]

    def respond(request: RecordedRequest) -> tuple[int, object]:
        return (200, {"ok": True}) if stub.healthy else (503, {"error": "down"})  # type: ignore[attr-defined]

    stub.responder = respond
    stub.start()
    yield stub
    stub.stop()


async def test_run_pauses_then_approval_completes_it(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "budgets"})
    assert run["status"] == "PENDING" and run["workflow_version"] == 1

    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    assert paused["current_state"]["values"]["draft"] == "A note about budgets"
    assert paused["current_state"]["next"] == ["review"] and len(paused["current_state"]["interrupts"]) == 1
    assert len(paused["pending_tasks"]) == 1
    task_id = paused["pending_tasks"][0]

    inbox = (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"]
    assert [t["id"] for t in inbox] == [task_id]
    task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.operator)).json()
    assert (
        task["workflow_run_id"] == run["id"] and task["status"] == "PENDING" and task["node_id"] == "review"
    )
    assert task["task_data"]["value"] == "A note about budgets"
    pending = await client.get("/v1/hitl-tasks", headers=tenant.admin, params={"status": "PENDING"})
    assert [t["id"] for t in pending.json()["items"]] == [task_id]
    listed = await client.get("/v1/runs", headers=tenant.designer, params={"status": "PAUSED_FOR_APPROVAL"})
    assert [r["id"] for r in listed.json()["items"]] == [run["id"]]

    decided = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "APPROVED"
    again = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision",
        headers=tenant.operator,
        json={"decision": "reject", "reason": "no"},
    )
    assert_problem(again, 409)

    done = await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")
    assert done["payload"]["final"] == "published: A note about budgets"
    assert (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"] == []
    audit = await client.get("/v1/audit-logs", headers=tenant.admin, params={"workflow_run_id": run["id"]})
    actions = {row["action"] for row in audit.json()["items"]}
    assert {"RUN_CREATED", "RUN_PAUSED_FOR_APPROVAL", "STEP_APPROVED", "RUN_COMPLETED"} <= actions


async def test_edit_and_reject_decisions(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    edited_run = await start_run(client, tenant.operator, workflow_id, {"topic": "a"})
    rejected_run = await start_run(client, tenant.operator, workflow_id, {"topic": "b"})
    edit_task = (await wait_for_status(client, tenant.operator, edited_run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    reject_task = (await wait_for_status(client, tenant.operator, rejected_run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]

    no_output = await client.post(
        f"/v1/hitl-tasks/{edit_task}/decision", headers=tenant.operator, json={"decision": "edit"}
    )
    assert_problem(no_output, 422, "corrected_output")
    no_reason = await client.post(
        f"/v1/hitl-tasks/{reject_task}/decision", headers=tenant.operator, json={"decision": "reject"}
    )
    assert_problem(no_reason, 422, "reason")
    bad = await client.post(
        f"/v1/hitl-tasks/{edit_task}/decision", headers=tenant.operator, json={"decision": "maybe"}
    )
    assert_problem(bad, 422, "decision")

    edit = await client.post(
        f"/v1/hitl-tasks/{edit_task}/decision",
        headers=tenant.operator,
        json={"decision": "edit", "corrected_output": "Better note"},
    )
    assert edit.status_code == 200 and edit.json()["status"] == "EDITED_AND_APPROVED"
    assert edit.json()["human_corrected_output"] == "Better note"
    # An administrator may decide any task of the tenant.
    reject = await client.post(
        f"/v1/hitl-tasks/{reject_task}/decision",
        headers=tenant.admin,
        json={"decision": "reject", "reason": "off topic"},
    )
    assert reject.status_code == 200 and reject.json()["rejection_reason"] == "off topic"

    assert (await wait_for_status(client, tenant.operator, edited_run["id"], "COMPLETED"))["payload"][
        "final"
    ] == "published: Better note"
    failed = await wait_for_status(client, tenant.operator, rejected_run["id"], "FAILED")
    assert failed["error"]["type"] == "Rejected" and failed["error"]["node_id"] == "review"


async def test_run_input_errors_and_cancel(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    missing = await client.post(
        "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {}}
    )
    assert_problem(missing, 422, "input.topic")
    unknown = await client.post(
        "/v1/runs",
        headers=tenant.operator,
        json={"workflow_id": workflow_id, "input": {"topic": "x", "color": 1}},
    )
    assert_problem(unknown, 422, "input.color")
    assert_problem(
        await client.post("/v1/runs", headers=tenant.operator, json={"input": {}}), 422, "workflow_id"
    )
    assert_problem(
        await client.post("/v1/runs", headers=tenant.operator, json={"workflow_id": "nope", "input": {}}), 404
    )

    run = await start_run(client, tenant.operator, workflow_id, {"topic": "to cancel"})
    task_id = (await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    cancelled = await client.post(f"/v1/runs/{run['id']}/cancel", headers=tenant.operator)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.operator)).json()[
        "status"
    ] == "CANCELLED"
    assert_problem(await client.post(f"/v1/runs/{run['id']}/cancel", headers=tenant.operator), 409, "status")
    late = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert_problem(late, 409)


async def test_retry_after_an_error(
    client: httpx.AsyncClient, api_tenant, flaky_endpoint: StubHTTPServer
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(
        client, tenant.designer, fetch_then_finish(f"{flaky_endpoint.base_url}/x")
    )
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "retry"})
    errored = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_WITH_ERROR")
    assert errored["error"]["node_id"] == "fetch"
    assert_problem(await client.post(f"/v1/runs/{run['id']}/retry", headers=tenant.designer), 403)
    flaky_endpoint.healthy = True  # type: ignore[attr-defined]
    retried = await client.post(f"/v1/runs/{run['id']}/retry", headers=tenant.operator)
    assert retried.status_code == 202 and retried.json()["status"] == "PENDING"
    done = await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")
    assert done["payload"]["fetched"] == {"ok": True} and done["payload"]["final"] == "done: retry"
    assert_problem(await client.post(f"/v1/runs/{run['id']}/retry", headers=tenant.operator), 409, "status")


async def test_run_and_task_role_denials(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.admin, workflow_id, {"topic": "roles"})
    task_id = (await wait_for_status(client, tenant.designer, run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    for method, path, body in [
        ("POST", "/v1/runs", {"workflow_id": workflow_id, "input": {"topic": "x"}}),
        ("POST", f"/v1/runs/{run['id']}/cancel", None),
        ("POST", f"/v1/runs/{run['id']}/retry", None),
        ("GET", "/v1/hitl-tasks", None),
        ("GET", "/v1/hitl-tasks/inbox", None),
        ("GET", f"/v1/hitl-tasks/{task_id}", None),
        ("POST", f"/v1/hitl-tasks/{task_id}/decision", {"decision": "approve"}),
    ]:
        assert_problem(await client.request(method, path, headers=tenant.designer, json=body), 403)
    # Designers read runs.
    assert (await client.get(f"/v1/runs/{run['id']}", headers=tenant.designer)).status_code == 200
    assert (await client.get("/v1/runs", headers=tenant.designer)).status_code == 200


async def test_task_for_another_role_is_403(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    definition = {
        **REVIEWED_DRAFT,
        "nodes": [
            REVIEWED_DRAFT["nodes"][0],
            {
                "id": "review",
                "type": "approval",
                "config": {"assignee_role": "ADMINISTRATOR", "review": "draft"},
            },
            REVIEWED_DRAFT["nodes"][2],
        ],
    }
    workflow_id = await create_and_publish(client, tenant.designer, definition)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "admins only"})
    task_id = (await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    assert (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"] == []
    denied = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert_problem(denied, 403)
    assert (
        tenant.users[Role.ADMINISTRATOR].id
        == (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.admin)).json()["assigned_to_id"]
    )


async def test_runs_and_tasks_cross_tenant_404(client: httpx.AsyncClient, api_tenant) -> None:
    mine, theirs = await api_tenant(), await api_tenant()
    workflow_id = await create_and_publish(client, theirs.designer, REVIEWED_DRAFT)
    run = await start_run(client, theirs.operator, workflow_id, {"topic": "theirs"})
    task_id = (await wait_for_status(client, theirs.operator, run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    for method, path, body in [
        ("GET", f"/v1/runs/{run['id']}", None),
        ("POST", f"/v1/runs/{run['id']}/cancel", None),
        ("POST", f"/v1/runs/{run['id']}/retry", None),
        ("GET", f"/v1/runs/{run['id']}/events", None),
        ("GET", f"/v1/hitl-tasks/{task_id}", None),
        ("POST", f"/v1/hitl-tasks/{task_id}/decision", {"decision": "approve"}),
    ]:
        assert_problem(await client.request(method, path, headers=mine.admin, json=body), 404)
    assert (await client.get("/v1/runs", headers=mine.admin)).json()["items"] == []
    assert (await client.get("/v1/hitl-tasks", headers=mine.admin)).json()["items"] == []
    untouched = await client.get(f"/v1/hitl-tasks/{task_id}", headers=theirs.operator)
    assert untouched.json()["status"] == "PENDING"


async def test_concurrent_decisions_apply_once(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "race"})
    task_id = (await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL"))[
        "pending_tasks"
    ][0]
    bodies = [
        {"decision": "approve"},
        {"decision": "edit", "corrected_output": "theirs"},
        {"decision": "reject", "reason": "no"},
        {"decision": "approve"},
    ]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/hitl-tasks/{task_id}/decision",
                headers=tenant.admin if i % 2 else tenant.operator,
                json=body,
            )
            for i, body in enumerate(bodies)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409, 409], [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    await wait_for_status(client, tenant.operator, run["id"], "COMPLETED", "FAILED")
    audit = await client.get("/v1/audit-logs", headers=tenant.admin, params={"workflow_run_id": run["id"]})
    decisions = [a for a in audit.json()["items"] if a["action"].startswith("STEP_")]
    assert len(decisions) == 1 and decisions[0]["details"]["task_id"] == winner["id"]
