"""``eawe run WORKFLOW.json --input JSON``: one run end to end from the terminal.

The definition is stored (or updated) and published as a workflow of a local tenant, the run is
started as that tenant's CLI user and executed here; approvals are asked at the prompt (or all
approved with ``--approve-all``). Everything goes through the same engine, checkpointer and
audit log as the server, on the embedded defaults unless settings say otherwise.

The CLI users (one per role) belong to every business group named by the tenant's documents
(they stand for the one local user of a single-user setup), so ``retrieve`` nodes see what
``eawe ingest`` indexed for that tenant.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from checkpoints.engine import RunEngine
from checkpoints.hitl import HitlDecision
from checkpoints.open_engine import open_document_retrieval, open_engine
from cli.operator_scope import operator_command
from eawe.db.models import Document, HITLStatus, HITLTask, Role, RunStatus, Tenant, User, WorkflowDefinition
from eawe.db.repositories import workflows as workflow_repo
from eawe.db.repositories.hitl import tasks_for_run
from eawe.db.repositories.runs import get_run
from eawe.db.repositories.tenants import create_tenant
from eawe.db.repositories.users import create_user
from eawe.errors import NotFoundError, Problem, ValidationError
from eawe.settings import Settings

__all__ = ["ApprovalPrompt", "PromptFn", "run_workflow_file", "terminal_prompt"]

logger = logging.getLogger(__name__)

DEFAULT_TENANT = "local"
"""The tenant ``eawe run`` and ``eawe ingest`` use by default; the only one created on demand."""


@dataclass(frozen=True)
class ApprovalPrompt:
    """What the reviewer at the terminal is shown."""

    task_id: str
    node_id: str
    instructions: str | None
    value: Any
    fields: dict[str, Any]
    allow_edit: bool


PromptFn = Callable[[ApprovalPrompt], Awaitable[HitlDecision]]


def _ask(question: str) -> str:
    return input(question).strip()


async def terminal_prompt(prompt: ApprovalPrompt) -> HitlDecision:
    """Ask at the terminal: [a]pprove, [r]eject (with a reason) or [e]dit (a new value, JSON or text)."""
    print(f"\n── approval needed: {prompt.node_id} (task {prompt.task_id})")
    if prompt.instructions:
        print(prompt.instructions)
    print(f"value: {json.dumps(prompt.value, ensure_ascii=False, indent=2, default=str)}")
    choices = "[a]pprove / [r]eject" + (" / [e]dit" if prompt.allow_edit else "")
    while True:
        answer = (await asyncio.to_thread(_ask, f"{choices}: ")).lower()
        if answer in ("a", "approve"):
            return HitlDecision(decision="approve")
        if answer in ("r", "reject"):
            reason = ""
            while not reason:
                reason = await asyncio.to_thread(_ask, "reason: ")
            return HitlDecision(decision="reject", reason=reason)
        if prompt.allow_edit and answer in ("e", "edit"):
            raw = await asyncio.to_thread(_ask, "new value (JSON or text): ")
            try:
                corrected: Any = json.loads(raw)
            except json.JSONDecodeError:
                corrected = raw
            return HitlDecision(decision="edit", corrected_output=corrected)


def _read_definition(path: Path) -> dict[str, Any]:
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(Problem("workflow", f"cannot read {path}: {exc}")) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            Problem("workflow", f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})")
        ) from None
    if not isinstance(definition, dict):
        raise ValidationError(Problem("workflow", f"{path} must hold a JSON object"))
    return definition


async def _local_principal(
    engine: RunEngine, tenant_name: str, *, create_missing_tenant: bool
) -> tuple[str, str]:
    """(tenant id, CLI user id): the tenant by id or name and its CLI users. A missing tenant is
    created only with ``create_missing_tenant`` or when it is the default ``local`` one.

    There is one CLI user per role, so approvals assigned to a role find an assignee; the run is
    started, and every approval decided, by the ADMINISTRATOR one (who may decide any task).
    """
    async with engine.resources.database.transaction() as session:
        tenant = await session.scalar(
            select(Tenant).where(or_(Tenant.id == tenant_name, Tenant.name == tenant_name))
        )
        if tenant is None and tenant_name != DEFAULT_TENANT and not create_missing_tenant:
            raise NotFoundError("tenant", tenant_name)
        if tenant is None:
            tenant = await create_tenant(session, tenant_name)
        groups = sorted(
            set(
                (
                    await session.scalars(
                        select(func.unnest(Document.allowed_roles))
                        .where(Document.tenant_id == tenant.id)
                        .distinct()
                    )
                ).all()
            )
        )
        users: dict[Role, User] = {}
        for role in Role:
            email = f"cli-{role.value.lower()}+{tenant.id}@example.com"
            user = await session.scalar(select(User).where(User.tenant_id == tenant.id, User.email == email))
            if user is None:
                user = await create_user(
                    session,
                    tenant_id=tenant.id,
                    email=email,
                    password=secrets.token_urlsafe(24),  # never used: CLI users do not log in
                    role=role,
                    name=f"eawe run ({role.value.lower()})",
                )
            user.groups = groups
            users[role] = user
        return tenant.id, users[Role.ADMINISTRATOR].id


async def _workflow_for(
    engine: RunEngine, tenant_id: str, name: str, definition: dict[str, Any], user_id: str
) -> str:
    async with engine.resources.database.transaction() as session:
        existing = await session.scalar(
            select(WorkflowDefinition)
            .where(WorkflowDefinition.tenant_id == tenant_id, WorkflowDefinition.name == name)
            .order_by(WorkflowDefinition.created_at.desc())
            .limit(1)
        )
        if existing is None:
            existing = await workflow_repo.create_workflow(
                session, tenant_id=tenant_id, name=name, definition_graph=definition, actor_id=user_id
            )
        else:
            await workflow_repo.update_workflow(
                session, tenant_id, existing.id, definition_graph=definition, actor_id=user_id
            )
    await engine.publish(tenant_id, existing.id, actor_id=user_id)
    return existing.id


def _prompt_of(task: HITLTask) -> ApprovalPrompt:
    data = task.task_data if isinstance(task.task_data, dict) else {}
    return ApprovalPrompt(
        task_id=task.id,
        node_id=task.node_id,
        instructions=data.get("instructions"),
        value=task.original_agent_output,
        fields=data.get("fields") or {},
        allow_edit=bool(data.get("allow_edit", True)),
    )


@operator_command
async def run_workflow_file(
    workflow: Path,
    run_input: dict[str, Any],
    *,
    settings: Settings,
    approve_all: bool = False,
    tenant_name: str = "local",
    prompt: PromptFn | None = None,
    create_missing_tenant: bool = True,
) -> dict[str, Any]:
    """Run ``workflow`` (a definition JSON file) to the end, asking for approvals.

    Returns:
        ``{"run_id", "workflow_id", "tenant_id", "status", "output", "error"}``.

    Raises:
        eawe.errors.ValidationError: Unreadable or invalid definition, or bad input.
    """
    from eawe.db.database import open_app_database

    definition = _read_definition(workflow)
    ask = prompt or terminal_prompt
    async with AsyncExitStack() as stack:
        database = await open_app_database(settings, migrate=True, check_role=False)
        stack.push_async_callback(database.dispose)
        engine = await open_engine(
            settings,
            database,
            retriever_factory=await open_document_retrieval(settings, stack),
            events=False,
            worker_id=f"eawe-run:{secrets.token_hex(4)}",
        )
        stack.push_async_callback(engine.close)
        tenant_id, user_id = await _local_principal(
            engine, tenant_name, create_missing_tenant=create_missing_tenant
        )
        name = str(definition.get("name") or workflow.stem)
        workflow_id = await _workflow_for(engine, tenant_id, name, definition, user_id)
        run = await engine.start_run(tenant_id, workflow_id, run_input, user_id)
        status = await engine.execute_run(run.id)
        while status == RunStatus.PAUSED_FOR_APPROVAL:
            async with database.session() as session:
                pending = await tasks_for_run(session, tenant_id, run.id, status=HITLStatus.PENDING)
            for task in pending:
                decision = HitlDecision(decision="approve") if approve_all else await ask(_prompt_of(task))
                await engine.decide(tenant_id, task.id, decision, actor_id=user_id)
            status = await engine.execute_run(run.id)
        async with database.session() as session:
            final = await get_run(session, tenant_id, run.id)
        output = {k: v for k, v in (final.payload or {}).items() if not k.startswith("eawe_")}
        return {
            "run_id": run.id,
            "workflow_id": workflow_id,
            "tenant_id": tenant_id,
            "status": final.status.value,
            "output": output,
            "error": final.error,
        }
