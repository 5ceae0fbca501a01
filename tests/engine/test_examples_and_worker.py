"""The example workflows end to end on PostgreSQL, subworkflows by id, and the worker loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from checkpoints import RunEngine, RunWorker
from eawe.credentials import CredentialCipher, create_credential
from eawe.db.models import HITLStatus, Role, RunStatus
from eawe.db.tenant_scope import system_scope
from tests.engine.conftest import audit_actions, load_run, publish_workflow, run_tasks
from tests.engine.stub_http import RecordedRequest, StubHTTPServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
USERS = [("op@x.io", Role.OPERATOR, ["Finance"]), ("admin@x.io", Role.ADMINISTRATOR, [])]


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


async def test_grounded_answer(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, example("grounded_answer"))
    question = "How much can employees expense for travel per trip?"
    run = await engine.start_run(t.tenant.id, workflow_id, {"question": question}, t.user("op@x.io").id)
    assert await engine.execute_run(run.id) == RunStatus.PAUSED_FOR_APPROVAL
    (task,) = await run_tasks(engine, t.tenant.id, run.id)
    assert task.task_data["fields"]["question"] == question
    assert task.original_agent_output.startswith("[local model] Employees may expense travel up to 500 EUR")
    await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id)
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    nodes = [a for a in await audit_actions(engine, t.tenant.id, run.id) if a[0] == "NODE_FINISHED"]
    assert len(nodes) == 3


@pytest.fixture
def erp() -> Any:
    vendors = {"V-17": {"id": "V-17", "risk": "low"}, "V-99": {"id": "V-99", "risk": "high"}}

    def answer(request: RecordedRequest) -> tuple[int, Any]:
        if request.headers.get("authorization") != "Bearer erp-secret-token":
            return 401, {"error": "unauthorised"}
        if request.method == "GET":
            return 200, vendors[request.path.rsplit("/", 1)[-1]]
        return 201, {"posted": request.body["decision"], "invoice": request.body["invoice"]["invoice_number"]}

    server = StubHTTPServer(answer).start()
    try:
        yield server
    finally:
        server.stop()


def invoice_text(vendor: str, amount: str) -> str:
    return (
        f"Invoice number: INV-2041\nVendor id: {vendor}\nVendor name: ACME Hardware GmbH\n"
        f"Amount: {amount}\nCurrency: EUR\nThree laptops (hardware)"
    )


@pytest.mark.parametrize(
    ("vendor", "amount", "expected"),
    [("V-17", "1,250.00", "auto-approved"), ("V-17", "12,500.00", "approved"), ("V-99", "80.00", "rejected")],
)
async def test_invoice_triage(
    engine: RunEngine,
    tenant_factory: Any,
    settings: Any,
    erp: StubHTTPServer,
    vendor: str,
    amount: str,
    expected: str,
) -> None:
    t = await tenant_factory(users=USERS)
    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.transaction() as session:
            await create_credential(
                session,
                CredentialCipher(settings.parsed_credential_keys()),
                tenant_id=t.tenant.id,
                name="erp-api",
                type="API_KEY",
                service_name="ERP",
                secret="erp-secret-token",
                allowed_hosts=["127.0.0.1"],
            )
    definition = json.loads(
        json.dumps(example("invoice_triage")).replace("https://erp.example.com", erp.base_url)
    )
    workflow_id = await publish_workflow(engine, t.tenant.id, definition)
    run = await engine.start_run(
        t.tenant.id, workflow_id, {"invoice_text": invoice_text(vendor, amount)}, None
    )
    status = await engine.execute_run(run.id)
    if expected != "auto-approved":
        assert status == RunStatus.PAUSED_FOR_APPROVAL
        (task,) = await run_tasks(engine, t.tenant.id, run.id)
        decision = (
            {"decision": "approve"} if expected == "approved" else {"decision": "reject", "reason": "risky"}
        )
        await engine.decide(t.tenant.id, task.id, decision, actor_id=t.user("op@x.io").id)
        status = await engine.execute_run(run.id)
    assert status == RunStatus.COMPLETED
    done = await load_run(engine, t.tenant.id, run.id)
    assert done.payload["decision"] == expected
    assert (
        done.payload["invoice"]["vendor_id"] == vendor and done.payload["invoice"]["category"] == "hardware"
    )
    if expected != "rejected":
        assert done.payload["erp_result"] == {"posted": expected, "invoice": "INV-2041"}
    assert "erp-secret-token" not in json.dumps(
        [list(a) for a in await audit_actions(engine, t.tenant.id, run.id)]
    )


async def test_parallel_research(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, example("parallel_research"))
    run = await engine.start_run(
        t.tenant.id,
        workflow_id,
        {"question": "What applies?", "topics": ["travel expense", "invoices review"]},
        None,
    )
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    findings = (await load_run(engine, t.tenant.id, run.id)).payload["findings"]
    assert [f["topic"] for f in findings] == ["travel expense", "invoices review"]
    assert "500 EUR" in findings[0]["summary"] and "finance review" in findings[1]["summary"]


async def test_subworkflow_by_id_pauses_the_parent(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    child = {
        "state": {"x": {"type": "string"}, "y": {}},
        "nodes": [
            {"id": "check", "type": "approval", "config": {"assignee_role": "ADMINISTRATOR", "review": "x"}},
            {"id": "wrap", "type": "transform", "config": {"set": {"y": "[{x}]"}}},
        ],
        "edges": [
            {"source": "START", "target": "check"},
            {"source": "check", "target": "wrap"},
            {"source": "wrap", "target": "END"},
        ],
    }
    child_id = await publish_workflow(engine, t.tenant.id, child)
    parent = {
        "state": {"a": {}, "b": {}},
        "nodes": [
            {
                "id": "sub",
                "type": "subworkflow",
                "config": {"workflow_id": child_id, "input": {"x": "{a}"}, "output": {"b": "y"}},
            }
        ],
        "edges": [{"source": "START", "target": "sub"}, {"source": "sub", "target": "END"}],
    }
    parent_id = await publish_workflow(engine, t.tenant.id, parent)
    run = await engine.start_run(t.tenant.id, parent_id, {"a": "v"}, None)
    assert await engine.execute_run(run.id) == RunStatus.PAUSED_FOR_APPROVAL
    (task,) = await run_tasks(engine, t.tenant.id, run.id)
    assert task.node_id == "check" and task.assigned_to_id == t.user("admin@x.io").id
    await engine.decide(
        t.tenant.id, task.id, {"decision": "edit", "corrected_output": "w"}, actor_id=t.user("admin@x.io").id
    )
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    assert (await load_run(engine, t.tenant.id, run.id)).payload["b"] == "[w]"
    state = await engine.run_state(t.tenant.id, run.id)
    assert state["values"]["b"] == "[w]" and state["next"] == [] and state["interrupts"] == []


async def test_worker_executes_queued_runs(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, example("grounded_answer"))
    stop = asyncio.Event()
    worker = asyncio.create_task(RunWorker(engine, concurrency=2, poll_seconds=30).run(stop))
    try:
        async with engine.subscribe(t.tenant.id) as events:
            runs = [
                await engine.start_run(t.tenant.id, workflow_id, {"question": f"travel {i}?"}, None)
                for i in range(3)
            ]
            paused: set[str] = set()
            while len(paused) < 3:  # woken by NOTIFY, not by the 30 s poll
                event = await events.next(60)
                assert event is not None
                if event.type == "run.status" and event.data["status"] == "PAUSED_FOR_APPROVAL":
                    paused.add(event.run_id)
            assert paused == {r.id for r in runs}
            for r in runs:
                (task,) = await run_tasks(engine, t.tenant.id, r.id)
                await engine.decide(
                    t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id
                )
            completed: set[str] = set()
            while len(completed) < 3:
                event = await events.next(60)
                assert event is not None
                if event.type == "run.status" and event.data["status"] == "COMPLETED":
                    completed.add(event.run_id)
    finally:
        stop.set()
        await worker
    for r in runs:
        tasks = await run_tasks(engine, t.tenant.id, r.id)
        assert [x.status for x in tasks] == [HITLStatus.APPROVED]


async def test_worker_process_entry_point(engine: RunEngine, tenant_factory: Any, settings: Any) -> None:
    from cli.worker_process import run_worker_forever

    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, example("parallel_research"))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker_forever(settings, stop=stop))
    try:
        async with engine.subscribe(t.tenant.id) as events:
            run = await engine.start_run(
                t.tenant.id, workflow_id, {"question": "q?", "topics": ["travel"]}, None
            )
            while True:
                event = await events.next(120)
                assert event is not None
                if event.run_id == run.id and event.data.get("status") == "COMPLETED":
                    break
    finally:
        stop.set()
        await worker
    assert (await load_run(engine, t.tenant.id, run.id)).status == RunStatus.COMPLETED
