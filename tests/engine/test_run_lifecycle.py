"""Durable runs on PostgreSQL: every status transition, with audit rows and events in step."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from checkpoints import RunEngine
from checkpoints.run_event_log import read_run_events
from eawe.db.models import HITLStatus, Role, RunStatus
from eawe.db.tenant_scope import system_scope
from eawe.errors import ConflictError, NotFoundError, ValidationError
from tests.engine.conftest import audit_actions, linear, load_run, publish_workflow, run_tasks
from tests.engine.stub_http import RecordedRequest, StubHTTPServer

USERS = [
    ("op@x.io", Role.OPERATOR, ["Finance"]),
    ("designer@x.io", Role.DESIGNER, []),
]

ANSWER = linear(
    {
        "question": {"type": "string", "required": True},
        "context": {"type": "array"},
        "answer": {"type": "string"},
    },
    [
        {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 2, "output": "context"}},
        {
            "id": "draft",
            "type": "llm",
            "config": {"prompt": "{context}\nQuestion: {question}", "output": "answer"},
        },
    ],
)


async def test_pending_running_completed(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    user = t.user("op@x.io")
    workflow_id = await publish_workflow(engine, t.tenant.id, ANSWER)
    run = await engine.start_run(t.tenant.id, workflow_id, {"question": "travel expense per trip?"}, user.id)
    assert run.status == RunStatus.PENDING and run.workflow_version == 1 and len(run.graph_hash) == 64

    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    done = await load_run(engine, t.tenant.id, run.id)
    assert done.status == RunStatus.COMPLETED and done.completed_at is not None and done.lease_owner is None
    assert (
        done.payload["answer"]
        == "[local model] Employees may expense travel up to 500 EUR per trip. (sources: travel.md)"
    )
    assert await audit_actions(engine, t.tenant.id, run.id) == [
        ("RUN_CREATED", "USER"),
        ("RUN_STARTED", "SYSTEM"),
        ("NODE_FINISHED", "AGENT"),
        ("NODE_FINISHED", "AGENT"),
        ("RUN_COMPLETED", "SYSTEM"),
    ]
    assert await engine.execute_run(run.id) is None  # a finished run cannot be claimed again


async def test_start_run_refusals(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    other = await tenant_factory(users=[("op@y.io", Role.OPERATOR, [])])
    workflow_id = await publish_workflow(engine, t.tenant.id, ANSWER)
    with pytest.raises(ValidationError) as caught:
        await engine.start_run(t.tenant.id, workflow_id, {"question": 3, "colour": "red"}, None)
    assert {p.field for p in caught.value.problems} == {"input.question", "input.colour"}
    with pytest.raises(ValidationError, match=r"input.question: is required"):
        await engine.start_run(t.tenant.id, workflow_id, {}, None)
    with pytest.raises(NotFoundError):
        await engine.start_run(
            other.tenant.id, workflow_id, {"question": "x"}, None
        )  # another tenant's workflow
    with pytest.raises(NotFoundError):
        await engine.start_run(t.tenant.id, workflow_id, {"question": "x"}, other.users[0].id)  # foreign user

    from eawe.db.repositories.workflows import create_workflow

    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.transaction() as session:
            draft = await create_workflow(
                session, tenant_id=t.tenant.id, name="draft", definition_graph=ANSWER
            )
    with pytest.raises(ConflictError, match="no published version"):
        await engine.start_run(t.tenant.id, draft.id, {"question": "x"}, None)


async def test_publish_validates_and_freezes_versions(engine: RunEngine, tenant_factory: Any) -> None:
    from eawe.db.repositories.workflows import create_workflow, update_workflow

    t = await tenant_factory(users=USERS)
    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.transaction() as session:
            broken = await create_workflow(
                session,
                tenant_id=t.tenant.id,
                name="broken",
                definition_graph={"nodes": [{"id": "a", "type": "nope"}]},
            )
    with pytest.raises(ValidationError) as caught:
        await engine.publish(t.tenant.id, broken.id, actor_id=None)
    assert any(p.field == "nodes[0].type" and p.node_id == "a" for p in caught.value.problems)

    workflow_id = await publish_workflow(engine, t.tenant.id, ANSWER)
    first = await engine.start_run(t.tenant.id, workflow_id, {"question": "q"}, None)
    changed = {**ANSWER, "name": "v2"}
    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.transaction() as session:
            await update_workflow(session, t.tenant.id, workflow_id, definition_graph=changed)
    again = await engine.publish(t.tenant.id, workflow_id, actor_id=None)
    assert again.version == 2
    second = await engine.start_run(t.tenant.id, workflow_id, {"question": "q"}, None)
    assert (first.workflow_version, second.workflow_version) == (1, 2)
    assert first.graph_hash != second.graph_hash
    assert await engine.execute_run(first.id) == RunStatus.COMPLETED  # still runs the version it pinned
    assert (
        await engine.publish(t.tenant.id, workflow_id, actor_id=None)
    ).version == 2  # unchanged: no new version


REVIEWED = {
    "state": {"answer": {"type": "string"}, "status": {}},
    "nodes": [
        {
            "id": "review",
            "type": "approval",
            "config": {
                "assignee_role": "OPERATOR",
                "review": "answer",
                "due_in_minutes": 60,
                "show": ["status"],
            },
        },
        {"id": "release", "type": "transform", "config": {"set": {"status": "released: {answer}"}}},
    ],
    "edges": [
        {"source": "START", "target": "review"},
        {"source": "review", "target": "release"},
        {"source": "release", "target": "END"},
    ],
}


async def paused_run(engine: RunEngine, t: Any, definition: dict[str, Any] = REVIEWED) -> tuple[Any, Any]:
    workflow_id = await publish_workflow(engine, t.tenant.id, definition)
    run = await engine.start_run(t.tenant.id, workflow_id, {"answer": "draft"}, t.user("op@x.io").id)
    assert await engine.execute_run(run.id) == RunStatus.PAUSED_FOR_APPROVAL
    (task,) = await run_tasks(engine, t.tenant.id, run.id)
    return run, task


async def test_approve(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    run, task = await paused_run(engine, t)
    assert task.status == HITLStatus.PENDING and task.node_id == "review" and task.interrupt_id
    assert task.assigned_to_id == t.user("op@x.io").id and task.assigned_role == Role.OPERATOR
    assert (
        task.original_agent_output == "draft"
        and task.task_data["value"] == "draft"
        and task.due_at is not None
    )
    paused = await load_run(engine, t.tenant.id, run.id)
    assert paused.status == RunStatus.PAUSED_FOR_APPROVAL and paused.state["interrupts"] == [
        task.interrupt_id
    ]

    decided = await engine.decide(
        t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id
    )
    assert decided.status == HITLStatus.APPROVED and decided.decided_by_id == t.user("op@x.io").id
    assert (await load_run(engine, t.tenant.id, run.id)).status == RunStatus.PENDING  # queued to resume
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["status"] == "released: draft"
    actions = await audit_actions(engine, t.tenant.id, run.id)
    assert ("STEP_APPROVED", "USER") in actions and ("RUN_RESUMED", "SYSTEM") in actions
    assert actions.index(("HITL_TASK_CREATED", "SYSTEM")) < actions.index(
        ("RUN_PAUSED_FOR_APPROVAL", "SYSTEM")
    )


async def test_edit_and_approve_uses_the_correction(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    run, task = await paused_run(engine, t)
    await engine.decide(
        t.tenant.id, task.id, {"decision": "edit", "corrected_output": "fixed"}, actor_id=t.user("op@x.io").id
    )
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["status"] == "released: fixed"
    (stored,) = await run_tasks(engine, t.tenant.id, run.id)
    assert stored.status == HITLStatus.EDITED_AND_APPROVED and stored.human_corrected_output == "fixed"

    lines = [line async for line in engine.export_corrections(t.tenant.id)]
    import json

    (record,) = [json.loads(line) for line in lines]
    assert record["output"] == "draft" and record["corrected_output"] == "fixed"
    assert record["node_id"] == "review" and record["workflow_version"] == 1
    assert record["reviewer_email"] == t.user("op@x.io").email and record["label"] == "edited"


async def test_reject_without_route_fails_the_run(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    run, task = await paused_run(engine, t)
    with pytest.raises(ValidationError, match="reason: a rejection needs a reason"):
        await engine.decide(t.tenant.id, task.id, {"decision": "reject"}, actor_id=t.user("op@x.io").id)
    await engine.decide(
        t.tenant.id, task.id, {"decision": "reject", "reason": "not supported"}, actor_id=t.user("op@x.io").id
    )
    assert await engine.execute_run(run.id) == RunStatus.FAILED
    failed = await load_run(engine, t.tenant.id, run.id)
    assert failed.error == {
        "node_id": "review",
        "type": "Rejected",
        "message": "approval 'review' rejected: not supported",
    }
    assert ("RUN_FAILED", "SYSTEM") in await audit_actions(engine, t.tenant.id, run.id)


async def test_reject_follows_the_reject_route(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    review = {**REVIEWED["nodes"][0], "config": {**REVIEWED["nodes"][0]["config"], "on_reject": "rework"}}
    rework = {
        "id": "rework",
        "type": "transform",
        "config": {"set": {"status": "rework: {eawe_approvals.review.reason}"}},
    }
    definition = {
        **REVIEWED,
        "nodes": [review, REVIEWED["nodes"][1], rework],
        "edges": [*REVIEWED["edges"], {"source": "rework", "target": "END"}],
    }
    run, task = await paused_run(engine, t, definition)
    await engine.decide(
        t.tenant.id, task.id, {"decision": "reject", "reason": "vague"}, actor_id=t.user("op@x.io").id
    )
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["status"] == "rework: vague"


async def test_a_decision_is_applied_exactly_once(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=[*USERS, ("op2@x.io", Role.OPERATOR, [])])
    run, task = await paused_run(engine, t)
    results = await asyncio.gather(
        engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id),
        engine.decide(
            t.tenant.id,
            task.id,
            {"decision": "edit", "corrected_output": "x"},
            actor_id=t.user("op2@x.io").id,
        ),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    decided = [r for r in results if not isinstance(r, BaseException)]
    assert len(conflicts) == 1 and len(decided) == 1, results
    assert "already" in str(conflicts[0])
    with pytest.raises(ConflictError):
        await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id)
    decisions = [a for a, _ in await audit_actions(engine, t.tenant.id, run.id) if a.startswith("STEP_")]
    assert len(decisions) == 1
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED


async def test_who_may_decide(engine: RunEngine, tenant_factory: Any) -> None:
    from eawe.errors import PermissionDeniedError

    t = await tenant_factory(users=USERS)
    other = await tenant_factory(users=[("op@y.io", Role.OPERATOR, [])])
    _, task = await paused_run(engine, t)
    with pytest.raises(PermissionDeniedError):
        await engine.decide(
            t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("designer@x.io").id
        )
    with pytest.raises(NotFoundError):  # another tenant's task looks like no task
        await engine.decide(other.tenant.id, task.id, {"decision": "approve"}, actor_id=other.users[0].id)
    with pytest.raises(NotFoundError):  # an actor from another tenant is not found in this one
        await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=other.users[0].id)


async def test_assignee_by_user_and_missing_role(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    by_user = {
        **REVIEWED,
        "nodes": [
            {
                **REVIEWED["nodes"][0],
                "config": {"assignee_user": t.user("designer@x.io").email, "review": "answer"},
            },
            REVIEWED["nodes"][1],
        ],
    }
    _, task = await paused_run(engine, t, by_user)
    assert task.assigned_to_id == t.user("designer@x.io").id and task.assigned_role is None

    nobody = {
        **REVIEWED,
        "nodes": [
            {**REVIEWED["nodes"][0], "config": {"assignee_role": "ADMINISTRATOR", "review": "answer"}},
            REVIEWED["nodes"][1],
        ],
    }
    workflow_id = await publish_workflow(engine, t.tenant.id, nobody)
    run = await engine.start_run(t.tenant.id, workflow_id, {"answer": "x"}, None)
    assert await engine.execute_run(run.id) == RunStatus.PAUSED_WITH_ERROR
    stuck = await load_run(engine, t.tenant.id, run.id)
    assert (
        stuck.error["message"] == "approval 'review': no active user with role ADMINISTRATOR in this tenant"
    )
    assert stuck.error["node_id"] == "review"


@pytest.fixture
def flaky_endpoint() -> Any:
    """/first always works; /second fails with 503 until ``healthy`` is set."""
    state = {"healthy": False, "calls": {"/first": 0, "/second": 0}}

    def answer(request: RecordedRequest) -> tuple[int, Any]:
        state["calls"][request.path] += 1
        if request.path == "/second" and not state["healthy"]:
            return 503, {"error": "unavailable"}
        return 200, {"ok": request.path}

    server = StubHTTPServer(answer).start()
    server.state = state  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


async def test_node_error_pauses_and_retry_resumes_from_the_last_checkpoint(
    engine: RunEngine, tenant_factory: Any, flaky_endpoint: StubHTTPServer
) -> None:
    t = await tenant_factory(users=USERS)
    retry = {"max_attempts": 2, "initial_interval_s": 0}
    definition = linear(
        {"a": {}, "b": {}},
        [
            {
                "id": "first",
                "type": "tool",
                "config": {"request": {"url": f"{flaky_endpoint.base_url}/first"}, "output": "a"},
            },
            {
                "id": "second",
                "type": "tool",
                "retry": retry,
                "config": {"request": {"url": f"{flaky_endpoint.base_url}/second"}, "output": "b"},
            },
        ],
    )
    workflow_id = await publish_workflow(engine, t.tenant.id, definition)
    run = await engine.start_run(t.tenant.id, workflow_id, {}, None)
    assert await engine.execute_run(run.id) == RunStatus.PAUSED_WITH_ERROR
    paused = await load_run(engine, t.tenant.id, run.id)
    assert paused.error["node_id"] == "second" and paused.error["type"] == "ToolCallError"
    assert "HTTP 503" in paused.error["message"]
    assert flaky_endpoint.state["calls"] == {"/first": 1, "/second": 2}  # type: ignore[attr-defined]
    with pytest.raises(ConflictError, match="only a run paused with an error"):
        await engine.retry(
            t.tenant.id, (await engine.start_run(t.tenant.id, workflow_id, {}, None)).id, actor_id=None
        )

    flaky_endpoint.state["healthy"] = True  # type: ignore[attr-defined]
    retried = await engine.retry(t.tenant.id, run.id, actor_id=t.user("op@x.io").id)
    assert retried.status == RunStatus.PENDING
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert flaky_endpoint.state["calls"]["/first"] == 1  # type: ignore[attr-defined]  # not re-run
    done = await load_run(engine, t.tenant.id, run.id)
    assert done.payload["b"] == {"ok": "/second"} and done.error is None
    actions = await audit_actions(engine, t.tenant.id, run.id)
    assert ("AGENT_ERROR", "AGENT") in actions and ("RUN_PAUSED_WITH_ERROR", "SYSTEM") in actions
    assert ("RUN_RETRIED", "USER") in actions


async def test_cancel_paused_and_finished_runs(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    run, task = await paused_run(engine, t)
    cancelled = await engine.cancel(t.tenant.id, run.id, actor_id=t.user("op@x.io").id)
    assert cancelled.status == RunStatus.CANCELLED
    (stored,) = await run_tasks(engine, t.tenant.id, run.id)
    assert stored.status == HITLStatus.CANCELLED
    with pytest.raises(ConflictError, match="already CANCELLED"):
        await engine.cancel(t.tenant.id, run.id, actor_id=None)
    with pytest.raises(ConflictError):  # the task went with the run
        await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id)
    assert ("RUN_CANCELLED", "USER") in await audit_actions(engine, t.tenant.id, run.id)


async def test_cancel_a_running_run(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    entered, release = threading.Event(), threading.Event()

    def slow(request: RecordedRequest) -> tuple[int, Any]:
        entered.set()
        release.wait(30)
        return 200, {}

    server = StubHTTPServer(slow).start()
    try:
        definition = linear(
            {"a": {}},
            [
                {
                    "id": "slow",
                    "type": "tool",
                    "config": {"request": {"url": f"{server.base_url}/x"}, "output": "a"},
                }
            ],
        )
        workflow_id = await publish_workflow(engine, t.tenant.id, definition)
        run = await engine.start_run(t.tenant.id, workflow_id, {}, None)
        execution = asyncio.create_task(engine.execute_run(run.id))
        await asyncio.to_thread(entered.wait, 30)
        requested = await engine.cancel(t.tenant.id, run.id, actor_id=t.user("op@x.io").id)
        assert requested.status == RunStatus.RUNNING and requested.cancel_requested
        assert await execution == RunStatus.CANCELLED
    finally:
        release.set()
        server.stop()
    assert (await load_run(engine, t.tenant.id, run.id)).status == RunStatus.CANCELLED
    actions = await audit_actions(engine, t.tenant.id, run.id)
    assert ("RUN_CANCEL_REQUESTED", "USER") in actions and ("RUN_CANCELLED", "SYSTEM") in actions


async def test_events_follow_the_run(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    other = await tenant_factory(users=[("op@y.io", Role.OPERATOR, [])])
    run, task = await paused_run(engine, t)
    before = [e.seq for e in await read_run_events(engine.resources.database, t.tenant.id, run.id)]
    async with engine.subscribe(t.tenant.id, run.id) as wakeups, engine.subscribe(other.tenant.id) as foreign:
        await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id)
        assert await engine.execute_run(run.id) == RunStatus.COMPLETED
        assert await wakeups.next(5) is not None  # readers were woken
        assert await foreign.next(0.2) is None  # nothing of another tenant
    stored = await read_run_events(engine.resources.database, t.tenant.id, run.id, after=max(before))
    seqs = [e.seq for e in stored]
    assert seqs == sorted(set(seqs))  # stable, increasing ids (stream parts take the seqs between)
    assert await read_run_events(engine.resources.database, other.tenant.id, run.id) == []
    seen = [(e.type, e.data.get("status") or e.data.get("node_id")) for e in stored]
    assert seen == [
        ("task.decided", "APPROVED"),
        ("run.status", "PENDING"),
        ("run.status", "RUNNING"),
        ("node.usage", "review"),  # duration and token usage of each node execution (issue 11)
        ("node.finished", "review"),
        ("node.usage", "release"),
        ("node.finished", "release"),
        ("run.status", "COMPLETED"),
    ]


async def test_lease_expiry_recovery(engine: RunEngine, tenant_factory: Any) -> None:
    from checkpoints.leases import claim_run
    from tests.engine.dying_worker import worker_alive

    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, ANSWER)
    run = await engine.start_run(t.tenant.id, workflow_id, {"question": "travel?"}, None)
    with worker_alive(engine.resources.database.conninfo, "dead-worker"):  # claims, then dies
        with system_scope():  # test setup/inspection as the operator
            assert (
                await claim_run(engine.resources.pool, run.id, owner="dead-worker", lease_seconds=0.001)
                is not None
            )
    assert (await load_run(engine, t.tenant.id, run.id)).status == RunStatus.RUNNING
    assert run.id in await engine.recover()
    recovered = await load_run(engine, t.tenant.id, run.id)
    assert recovered.status == RunStatus.COMPLETED and recovered.attempts == 2


async def test_role_assignment_spreads_over_the_least_loaded(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=[*USERS, ("op2@x.io", Role.OPERATOR, [])])
    workflow_id = await publish_workflow(engine, t.tenant.id, REVIEWED)
    assignees = []
    for _ in range(3):
        run = await engine.start_run(t.tenant.id, workflow_id, {"answer": "a"}, None)
        assert await engine.execute_run(run.id) == RunStatus.PAUSED_FOR_APPROVAL
        (task,) = await run_tasks(engine, t.tenant.id, run.id)
        assignees.append(task.assigned_to_id)
    first, second = t.user("op@x.io").id, t.user("op2@x.io").id
    assert assignees == [first, second, first]  # fewest pending first; ties go to the older account
