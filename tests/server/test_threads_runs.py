"""A thread holds many runs: multi-turn code graphs, fork, update_state, copy, multitask strategies
under concurrency, interrupts and resumes, crons firing, signed webhooks, tenant isolation.

Driven by the official ``langgraph-sdk`` over a real uvicorn server on real PostgreSQL, serving
the code graphs of ``tests/server/code_graphs/langgraph.json`` (as ``eawe serve --graphs`` does).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import ConflictError, NotFoundError
from sqlalchemy import select, update

from eawe.db.models import Cron, Role, WorkflowRun, utcnow
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from tests.engine.stub_http import StubHTTPServer

GRAPHS = Path(__file__).parent / "code_graphs" / "langgraph.json"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    from pydantic import SecretStr

    return settings.model_copy(update={"graphs_config": GRAPHS, "webhook_secret": SecretStr(WEBHOOK_SECRET)})


async def _sdk(client: httpx.AsyncClient, live_url: str, tenant: Any, role: Role = Role.OPERATOR) -> Any:
    user = tenant.users[role]
    created = await client.post(
        "/v1/api-keys", headers=tenant.headers[Role.ADMINISTRATOR], json={"name": "sdk", "user_id": user.id}
    )
    assert created.status_code == 201, created.text
    return get_client(url=live_url, api_key=created.json()["key"])


def _texts(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in values["messages"]]


async def test_multi_turn_thread_fork_update_state_and_copy(live_url, client, api_tenant) -> None:
    sdk = await _sdk(client, live_url, await api_tenant())
    thread = await sdk.threads.create(thread_id="conversation-1", metadata={"topic": "turns"})
    assert thread["thread_id"] == "conversation-1" and thread["status"] == "idle"
    with pytest.raises(ConflictError):
        await sdk.threads.create(thread_id="conversation-1")
    again = await sdk.threads.create(thread_id="conversation-1", if_exists="do_nothing")
    assert again["thread_id"] == "conversation-1"

    first = await sdk.runs.wait(
        "conversation-1", "chat", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert _texts(first) == [("human", "hi"), ("ai", "echo: hi")] and first["turns"] == 1
    second = await sdk.runs.wait(
        "conversation-1", "chat", input={"messages": [{"role": "user", "content": "more"}]}
    )
    assert _texts(second)[2:] == [("human", "more"), ("ai", "echo: more")] and second["turns"] == 2
    runs = await sdk.runs.list("conversation-1")
    assert len(runs) == 2 and {r["status"] for r in runs} == {"success"}
    got = await sdk.threads.get("conversation-1")
    assert got["status"] == "idle" and len(got["values"]["messages"]) == 4
    assert got["metadata"]["topic"] == "turns" and got["metadata"]["graph_id"] == "chat"

    # Every checkpoint names its run, thread and graph.
    history = await sdk.threads.get_history("conversation-1", limit=20)
    first_run = runs[-1]["run_id"]
    assert {h["metadata"]["run_id"] for h in history} == {r["run_id"] for r in runs}
    assert all(h["metadata"]["graph_id"] == "chat" and h["metadata"]["assistant_id"] for h in history)
    assert {h["checkpoint"]["thread_id"] for h in history} == {"conversation-1"}
    only_first = await sdk.threads.get_history("conversation-1", limit=20, metadata={"run_id": first_run})
    assert only_first and all(h["metadata"]["run_id"] == first_run for h in only_first)

    # Fork: continue from the end of the first turn with other input; the second turn is not in it.
    after_first = next(h for h in history if h["values"].get("turns") == 1 and not h["next"])
    fork = await sdk.runs.wait(
        "conversation-1",
        "chat",
        input={"messages": [{"role": "user", "content": "instead"}]},
        checkpoint_id=after_first["checkpoint"]["checkpoint_id"],
    )
    assert [c for _, c in _texts(fork)] == ["hi", "echo: hi", "instead", "echo: instead"]

    # update_state as a node, then read it back (also at the checkpoint it wrote).
    updated = await sdk.threads.update_state(
        "conversation-1", {"messages": [{"role": "ai", "content": "edited"}]}, as_node="reply"
    )
    state = await sdk.threads.get_state("conversation-1")
    assert state["values"]["messages"][-1]["content"] == "edited"
    assert state["checkpoint"]["checkpoint_id"] == updated["checkpoint"]["checkpoint_id"]
    with pytest.raises(httpx.HTTPStatusError):
        await sdk.threads.update_state("conversation-1", {"messages": []}, as_node="no-such-node")

    copied = await sdk.threads.copy("conversation-1")
    assert copied["thread_id"] != "conversation-1"
    copy_state = await sdk.threads.get_state(copied["thread_id"])
    assert copy_state["values"]["messages"][-1]["content"] == "edited"
    assert len(await sdk.threads.get_history(copied["thread_id"], limit=50)) == len(
        await sdk.threads.get_history("conversation-1", limit=50)
    )
    await sdk.threads.update(copied["thread_id"], metadata={"copied": True})
    assert (await sdk.threads.get(copied["thread_id"]))["metadata"]["copied"] is True
    await sdk.threads.delete(copied["thread_id"])
    with pytest.raises(NotFoundError):
        await sdk.threads.get(copied["thread_id"])
    await sdk.aclose()


async def _wait_status(sdk: Any, thread_id: str, run_id: str, wanted: set[str], seconds: float = 30) -> str:
    for _ in range(int(seconds * 10)):
        status = (await sdk.runs.get(thread_id, run_id))["status"]
        if status in wanted:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} stayed {status}")


async def test_a_thread_created_on_demand_and_a_thread_made_for_a_run(live_url, client, api_tenant) -> None:
    sdk = await _sdk(client, live_url, await api_tenant())
    # A client-chosen thread created by its first run: the run has an id of its own.
    run = await sdk.runs.create(
        "on-demand-1", "chat", input={"messages": [{"role": "user", "content": "hi"}]}, if_not_exists="create"
    )
    assert run["thread_id"] == "on-demand-1" and run["run_id"] != "on-demand-1"
    await sdk.runs.join("on-demand-1", run["run_id"])
    thread = await sdk.threads.get("on-demand-1")
    assert thread["status"] == "idle" and thread["metadata"]["graph_id"] == "chat"
    # A run without a thread gets a new thread, busy from the start, under the run's own id.
    made = await sdk.runs.create(None, "chat", input={"messages": [{"role": "user", "content": "yo"}]})
    assert made["thread_id"] == made["run_id"]
    await sdk.runs.join(made["thread_id"], made["run_id"])
    settled = await sdk.threads.get(made["thread_id"])
    assert settled["status"] == "idle" and settled["metadata"]["assistant_id"] == made["assistant_id"]
    assert [r["run_id"] for r in await sdk.runs.list(made["thread_id"])] == [made["run_id"]]


async def test_multitask_strategies_under_concurrency(live_url, client, api_tenant, database) -> None:
    sdk = await _sdk(client, live_url, await api_tenant())
    slow = {"configurable": {"delay": 1.5, "label": "A"}}

    # reject: of runs started at once on one idle thread, exactly one is accepted.
    thread = (await sdk.threads.create())["thread_id"]
    results = await asyncio.gather(
        *(sdk.runs.create(thread, "slow", input={}, config=slow) for _ in range(4)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, dict)]
    assert len(accepted) == 1 and all(isinstance(r, ConflictError) for r in results if r not in accepted)
    await sdk.runs.join(thread, accepted[0]["run_id"])

    # enqueue: all are accepted and run one after another, in order.
    thread = (await sdk.threads.create())["thread_id"]
    queued = []
    for label in "ABC":
        queued.append(
            await sdk.runs.create(
                thread,
                "slow",
                input={},
                config={"configurable": {"delay": 0.3, "label": label}},
                multitask_strategy="enqueue",
            )
        )
    for run in queued:
        await sdk.runs.join(thread, run["run_id"])
    state = await sdk.threads.get_state(thread)
    assert state["values"]["steps"] == ["A", "A", "B", "B", "C", "C"]
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            rows = (await session.scalars(select(WorkflowRun).where(WorkflowRun.thread_id == thread))).all()
    spans = sorted((r.started_at, r.completed_at) for r in rows)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))

    # interrupt: the running run stops (interrupted), the new one runs on the thread.
    thread = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread, "slow", input={}, config=slow)
    await _wait_status(sdk, thread, first["run_id"], {"running"})
    second = await sdk.runs.create(
        thread, "slow", input={}, config={"configurable": {"label": "B"}}, multitask_strategy="interrupt"
    )
    await sdk.runs.join(thread, second["run_id"])
    assert await _wait_status(sdk, thread, first["run_id"], {"interrupted", "success"}) == "interrupted"
    assert (await sdk.runs.get(thread, second["run_id"]))["status"] == "success"

    # rollback: the interrupted run's checkpoints are gone, as if it never ran.
    thread = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread, "slow", input={}, config={"configurable": {"label": "base"}})
    first = await sdk.runs.create(thread, "slow", input={}, config=slow)
    await _wait_status(sdk, thread, first["run_id"], {"running"})
    second = await sdk.runs.create(
        thread, "slow", input={}, config={"configurable": {"label": "B"}}, multitask_strategy="rollback"
    )
    await sdk.runs.join(thread, second["run_id"])
    history = await sdk.threads.get_history(thread, limit=50)
    assert first["run_id"] not in {h["metadata"].get("run_id") for h in history}
    assert (await sdk.threads.get_state(thread))["values"]["steps"] == ["base", "base", "B", "B"]
    await sdk.aclose()


async def test_interrupts_resume_cancel_and_stream_modes(live_url, client, api_tenant) -> None:
    sdk = await _sdk(client, live_url, await api_tenant())
    thread = (await sdk.threads.create())["thread_id"]
    parts = [
        (p.event, p.data)
        async for p in sdk.runs.stream(
            thread,
            "asker",
            input={"question": "colour?"},
            stream_mode=["values", "updates", "debug", "tasks"],
        )
    ]
    names = {name for name, _ in parts}
    assert {"metadata", "updates", "debug", "tasks"} <= names, names
    interrupt = next(d for n, d in parts if n == "updates" and "__interrupt__" in d)["__interrupt__"]
    assert interrupt[0]["value"] == {"question": "colour?"}
    got = await sdk.threads.get(thread)
    assert (
        got["status"] == "interrupted"
        and next(iter(got["interrupts"].values()))[0]["value"]["question"] == "colour?"
    )
    resumed = await sdk.runs.wait(thread, "asker", command={"resume": "blue"})
    assert resumed["answer"] == "blue"
    assert (await sdk.threads.get(thread))["status"] == "idle"

    # interrupt_before stops ahead of the node; a run with no input continues.
    thread = (await sdk.threads.create())["thread_id"]
    stopped = await sdk.runs.wait(
        thread, "chat", input={"messages": [{"role": "user", "content": "x"}]}, interrupt_before=["reply"]
    )
    assert _texts(stopped) == [("human", "x")]
    assert (await sdk.threads.get(thread))["status"] == "interrupted"
    done = await sdk.runs.wait(thread, "chat", input=None)
    assert _texts(done)[-1] == ("ai", "echo: x")

    # Messages stream as LangChain messages; a bad stream mode is a 422 naming the field.
    thread = (await sdk.threads.create())["thread_id"]
    parts = [
        (p.event, p.data)
        async for p in sdk.runs.stream(
            thread,
            "chat",
            input={"messages": [{"role": "user", "content": "m"}]},
            stream_mode="messages-tuple",
        )
    ]
    message, metadata = next(d for n, d in parts if n == "messages")
    assert (
        message["type"] == "ai" and message["content"] == "echo: m" and metadata["langgraph_node"] == "reply"
    )
    bad = await client.post(
        f"/threads/{thread}/runs",
        headers=await _headers(sdk),
        json={"assistant_id": "chat", "stream_mode": "nope"},
    )
    assert bad.status_code == 422 and "stream_mode" in bad.text

    # Cancel a running run; the factory graph gets a store in its runtime.
    slow_thread = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(slow_thread, "slow", input={}, config={"configurable": {"delay": 5}})
    await _wait_status(sdk, slow_thread, run["run_id"], {"running"})
    await sdk.runs.cancel(slow_thread, run["run_id"], wait=True)
    assert (await sdk.runs.get(slow_thread, run["run_id"]))["status"] == "interrupted"
    made = await sdk.runs.wait(None, "made", input={"text": "hi"})
    assert made == {"text": "hi echoed", "has_store": True}
    await sdk.aclose()


async def _headers(sdk: Any) -> dict[str, str]:
    return {"x-api-key": sdk.http.client.headers["x-api-key"]}


async def test_assistants_crud_versions_and_tenant_isolation(live_url, client, api_tenant) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    designer = await _sdk(client, live_url, tenant, Role.DESIGNER)
    found = await designer.assistants.search(graph_id="chat")
    assert [a["graph_id"] for a in found] == ["chat"] and found[0]["metadata"]["created_by"] == "system"
    made = await designer.assistants.create(
        "chat", config={"configurable": {"tone": "dry"}}, name="Dry chat", metadata={"team": "x"}
    )
    assert made["version"] == 1
    patched = await designer.assistants.update(made["assistant_id"], metadata={"stage": "b"})
    assert patched["version"] == 2 and patched["metadata"] == {"team": "x", "stage": "b"}
    versions = await designer.assistants.get_versions(made["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    latest = await designer.assistants.set_latest(made["assistant_id"], 1)
    assert latest["version"] == 1 and latest["metadata"] == {"team": "x"}
    assert [a["name"] for a in await designer.assistants.search(metadata={"team": "x"})] == ["Dry chat"]
    assert await designer.assistants.count(graph_id="chat") == 2
    with pytest.raises(httpx.HTTPStatusError):
        await designer.assistants.create("no-such-graph")
    schemas = await designer.assistants.get_schemas("chat")
    assert "messages" in json.dumps(schemas["input_schema"])

    operator = await _sdk(client, live_url, tenant)
    thread = (await operator.threads.create())["thread_id"]
    await operator.runs.wait(
        thread, made["assistant_id"], input={"messages": [{"role": "user", "content": "a"}]}
    )
    outsider = await _sdk(client, live_url, other)
    for call in (
        outsider.threads.get(thread),
        outsider.threads.get_state(thread),
        outsider.runs.list(thread),
        outsider.assistants.get(made["assistant_id"]),
        outsider.runs.create(thread, "chat", input={}),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert thread not in {t["thread_id"] for t in await outsider.threads.search(limit=100)}
    # The same client-chosen id in another tenant is refused without telling anything about it.
    with pytest.raises(ConflictError):
        await outsider.threads.create(thread_id=thread)
    await designer.assistants.delete(made["assistant_id"])
    with pytest.raises(NotFoundError):
        await designer.assistants.get(made["assistant_id"])
    for sdk in (designer, operator, outsider):
        await sdk.aclose()


async def test_crons_fire_and_webhooks_are_signed(live_url, client, api_tenant, database) -> None:
    received: list[Any] = []
    stub = StubHTTPServer(lambda request: (received.append(request) or 200, {"ok": True})).start()
    try:
        sdk = await _sdk(client, live_url, await api_tenant())
        thread = (await sdk.threads.create())["thread_id"]
        done = await sdk.runs.wait(
            thread,
            "chat",
            input={"messages": [{"role": "user", "content": "hook"}]},
            webhook=f"{stub.base_url}/hook",
        )
        assert done["turns"] == 1
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        hook = received[0]
        assert hook.path == "/hook" and hook.body["status"] == "success" and hook.body["thread_id"] == thread
        stamp, signature = (part.split("=", 1)[1] for part in hook.headers["x-eawe-signature"].split(","))
        body = json.dumps(hook.body, default=str).encode()
        expected = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)

        cron = await sdk.crons.create_for_thread(
            thread, "chat", schedule="0 0 1 1 *", input={"messages": [{"role": "user", "content": "tick"}]}
        )
        assert cron["next_run_date"] and [c["cron_id"] for c in await sdk.crons.search(thread_id=thread)] == [
            cron["cron_id"]
        ]
        with pytest.raises(httpx.HTTPStatusError):
            await sdk.crons.create("chat", schedule="not a schedule")
        with system_scope():  # test setup/inspection as the operator
            async with database.transaction() as session:  # time passes: the tick is due
                await session.execute(
                    update(Cron).where(Cron.id == cron["cron_id"]).values(next_run_at=utcnow())
                )
        for _ in range(150):
            runs = await sdk.runs.list(thread)
            if len(runs) == 2 and runs[0]["status"] == "success":
                break
            await asyncio.sleep(0.1)
        assert len(runs) == 2 and runs[0]["status"] == "success"
        assert _texts((await sdk.threads.get_state(thread))["values"])[-1] == ("ai", "echo: tick")
        with system_scope():  # test setup/inspection as the operator
            async with database.session() as session:
                row = await session.scalar(select(Cron).where(Cron.id == cron["cron_id"]))
        assert row is not None and row.next_run_at is not None and row.next_run_at > utcnow()
        await sdk.crons.delete(cron["cron_id"])
        assert await sdk.crons.search(thread_id=thread) == []
        await sdk.aclose()
    finally:
        stub.stop()
