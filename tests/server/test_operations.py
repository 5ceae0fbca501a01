"""/metrics (parsed), node usage rows from the local model, request ids, JSON logs without secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update

from agents.context import NodeContext, Principal, RunContext
from agents.models.factory import LocalChatModelFactory
from eawe.db.models import HITLTask
from eawe.db.repositories.usage import run_usage
from eawe.db.tenant_scope import system_scope
from eawe.settings import ModelPrice, Settings
from eawe.telemetry.logs import configure_logging
from graphs.node_observer import observe_node
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status

METRICS_TOKEN = "scrape-token-0123456789abcdef"

DRAFT_THEN_REVIEW = linear(
    {"topic": {"type": "string", "required": True}, "draft": {"type": "string"}},
    [
        {"id": "draft", "type": "llm", "config": {"prompt": "Write about {topic}.", "output": "draft"}},
        {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "draft"}},
    ],
)


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    prices = {"eawe-local-extractive": ModelPrice(input_per_million=1000, output_per_million=2000)}
    return settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN), "model_prices": prices})


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_need_the_token_and_report_runs_nodes_hitl_and_http(
    client: httpx.AsyncClient, api_tenant, database
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, DRAFT_THEN_REVIEW)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "budgets"})
    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:  # make its task overdue
            await session.execute(
                update(HITLTask)
                .where(HITLTask.id == paused["pending_tasks"][0])
                .values(due_at=datetime(2020, 1, 1))
            )

    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("application/problem+json")
    # a tenant administrator's token does not open the cross-tenant figures either
    assert (await client.get("/metrics", headers=tenant.admin)).status_code == 401

    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("eawe_runs", (("status", "PAUSED_FOR_APPROVAL"),))] >= 1
    assert ("eawe_runs", (("status", "CANCELLED"),)) in samples  # every status is reported
    assert samples[("eawe_hitl_tasks_pending", ())] >= 1
    assert samples[("eawe_hitl_tasks_overdue", ())] >= 1
    assert ("eawe_run_queue_depth", ()) in samples and ("eawe_lease_recoveries_total", ()) in samples
    assert ("eawe_hitl_escalations_total", ()) in samples
    node_count = samples[
        ("eawe_node_duration_seconds_count", (("node_type", "llm"), ("outcome", "completed")))
    ]
    assert node_count >= 1
    assert samples[
        ("eawe_node_duration_seconds_count", (("node_type", "approval"), ("outcome", "interrupted")))
    ]
    created = samples[
        ("eawe_http_requests_total", (("method", "POST"), ("route", "/v1/runs"), ("status", "202")))
    ]
    assert created >= 1
    polled = samples[
        ("eawe_http_requests_total", (("method", "GET"), ("route", "/v1/runs/{run_id}"), ("status", "200")))
    ]
    assert polled >= 1
    assert run["id"] not in response.text  # route templates, never raw paths


async def test_node_usage_is_recorded_per_execution_and_summed_per_run(
    client: httpx.AsyncClient, api_tenant, database
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, DRAFT_THEN_REVIEW)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "travel"})
    await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    with system_scope():  # test setup/inspection as the operator
        async with database.session() as session:
            usage = await run_usage(session, tenant.tenant_id, run["id"])
            other = await run_usage(session, "some-other-tenant", run["id"])
    by_node = {e["node_id"]: e for e in usage["node_executions"]}
    assert set(by_node) == {"draft", "review"}
    assert by_node["draft"]["outcome"] == "completed" and by_node["review"]["outcome"] == "interrupted"
    local = by_node["draft"]["token_usage"]["eawe-local-extractive"]
    assert local["input_tokens"] > 0 and local["output_tokens"] > 0
    assert local["total_tokens"] == local["input_tokens"] + local["output_tokens"]
    assert usage["total_tokens"] == local["total_tokens"] and by_node["review"]["token_usage"] == {}
    assert usage["duration_ms"] == sum(e["duration_ms"] for e in usage["node_executions"])
    assert other["node_executions"] == []  # scoped by tenant


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "req-abc.123"})
    assert given.headers["x-request-id"] == "req-abc.123"
    made = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 32


async def test_json_logs_carry_ids_and_never_a_secret() -> None:
    canary = "canary-secret-7f3a9c"
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("json", stream=stream)
    try:
        run = RunContext(
            tenant_id="t-1",
            principal=Principal(user_id="u-1"),
            chat_models=LocalChatModelFactory(),
            run_id="r-1",
        )
        run.scrubber.add(canary)  # as NodeContext.secret() does when a node reveals a credential
        ctx = NodeContext("fetch", run)
        log = logging.getLogger("tests.plugin_node")

        async def leaky_node() -> dict[str, str]:
            log.warning("calling the API with key %s", canary)
            log.info("request headers", extra={"api_key": canary})
            return {}

        await observe_node("custom", ctx, leaky_node)
        log.info("after the node")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = [
        line
        for line in lines
        if line.get("logger") == "tests.plugin_node" and line["event"] != "after the node"
    ]
    assert len(inside) == 2
    for line in inside:
        assert (line["tenant_id"], line["run_id"], line["node_id"]) == ("t-1", "r-1", "fetch")
        assert (
            line["level"] in ("warning", "info") and datetime.fromisoformat(line["timestamp"]).tzinfo == UTC
        )
    assert "[REDACTED]" in inside[0]["event"]
    after = next(line for line in lines if line["event"] == "after the node")
    assert "node_id" not in after  # ids leave with the node
    assert canary not in stream.getvalue()


async def test_usage_endpoint_sums_tokens_and_prices_them_per_tenant(
    client: httpx.AsyncClient, api_tenant
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, DRAFT_THEN_REVIEW)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "costs"})
    await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    response = await client.get("/v1/usage", headers=tenant.admin)
    assert response.status_code == 200, response.text
    body = response.json()
    [item] = body["items"]
    assert item["model"] == "eawe-local-extractive" and item["node_executions"] == 1
    expected = (item["input_tokens"] * 1000 + item["output_tokens"] * 2000) / 1e6
    assert (
        item["input_tokens"] > 0
        and item["cost"] == pytest.approx(expected)
        and body["total_cost"] == item["cost"]
    )
    assert body["node_executions"] == 2 and body["unpriced_models"] == []
    other = await api_tenant()
    assert (await client.get("/v1/usage", headers=other.admin)).json()["items"] == []
    assert (await client.get("/v1/usage", headers=tenant.operator)).status_code == 403
    future = await client.get("/v1/usage", headers=tenant.admin, params={"since": "2999-01-01T00:00:00Z"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "since"
