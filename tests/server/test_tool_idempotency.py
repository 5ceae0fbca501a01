"""Every ``tool`` call sends an ``Idempotency-Key`` that is the same whenever the same step re-runs
(an in-run retry, a retry of the run from its checkpoint) and differs between steps and runs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.engine.stub_http import RecordedRequest, StubHTTPServer
from tests.server.sample_workflows import create_and_publish, linear, start_run, wait_for_status


@pytest.fixture
def endpoint() -> Iterator[StubHTTPServer]:
    """Answers 503 to the first ``failures`` calls of each path, then 200."""
    seen: dict[str, int] = {}
    failures = {"/flaky": 3}

    def respond(request: RecordedRequest) -> tuple[int, object]:
        path = request.path.split("?")[0]
        seen[path] = seen.get(path, 0) + 1
        if seen[path] <= failures.get(path, 0):
            return 503, {"error": "try again"}
        return 200, {"path": path}

    stub = StubHTTPServer(respond).start()
    yield stub
    stub.stop()


def _two_calls(base_url: str) -> dict:
    return linear(
        {"topic": {"type": "string"}, "a": {"type": "any"}, "b": {"type": "any"}},
        [
            {
                "id": "first",
                "type": "tool",
                "config": {"request": {"method": "POST", "url": f"{base_url}/flaky"}, "output": "a"},
                "retry": {"max_attempts": 2},
            },
            {
                "id": "second",
                "type": "tool",
                "config": {"request": {"method": "POST", "url": f"{base_url}/steady"}, "output": "b"},
            },
        ],
    )


def _keys(stub: StubHTTPServer, path: str) -> list[str]:
    return [r.headers.get("idempotency-key", "") for r in stub.requests if r.path.startswith(path)]


async def test_same_step_resends_the_same_key(
    client: httpx.AsyncClient, api_tenant, endpoint: StubHTTPServer
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, _two_calls(endpoint.base_url))
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "x"})
    # Two attempts inside the run both get 503: the run pauses with the error on "first".
    errored = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_WITH_ERROR")
    assert errored["error"]["node_id"] == "first"
    assert len(_keys(endpoint, "/flaky")) == 2
    # Retrying the run re-executes the same task from its checkpoint (3rd call: 503, 4th: 200).
    retried = await client.post(f"/v1/runs/{run['id']}/retry", headers=tenant.operator)
    assert retried.status_code == 202, retried.text
    await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")

    flaky = _keys(endpoint, "/flaky")
    assert len(flaky) == 4 and flaky[0], flaky
    assert set(flaky) == {flaky[0]}, f"re-executions of one step sent different keys: {flaky}"
    steady = _keys(endpoint, "/steady")
    assert len(steady) == 1 and steady[0] and steady[0] != flaky[0]

    # Another run of the same workflow is another effect: a new key.
    second = await start_run(client, tenant.operator, workflow_id, {"topic": "y"})
    await wait_for_status(client, tenant.operator, second["id"], "COMPLETED")
    later = _keys(endpoint, "/steady")
    assert len(later) == 2 and later[1] not in (steady[0], flaky[0])


async def test_key_set_in_the_definition_wins(
    client: httpx.AsyncClient, api_tenant, endpoint: StubHTTPServer
) -> None:
    tenant = await api_tenant()
    definition = linear(
        {"order": {"type": "string"}, "a": {"type": "any"}},
        [
            {
                "id": "call",
                "type": "tool",
                "config": {
                    "request": {
                        "method": "POST",
                        "url": f"{endpoint.base_url}/steady",
                        "headers": {"Idempotency-Key": "order-{order}"},
                    },
                    "output": "a",
                },
            }
        ],
    )
    workflow_id = await create_and_publish(client, tenant.designer, definition)
    run = await start_run(client, tenant.operator, workflow_id, {"order": "42"})
    await wait_for_status(client, tenant.operator, run["id"], "COMPLETED")
    assert _keys(endpoint, "/steady") == ["order-42"]
