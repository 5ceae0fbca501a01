"""Resume after a process restart: other Python processes pick runs up from PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from checkpoints import RunEngine
from eawe.db.models import Role, RunStatus
from tests.engine.conftest import audit_actions, linear, load_run, publish_workflow, run_tasks
from tests.engine.stub_http import RecordedRequest, StubHTTPServer

ROOT = Path(__file__).resolve().parents[2]

REVIEWED = linear(
    {"question": {"type": "string"}, "context": {"type": "array"}, "answer": {"type": "string"}, "final": {}},
    [
        {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 1, "output": "context"}},
        {
            "id": "draft",
            "type": "llm",
            "config": {"prompt": "{context}\nQuestion: {question}", "output": "answer"},
        },
        {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "answer"}},
        {"id": "publish", "type": "transform", "config": {"set": {"final": "published: {answer}"}}},
    ],
)


def engine_process(conninfo: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.engine_process", conninfo, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


async def test_a_new_process_finishes_a_paused_run(
    engine: RunEngine, tenant_factory: Any, database_conninfo: str
) -> None:
    t = await tenant_factory(users=[("op@x.io", Role.OPERATOR, ["Finance"])])
    workflow_id = await publish_workflow(engine, t.tenant.id, REVIEWED)
    run = await engine.start_run(t.tenant.id, workflow_id, {"question": "travel expense per trip?"}, None)

    first = await asyncio.to_thread(finished, engine_process(database_conninfo, "execute", run.id))
    assert first["status"] == RunStatus.PAUSED_FOR_APPROVAL.value
    (task,) = await run_tasks(engine, t.tenant.id, run.id)
    await engine.decide(t.tenant.id, task.id, {"decision": "approve"}, actor_id=t.user("op@x.io").id)

    second = await asyncio.to_thread(finished, engine_process(database_conninfo, "recover"))
    assert second["recovered"] == [run.id]
    done = await load_run(engine, t.tenant.id, run.id)
    assert done.status == RunStatus.COMPLETED
    assert done.payload["final"].startswith("published: [local model] Employees may expense travel")
    nodes = [a for a, _ in await audit_actions(engine, t.tenant.id, run.id) if a == "NODE_FINISHED"]
    assert len(nodes) == 4  # find, draft, review, publish: nothing ran twice


async def test_a_crashed_worker_s_run_resumes_from_its_last_checkpoint(
    engine: RunEngine, tenant_factory: Any, database_conninfo: str
) -> None:
    t = await tenant_factory(users=[("op@x.io", Role.OPERATOR, [])])
    reached, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def endpoint(request: RecordedRequest) -> tuple[int, Any]:
        calls.append(request.path)
        reached.set()
        release.wait(60)  # the first worker is killed while its call waits here
        return 200, {"ok": True}

    server = StubHTTPServer(endpoint).start()
    try:
        definition = linear(
            {"a": {}, "b": {}},
            [
                {"id": "prepare", "type": "transform", "config": {"set": {"a": "prepared"}}},
                {
                    "id": "call",
                    "type": "tool",
                    "config": {"request": {"url": f"{server.base_url}/erp"}, "output": "b"},
                },
            ],
        )
        workflow_id = await publish_workflow(engine, t.tenant.id, definition)
        run = await engine.start_run(t.tenant.id, workflow_id, {}, None)
        doomed = engine_process(database_conninfo, "execute", run.id, "1.0")
        await asyncio.to_thread(reached.wait, 60)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        assert (await load_run(engine, t.tenant.id, run.id)).status == RunStatus.RUNNING  # lease still held
        release.set()

        rescuer = await asyncio.to_thread(finished, engine_process(database_conninfo, "recover", "", "5.0"))
        assert rescuer["recovered"] == [run.id]
    finally:
        release.set()
        server.stop()
    done = await load_run(engine, t.tenant.id, run.id)
    assert done.status == RunStatus.COMPLETED and done.payload == {
        "a": "prepared",
        "b": {"ok": True},
        "eawe_approvals": {},
    }
    assert done.attempts == 2
    actions = await audit_actions(engine, t.tenant.id, run.id)
    assert [a for a, _ in actions].count("NODE_FINISHED") == 2  # "prepare" was not run again
    assert calls == ["/erp", "/erp"]
