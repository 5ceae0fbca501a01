"""``eawe run``: a workflow file end to end on the engine, approvals at the prompt."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from checkpoints.hitl import HitlDecision
from cli.terminal_run import ApprovalPrompt, run_workflow_file
from eawe.db.models import RunStatus

ROOT = Path(__file__).resolve().parents[2]
GROUNDED = ROOT / "examples" / "grounded_answer.json"
QUESTION = {"question": "How much can employees expense for travel per trip?"}


async def test_approve_all_runs_to_completion(settings: Any) -> None:
    result = await run_workflow_file(GROUNDED, QUESTION, settings=settings, approve_all=True)
    assert result["status"] == RunStatus.COMPLETED.value, result["error"]
    assert result["output"]["question"] == QUESTION["question"]
    assert result["output"]["answer"].startswith("[local model]")  # labelled local model


async def test_prompted_edit_and_documents_of_the_tenant(settings: Any, database: Any) -> None:
    from retrieval import ingest_paths, open_chunk_store

    first = await run_workflow_file(
        GROUNDED, QUESTION, settings=settings, approve_all=True, tenant_name="cli-docs"
    )
    store = await asyncio.to_thread(open_chunk_store, settings)
    try:
        outcomes = await ingest_paths(
            [ROOT / "examples" / "corpus" / "travel_policy.md"],
            tenant_id=first["tenant_id"],
            allowed_roles=["Finance"],
            settings=settings,
            database=database,
            vector_store=store,
        )
        assert all(o.ok for o in outcomes)
    finally:
        await asyncio.to_thread(store.close)

    shown: list[ApprovalPrompt] = []

    async def reviewer(prompt: ApprovalPrompt) -> HitlDecision:
        shown.append(prompt)
        return HitlDecision(decision="edit", corrected_output="Up to 500 EUR per trip.")

    result = await run_workflow_file(
        GROUNDED, QUESTION, settings=settings, tenant_name="cli-docs", prompt=reviewer
    )
    assert result["status"] == "COMPLETED" and result["output"]["answer"] == "Up to 500 EUR per trip."
    assert result["workflow_id"] == first["workflow_id"]  # the same workflow, re-published only if changed
    (prompt,) = shown
    assert prompt.node_id == "review" and prompt.allow_edit
    assert "500 EUR" in prompt.value  # the CLI user sees the tenant's documents (group Finance)
    assert prompt.fields["context"][0]["source"] == "travel_policy.md"


async def test_reject_at_the_terminal_prompt(settings: Any) -> None:
    """The real command with the default terminal prompt, answering on stdin."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": settings.database_url,
        "EAWE_DATA_DIR": str(settings.data_dir),
        "EAWE_ENVIRONMENT": "test",
        "EAWE_CREDENTIAL_KEYS": settings.credential_keys.get_secret_value(),
        "EAWE_JWT_SECRET": settings.jwt_secret.get_secret_value(),
    }
    env.pop("OPENAI_API_KEY", None)
    command = [sys.executable, "-m", "cli", "run", str(GROUNDED), "--input", json.dumps(QUESTION)]
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        input="x\nr\n\nnot cited\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # a run that did not complete exits non-zero
    assert "approval needed: review" in done.stdout
    result = json.loads(done.stdout[done.stdout.index("{\n") :])
    assert result["status"] == "FAILED"
    assert result["error"]["message"] == "approval 'review' rejected: not cited"
