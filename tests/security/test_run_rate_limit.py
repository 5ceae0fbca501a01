"""The per-tenant run rate limit is exact under concurrency (issue 13, finding 7).

Before: the limit counted the tenant's runs and created the run in separate steps, so a burst of
concurrent requests let 4–6 extra runs a minute through. Now each admission is a locked
count-and-insert in PostgreSQL.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from eawe.settings import Settings
from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT, create_and_publish

PER_MINUTE = 5
BURST = 30


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_rate_limit_per_minute": PER_MINUTE})


@pytest.fixture(scope="module")
def run_worker() -> bool:
    return False  # queued runs are enough; nothing needs to execute


async def test_a_concurrent_burst_admits_exactly_the_limit(client: httpx.AsyncClient, api_tenant) -> None:
    tenant, other = await api_tenant(), await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT)
    other_workflow = await create_and_publish(client, other.designer, REVIEWED_DRAFT)

    async def start(index: int) -> httpx.Response:
        if index % 3 == 0:  # the Agent-Protocol route shares the tenant's budget
            return await client.post(
                "/runs", headers=tenant.operator, json={"assistant_id": workflow_id, "input": {"topic": "t"}}
            )
        return await client.post(
            "/v1/runs", headers=tenant.operator, json={"workflow_id": workflow_id, "input": {"topic": "t"}}
        )

    responses = await asyncio.gather(*(start(i) for i in range(BURST)))
    statuses = sorted(r.status_code for r in responses)
    admitted = [r for r in responses if r.status_code in (200, 202)]
    assert len(admitted) == PER_MINUTE, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == BURST - PER_MINUTE, statuses
    for response in refused:
        assert_problem(response, 429)
        assert 1 <= int(response.headers["retry-after"]) <= 61

    runs = (await client.get("/v1/runs", headers=tenant.operator, params={"limit": 100})).json()["items"]
    assert len(runs) == PER_MINUTE
    # Another tenant's budget is its own.
    quiet = await client.post(
        "/v1/runs", headers=other.operator, json={"workflow_id": other_workflow, "input": {"topic": "t"}}
    )
    assert quiet.status_code == 202, quiet.text
