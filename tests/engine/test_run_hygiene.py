"""Cancelling before execution, secrets kept out of errors and audit, checkpoint pruning."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from agents import NodeConfig, NodeContext, create_registry, node_type
from checkpoints import RunEngine
from eawe.credentials import CredentialCipher, create_credential
from eawe.db.models import AuditLog, Role, RunStatus
from eawe.db.tenant_scope import system_scope
from eawe.errors import ConflictError
from tests.engine.conftest import audit_actions, linear, load_run, publish_workflow

USERS = [("op@x.io", Role.OPERATOR, [])]
SIMPLE = linear({"x": {}}, [{"id": "t", "type": "transform", "config": {"set": {"x": "done"}}}])


async def test_cancel_a_pending_run(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    run = await engine.start_run(t.tenant.id, await publish_workflow(engine, t.tenant.id, SIMPLE), {}, None)
    cancelled = await engine.cancel(t.tenant.id, run.id, actor_id=t.user("op@x.io").id)
    assert cancelled.status == RunStatus.CANCELLED
    assert await engine.execute_run(run.id) is None  # never claimed
    with pytest.raises(ConflictError):
        await engine.retry(t.tenant.id, run.id, actor_id=None)


class LeakyConfig(NodeConfig):
    credential: str


@node_type("test.leaky", config=LeakyConfig)
async def leaky(state: Any, config: LeakyConfig, ctx: NodeContext) -> dict[str, Any]:
    secret = await ctx.secret(config.credential, url="http://127.0.0.1/")
    raise RuntimeError(f"upstream refused token {secret} for tenant {ctx.tenant_id}")


async def test_secrets_are_scrubbed_from_errors_and_audit(
    engine: RunEngine, tenant_factory: Any, settings: Any
) -> None:
    registry = create_registry(plugins=False)
    registry.register(leaky)
    custom = RunEngine(
        dataclasses.replace(engine.resources, registry=registry, graphs=type(engine.resources.graphs)())
    )
    t = await tenant_factory(users=USERS)
    with system_scope():  # test setup/inspection as the operator
        async with custom.resources.database.transaction() as session:
            await create_credential(
                session,
                CredentialCipher(settings.parsed_credential_keys()),
                tenant_id=t.tenant.id,
                name="crm",
                type="API_KEY",
                service_name="CRM",
                secret="tok-9f8e7d6c5b4a",
                allowed_hosts=["127.0.0.1"],
            )
    definition = linear({}, [{"id": "call", "type": "test.leaky", "config": {"credential": "crm"}}])
    workflow_id = await publish_workflow(custom, t.tenant.id, definition)
    run = await custom.start_run(t.tenant.id, workflow_id, {}, None)
    assert await custom.execute_run(run.id) == RunStatus.PAUSED_WITH_ERROR
    stored = await load_run(custom, t.tenant.id, run.id)
    assert stored.error["message"] == f"upstream refused token [REDACTED] for tenant {t.tenant.id}"
    with system_scope():  # test setup/inspection as the operator
        async with custom.resources.database.session() as session:
            from sqlalchemy import select

            rows = (await session.scalars(select(AuditLog).where(AuditLog.tenant_id == t.tenant.id))).all()
    assert "tok-9f8e7d6c5b4a" not in json.dumps([r.details for r in rows], default=str)


async def test_prune_keeps_the_final_checkpoint(engine: RunEngine, tenant_factory: Any) -> None:
    t = await tenant_factory(users=USERS)
    workflow_id = await publish_workflow(engine, t.tenant.id, SIMPLE)
    run = await engine.start_run(t.tenant.id, workflow_id, {}, None)
    assert await engine.execute_run(run.id) == RunStatus.COMPLETED
    config = {"configurable": {"thread_id": run.thread_id}}
    before = [c async for c in engine.resources.saver.alist(config)]
    assert len(before) > 1
    assert await engine.prune_checkpoints(t.tenant.id) == 1
    after = [c async for c in engine.resources.saver.alist(config)]
    assert len(after) == 1
    assert (await engine.run_state(t.tenant.id, run.id))["values"]["x"] == "done"
    assert await engine.prune_checkpoints(t.tenant.id, keep_latest=False) == 1
    assert [c async for c in engine.resources.saver.alist(config)] == []
    assert ("RUN_COMPLETED", "SYSTEM") in await audit_actions(engine, t.tenant.id, run.id)  # the audit stays
