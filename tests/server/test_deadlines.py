"""Approval deadlines: the worker's timer escalates an overdue task as its node says (reassign, or
fail the run), once, with an audit row and an event; the inbox puts the soonest due first."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from eawe.db.models import AuditLog, HITLTask, Role
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"deadline_check_seconds": 0.2})


def _reviewed(on_overdue: dict | None, due_in_minutes: int | None = 60) -> dict:
    review = {"assignee_role": "OPERATOR", "review": "draft"}
    if due_in_minutes is not None:
        review["due_in_minutes"] = due_in_minutes
    if on_overdue is not None:
        review["on_overdue"] = on_overdue
    return linear(
        {"topic": {"type": "string", "required": True}, "draft": {"type": "string"}},
        [
            {"id": "write", "type": "transform", "config": {"set": {"draft": "A note about {topic}"}}},
            {"id": "review", "type": "approval", "config": review},
        ],
    )


async def _paused_task(client: httpx.AsyncClient, tenant, definition: dict) -> tuple[str, str]:
    workflow_id = await create_and_publish(client, tenant.designer, definition)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "deadlines"})
    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    return run["id"], paused["pending_tasks"][0]


async def _make_overdue(database, task_id: str) -> None:
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            await session.execute(
                update(HITLTask).where(HITLTask.id == task_id).values(due_at=datetime(2020, 1, 1))
            )


async def _escalations(database, run_id: str) -> int:
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(
                        AuditLog.workflow_run_id == run_id, AuditLog.action == "HITL_TASK_ESCALATED"
                    )
                )
            )


async def _until(predicate, timeout: float = 15.0) -> None:
    give_up = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < give_up, "timed out"
        await asyncio.sleep(0.1)


def test_on_overdue_needs_a_deadline_and_a_target() -> None:
    from agents.builtins.approval import ApprovalConfig

    with pytest.raises(ValueError, match="on_overdue needs due_in_minutes"):
        ApprovalConfig(review="x", assignee_role="OPERATOR", on_overdue={"action": "fail"})
    with pytest.raises(ValueError, match="reassign needs"):
        ApprovalConfig(
            review="x", assignee_role="OPERATOR", due_in_minutes=5, on_overdue={"action": "reassign"}
        )


async def test_an_overdue_task_is_reassigned_once_and_audited(
    client: httpx.AsyncClient, api_tenant, database
) -> None:
    tenant = await api_tenant()
    admin_id = tenant.users[Role.ADMINISTRATOR].id
    run_id, task_id = await _paused_task(
        client, tenant, _reviewed({"action": "reassign", "to_role": "ADMINISTRATOR"})
    )
    inbox = (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"]
    assert [t["id"] for t in inbox] == [task_id]
    assert await _escalations(database, run_id) == 0  # not yet due: nothing happens

    await _make_overdue(database, task_id)

    async def reassigned() -> bool:
        task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.admin)).json()
        return task["assigned_to_id"] == admin_id

    await _until(reassigned)
    await asyncio.sleep(0.6)  # a few more timer ticks: still escalated once
    assert await _escalations(database, run_id) == 1
    assert (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()["items"] == []
    assert [
        t["id"] for t in (await client.get("/v1/hitl-tasks/inbox", headers=tenant.admin)).json()["items"]
    ] == [task_id]
    audit = (
        await client.get("/v1/audit-logs", headers=tenant.admin, params={"workflow_run_id": run_id})
    ).json()["items"]
    row = next(a for a in audit if a["action"] == "HITL_TASK_ESCALATED")
    assert row["details"]["outcome"] == "reassigned" and row["details"]["assigned_to_id"] == admin_id
    # the new reviewer's decision completes the run
    decided = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.admin, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    await wait_for_status(client, tenant.admin, run_id, "COMPLETED")


async def test_an_overdue_task_can_fail_its_run(client: httpx.AsyncClient, api_tenant, database) -> None:
    tenant = await api_tenant()
    run_id, task_id = await _paused_task(client, tenant, _reviewed({"action": "fail"}))
    await _make_overdue(database, task_id)
    failed = await wait_for_status(client, tenant.operator, run_id, "FAILED", deadline=15)
    assert failed["error"]["type"] == "ApprovalOverdue" and failed["error"]["node_id"] == "review"
    task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.admin)).json()
    assert task["status"] == "CANCELLED"
    late = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert late.status_code == 409


async def test_a_task_without_on_overdue_stays_as_it_is(
    client: httpx.AsyncClient, api_tenant, database
) -> None:
    tenant = await api_tenant()
    run_id, task_id = await _paused_task(client, tenant, _reviewed(None))
    await _make_overdue(database, task_id)
    await asyncio.sleep(0.8)
    assert await _escalations(database, run_id) == 0
    task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.admin)).json()
    assert task["status"] == "PENDING" and task["assigned_to_id"] == tenant.users[Role.OPERATOR].id


async def test_inbox_puts_the_soonest_due_first_across_pages(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    _, later = await _paused_task(client, tenant, _reviewed(None, due_in_minutes=120))
    _, undated = await _paused_task(client, tenant, _reviewed(None, due_in_minutes=None))
    _, sooner = await _paused_task(client, tenant, _reviewed(None, due_in_minutes=30))
    whole = (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator)).json()
    assert [t["id"] for t in whole["items"]] == [sooner, later, undated]
    due = [t["due_at"] for t in whole["items"]]
    assert due[2] is None and datetime.fromisoformat(due[0]) < datetime.fromisoformat(due[1])
    assert datetime.fromisoformat(due[1]) - datetime.fromisoformat(due[0]) > timedelta(minutes=80)
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator, params=params)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [sooner, later, undated]
    bad = await client.get("/v1/hitl-tasks/inbox", headers=tenant.operator, params={"cursor": "nonsense"})
    assert bad.status_code == 422
