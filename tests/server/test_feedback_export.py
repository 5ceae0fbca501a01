"""The feedback dataset (issue 11, item 6): ``GET /v1/feedback/corrections`` and ``eawe hitl export``.

Real decisions are made through the API (approve, reject with a reason, edit); the endpoint and
the command line (a real subprocess on the module's database) then return the same records.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from eawe.db.database import Database
from eawe.db.models import Role
from eawe.db.repositories.feedback import CorrectionFilters
from eawe.feedback_dataset import iter_corrections
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS
from tests.server.api_tenants import ApiTenant, assert_problem
from tests.server.sample_workflows import (
    REVIEWED_DRAFT,
    create_and_publish,
    linear,
    start_run,
    wait_for_status,
)

EAWE = [sys.executable, "-m", "cli"]

ADMIN_REVIEWED = linear(
    {"topic": {"type": "string", "required": True}, "draft": {"type": "string"}},
    [
        {"id": "write", "type": "transform", "config": {"set": {"draft": "Secret about {topic}"}}},
        {
            "id": "sign_off",
            "type": "approval",
            "config": {"assignee_role": "ADMINISTRATOR", "review": "draft"},
        },
    ],
)


async def _paused_task(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, topic: str
) -> str:
    run = await start_run(client, headers, workflow_id, {"topic": topic})
    paused = await wait_for_status(client, headers, run["id"], "PAUSED_FOR_APPROVAL")
    return str(paused["pending_tasks"][0])


async def _decide(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/hitl-tasks/{task_id}/decision", headers=headers, json=body)
    assert response.status_code == 200, response.text


async def _export(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/feedback/corrections", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jsonl")
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.fixture
async def decided(client: httpx.AsyncClient, api_tenant) -> tuple[ApiTenant, str, dict[str, str]]:
    """A tenant with three decisions on REVIEWED_DRAFT: approved, rejected (admin), edited.

    Returns the tenant, the workflow id and ``{label: task id}``.
    """
    tenant = await api_tenant()
    workflow_id = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Release notes")
    approve = await _paused_task(client, tenant.operator, workflow_id, "alpha")
    reject = await _paused_task(client, tenant.operator, workflow_id, "beta")
    edit = await _paused_task(client, tenant.operator, workflow_id, "gamma")
    await _decide(client, tenant.operator, approve, {"decision": "approve"})
    await _decide(client, tenant.admin, reject, {"decision": "reject", "reason": "off topic"})
    await _decide(client, tenant.operator, edit, {"decision": "edit", "corrected_output": "A better note"})
    return tenant, workflow_id, {"approved": approve, "rejected": reject, "edited": edit}


async def test_one_record_per_decision_in_a_dataset_shape(client: httpx.AsyncClient, decided) -> None:
    tenant, workflow_id, tasks = decided
    records = await _export(client, tenant.admin)
    assert [r["task_id"] for r in records] == [tasks["approved"], tasks["rejected"], tasks["edited"]]
    approved, rejected, edited = records
    operator, admin = tenant.users[Role.OPERATOR], tenant.users[Role.ADMINISTRATOR]

    assert approved["input"] == {"topic": "alpha"} and approved["output"] == "A note about alpha"
    assert approved["corrected_output"] == "A note about alpha" and approved["label"] == "approved"
    assert approved["reason"] is None
    assert (approved["reviewer_id"], approved["reviewer_email"]) == (operator.id, operator.email)

    assert rejected["input"] == {"topic": "beta"} and rejected["output"] == "A note about beta"
    assert rejected["corrected_output"] is None and rejected["label"] == "rejected"
    assert rejected["reason"] == "off topic"
    assert (rejected["reviewer_id"], rejected["reviewer_email"]) == (admin.id, admin.email)

    assert edited["output"] == "A note about gamma" and edited["corrected_output"] == "A better note"
    assert edited["label"] == "edited"

    for record in records:
        assert record["workflow_id"] == workflow_id and record["workflow_version"] == 1
        assert record["workflow_name"] == "Release notes" and record["workflow_slug"]
        assert record["node_id"] == "review" and record["run_id"]
        assert record["context"] == {"review_field": "draft", "instructions": None, "fields": {}}
        assert record["created_at"].endswith("Z") and record["decided_at"] >= record["created_at"]
    # the operator reads them too: the runs are theirs (and the tasks their role's)
    assert [r["task_id"] for r in await _export(client, tenant.operator)] == [r["task_id"] for r in records]


async def test_filters(client: httpx.AsyncClient, decided) -> None:
    tenant, workflow_id, tasks = decided
    other = await create_and_publish(client, tenant.designer, REVIEWED_DRAFT, name="Other")
    await _decide(
        client,
        tenant.operator,
        await _paused_task(client, tenant.operator, other, "delta"),
        {"decision": "approve"},
    )
    everything = await _export(client, tenant.admin)
    assert len(everything) == 4

    assert [r["task_id"] for r in await _export(client, tenant.admin, label="rejected")] == [
        tasks["rejected"]
    ]
    assert [r["task_id"] for r in await _export(client, tenant.admin, label="edited")] == [tasks["edited"]]
    mine = await _export(client, tenant.admin, workflow_id=workflow_id)
    assert [r["task_id"] for r in mine] == list(tasks.values())
    slug = everything[-1]["workflow_slug"]
    assert [r["workflow_id"] for r in await _export(client, tenant.admin, workflow_slug=slug)] == [other]
    assert await _export(client, tenant.admin, workflow_id="no-such-workflow") == []

    now = datetime.now(UTC)
    assert len(await _export(client, tenant.admin, since=(now - timedelta(hours=1)).isoformat())) == 4
    assert await _export(client, tenant.admin, since=(now + timedelta(hours=1)).isoformat()) == []
    assert await _export(client, tenant.admin, until="2000-01-01") == []
    # since inclusive, until exclusive: the second decision's own time splits the list there
    second = everything[1]["decided_at"]
    assert everything[0]["decided_at"] < second  # one decision after the other (milliseconds apart at least)
    assert [r["task_id"] for r in await _export(client, tenant.admin, until=second)] == [tasks["approved"]]
    after = await _export(client, tenant.admin, since=second)
    assert [r["task_id"] for r in after][:1] == [tasks["rejected"]] and len(after) == 3


async def test_bad_dates_are_422_naming_the_field(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    url = "/v1/feedback/corrections"
    assert_problem(
        await client.get(url, headers=tenant.admin, params={"since": "last tuesday"}), 422, "since"
    )
    assert_problem(await client.get(url, headers=tenant.admin, params={"until": "2026-13-01"}), 422, "until")
    assert_problem(
        await client.get(url, headers=tenant.admin, params={"since": "2026-02-01", "until": "2026-01-01"}),
        422,
        "since",
    )
    assert_problem(await client.get(url, headers=tenant.admin, params={"label": "maybe"}), 422, "label")


async def test_roles_tenants_and_content_visibility(client: httpx.AsyncClient, api_tenant, decided) -> None:
    tenant, workflow_id, _tasks = decided
    assert_problem(await client.get("/v1/feedback/corrections", headers=tenant.designer), 403)
    assert_problem(await client.get("/v1/feedback/corrections"), 401)

    stranger = await api_tenant()
    assert await _export(client, stranger.admin) == []
    assert await _export(client, stranger.admin, workflow_id=workflow_id) == []

    # A run the admin started and the admin reviewed: its content is not the operator's to read.
    secret_wf = await create_and_publish(client, tenant.admin, ADMIN_REVIEWED, name="Board")
    secret = await _paused_task(client, tenant.admin, secret_wf, "merger")
    await _decide(client, tenant.admin, secret, {"decision": "approve"})
    assert secret in [r["task_id"] for r in await _export(client, tenant.admin)]
    seen_by_operator = await _export(client, tenant.operator)
    assert len(seen_by_operator) == 3 and secret not in [r["task_id"] for r in seen_by_operator]


async def test_the_export_reads_a_page_at_a_time(database: Database, decided) -> None:
    tenant, workflow_id, tasks = decided
    paged = [r async for r in iter_corrections(database, tenant.tenant_id, page_size=1)]
    whole = [r async for r in iter_corrections(database, tenant.tenant_id, page_size=500)]
    assert paged == whole and [r["task_id"] for r in paged] == list(tasks.values())
    filtered = CorrectionFilters(workflow_id=workflow_id, label=None)
    assert [r async for r in iter_corrections(database, tenant.tenant_id, filtered, page_size=2)] == whole


def _cli_env(database_conninfo: str, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=database_conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        EAWE_JWT_SECRET="feedback-test-secret-0123456789abcdef",
        COLUMNS="60",  # a narrow terminal must not wrap an error
    )
    return env


async def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [*EAWE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


async def test_eawe_hitl_export_writes_the_same_records(
    client: httpx.AsyncClient, decided, database_conninfo: str, tmp_path: Path
) -> None:
    tenant, workflow_id, tasks = decided
    env = _cli_env(database_conninfo, tmp_path / "data")
    from_api = await _export(client, tenant.admin)

    out = tmp_path / "corrections.jsonl"
    done = await _cli(["hitl", "export", "--tenant", tenant.tenant_id, "--output", str(out)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 3 decision(s)" in done.stderr
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == from_api
    assert not (tmp_path / "corrections.jsonl.partial").exists()

    slug = from_api[0]["workflow_slug"]
    by_slug = await _cli(
        ["hitl", "export", "--tenant", tenant.tenant_id, "--workflow", slug, "--label", "rejected"],
        env,
        tmp_path,
    )
    assert by_slug.returncode == 0, by_slug.stderr
    assert [json.loads(line)["task_id"] for line in by_slug.stdout.splitlines()] == [tasks["rejected"]]
    by_id = await _cli(
        ["hitl", "export", "--tenant", tenant.tenant_id, "--workflow", workflow_id, "--until", "2000-01-01"],
        env,
        tmp_path,
    )
    assert by_id.returncode == 0 and by_id.stdout == "", by_id.stderr

    for args, message in [
        (["--since", "yesterday"], "--since: not an ISO 8601 date or time"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--since: must be before --until"),
        (["--workflow", "nope"], "--workflow: no workflow 'nope'"),
    ]:
        bad = await _cli(["hitl", "export", "--tenant", tenant.tenant_id, *args], env, tmp_path)
        lines = [line for line in bad.stderr.splitlines() if line.strip()]
        assert bad.returncode == 2 and len(lines) == 1 and message in lines[0], bad.stderr
    missing = await _cli(
        ["hitl", "export", "--tenant", "No-such-tenant", "-o", str(tmp_path / "x")], env, tmp_path
    )
    assert missing.returncode == 2 and "tenant 'No-such-tenant' not found" in missing.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
