"""The crash loop (issue 13): kill -9 the worker and the server process mid-run, again and again,
against a receiver that honours idempotency keys. No effect happens twice, no run is stuck.

Two engine processes execute the runs: "server" and "worker" (``tests.engine.worker_process``,
the same engine and RunWorker ``eawe serve`` and ``eawe worker`` run). Their leases are 60 s, so
runs only finish within the bounded wait below if a dead process's runs are reclaimed through its
liveness lock, not its lease. Each run calls the receiver before and after an approval; this test
process decides the approvals, and some kills land 0.1-0.3 s after a decision.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from checkpoints import RunEngine
from eawe.db.models import HITLStatus, HITLTask, Role, RunStatus, WorkflowRun
from eawe.db.tenant_scope import system_scope
from tests.engine.conftest import linear, publish_workflow
from tests.engine.idempotent_receiver import IdempotentReceiver

ROOT = Path(__file__).resolve().parents[2]
RUNS = 8
ROUNDS = 6  # kills: alternately the worker and the server, mid-call or just after a decision
LEASE_SECONDS = 60.0
SETTLE_SECONDS = 40.0  # bound on the wait for every run after the last restart (< the lease)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[str]
    worker_id: str


def _start(conninfo: str, name: str) -> Process:
    popen = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.worker_process", conninfo, name, str(LEASE_SECONDS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert popen.stdout is not None
    line = popen.stdout.readline()
    assert line, f"{name} process exited before it was ready (code {popen.poll()})"
    return Process(name, popen, json.loads(line)["ready"])


def _effect_workflow(url: str) -> dict[str, Any]:
    def call(step: str, output: str) -> dict[str, Any]:
        return {
            "id": step,
            "type": "tool",
            "config": {
                "request": {"method": "POST", "url": url, "json_body": {"run": "{tag}", "step": step}},
                "output": output,
            },
        }

    return linear(
        {"tag": {"type": "string"}, "first": {}, "second": {}},
        [
            call("before", "first"),
            {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "first"}},
            call("after", "second"),
        ],
    )


async def _runs(engine: RunEngine, run_ids: list[str]) -> dict[str, WorkflowRun]:
    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.session() as session:
            rows = await session.scalars(select(WorkflowRun).where(WorkflowRun.id.in_(run_ids)))
            return {run.id: run for run in rows.all()}


async def _decide_one(engine: RunEngine, tenant_id: str, actor_id: str, run_ids: list[str]) -> str | None:
    """Approve one open task of these runs; returns its run id."""
    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.session() as session:
            task = await session.scalar(
                select(HITLTask)
                .where(HITLTask.workflow_run_id.in_(run_ids), HITLTask.status == HITLStatus.PENDING)
                .order_by(HITLTask.created_at)
                .limit(1)
            )
    if task is None:
        return None
    await engine.decide(tenant_id, task.id, {"decision": "approve"}, actor_id=actor_id)
    return task.workflow_run_id


async def test_kill_9_of_server_and_worker_repeats_no_effect_and_strands_no_run(
    engine: RunEngine, tenant_factory: Any, database_conninfo: str
) -> None:
    t = await tenant_factory(users=[("op@x.io", Role.OPERATOR, [])])
    actor = t.user("op@x.io").id
    receiver = IdempotentReceiver(delay_s=0.5).start()
    rng = random.Random(13)
    processes: dict[str, Process] = {}
    kills: list[dict[str, Any]] = []
    restarts: dict[str, asyncio.Task[Process]] = {}
    try:
        workflow_id = await publish_workflow(
            engine, t.tenant.id, _effect_workflow(f"{receiver.base_url}/effects")
        )
        started = await asyncio.gather(
            *(asyncio.to_thread(_start, database_conninfo, name) for name in ("server", "worker"))
        )
        processes = {process.name: process for process in started}
        run_ids = [
            (await engine.start_run(t.tenant.id, workflow_id, {"tag": f"r{i}"}, None)).id for i in range(RUNS)
        ]
        tag_of = {run_id: f"r{i}" for i, run_id in enumerate(run_ids)}
        run_of = {tag: run_id for run_id, tag in tag_of.items()}

        for round_no in range(ROUNDS):
            name = "worker" if round_no % 2 == 0 else "server"
            if name in restarts:  # restarted in the background since its last kill
                processes[name] = await restarts.pop(name)
            victim = processes[name]
            after_decision = round_no % 3 == 2
            live = {p.worker_id for n, p in processes.items() if n not in restarts}
            target: str | None = None
            deadline = time.monotonic() + 6
            while target is None and time.monotonic() < deadline:
                runs = await _runs(engine, run_ids)
                _, in_flight = receiver.snapshot()
                owners = {runs[run_of[body["run"]]].lease_owner for body in in_flight.values()} & live
                busy = any(r.status in (RunStatus.PENDING, RunStatus.RUNNING) for r in runs.values())
                if after_decision or not (owners or busy):
                    decided = await _decide_one(engine, t.tenant.id, actor, run_ids)
                    if decided is not None and after_decision:
                        await asyncio.sleep(rng.uniform(0.1, 0.3))
                        until = time.monotonic() + 2  # a cold process may not have claimed it yet
                        while (owner := (await _runs(engine, [decided]))[decided].lease_owner) not in live:
                            if time.monotonic() > until:
                                break
                            await asyncio.sleep(0.02)
                        target = owner if owner in live else None
                elif victim.worker_id in owners or (owners and time.monotonic() > deadline - 3):
                    target = victim.worker_id if victim.worker_id in owners else owners.pop()
                if target is None:
                    await asyncio.sleep(0.02)
            if target is None:
                continue  # nothing in flight right now; next round
            victim = next(p for p in processes.values() if p.worker_id == target)
            runs = await _runs(engine, run_ids)
            held = [r.id for r in runs.values() if r.status == RunStatus.RUNNING and r.lease_owner == target]
            victim.popen.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            victim.popen.wait(timeout=30)
            # Restart it in the background; meanwhile the survivor takes the dead worker's runs over.
            restarts[victim.name] = asyncio.create_task(
                asyncio.to_thread(_start, database_conninfo, victim.name)
            )
            while True:  # reclaimed: no run is left RUNNING under the dead worker's lease
                runs = await _runs(engine, held)
                if not any(r.status == RunStatus.RUNNING and r.lease_owner == target for r in runs.values()):
                    break
                assert time.monotonic() - killed_at < SETTLE_SECONDS, f"runs of {target} never reclaimed"
                await asyncio.sleep(0.05)
            reclaimed_after = time.monotonic() - killed_at
            kills.append(
                {
                    "victim": victim.name,
                    "when": "after a decision" if after_decision else "mid-call",
                    "runs held": len(held),
                    "reclaimed after s": round(reclaimed_after, 2),
                }
            )

        for name, restart in list(restarts.items()):
            processes[name] = await restart
            del restarts[name]
        settle_deadline = time.monotonic() + SETTLE_SECONDS  # after the last restart
        while True:
            runs = await _runs(engine, run_ids)
            if all(r.status == RunStatus.COMPLETED for r in runs.values()):
                break
            stuck = {r.id: r.status.value for r in runs.values() if r.status != RunStatus.COMPLETED}
            assert time.monotonic() < settle_deadline, f"runs stuck after the last restart: {stuck}"
            assert not any(r.status == RunStatus.PAUSED_WITH_ERROR for r in runs.values()), stuck
            await _decide_one(engine, t.tenant.id, actor, run_ids)
            await asyncio.sleep(0.1)
    finally:
        for name, restart in restarts.items():
            processes[name] = await restart
        for process in processes.values():
            process.popen.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        receiver.stop()

    effects, _ = receiver.snapshot()
    per_step = collections.Counter((e.body["run"], e.body["step"]) for e in effects)
    keys = collections.Counter(e.key for e in effects)
    print(
        f"\ncrash loop: {len(kills)} kills, {receiver.requests} requests, {len(effects)} effects, "
        f"{receiver.duplicates_dropped} duplicate requests dropped by key "
        f"(without keys: {receiver.duplicates_dropped}/{RUNS * 2} duplicate effects)"
    )
    for kill in kills:
        print(f"  kill -9 {kill}")
    assert len(kills) >= 4, kills  # the loop really crashed processes mid-run
    assert {k["victim"] for k in kills} == {"server", "worker"}, kills
    assert all(key for key in keys) and max(keys.values()) == 1  # every effect carried its own key
    expected = {(tag, step) for tag in run_of for step in ("before", "after")}
    duplicates = {pair: n for pair, n in per_step.items() if n != 1}
    assert set(per_step) == expected and not duplicates, duplicates  # each effect exactly once
    final = await _runs(engine, run_ids)
    for run in final.values():
        assert run.payload["first"]["received"] == {"run": tag_of[run.id], "step": "before"}
        assert run.payload["second"]["received"] == {"run": tag_of[run.id], "step": "after"}
