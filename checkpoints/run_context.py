"""Building the :class:`~agents.context.RunContext` of a run: its principal, retriever, credentials, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from agents.context import (
    ChatModelFactory,
    McpServerSpec,
    NodeExecutionRecord,
    Principal,
    RunContext,
    SecretScrubber,
)
from agents.models.factory import CredentialChatModelFactory
from checkpoints.events import RunEvent
from checkpoints.resources import EngineResources
from eawe.audit import ActorType
from eawe.credential_scope import check_credential_target
from eawe.db.models import Credential
from eawe.db.repositories.mcp_servers import find_mcp_server
from eawe.db.repositories.tenant_models import tenant_model_of
from eawe.errors import EAWEError, NotFoundError

if TYPE_CHECKING:
    from checkpoints.leases import ClaimedRun
    from checkpoints.step_journal import StepJournal

__all__ = [
    "DatabaseCredentialReader",
    "DatabaseMcpServerDirectory",
    "StarterDeactivatedError",
    "build_run_context",
    "starter_principal",
]


class StarterDeactivatedError(EAWEError):
    """The user who started the run has been deactivated: the run may no longer act as them."""

    status_code = 409
    title = "Run starter deactivated"

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(
            f"the run's starter (user {user_id}) has been deactivated, so the run can no longer act "
            "with their role and groups; reactivate the user and retry the run, or cancel it"
        )


class DatabaseCredentialReader:
    """Reveals the tenant's stored credentials (by id, or by name — the newest with that name)."""

    def __init__(self, resources: EngineResources, tenant_id: str) -> None:
        self._resources = resources
        self._tenant_id = tenant_id

    async def read_secret(self, name_or_id: str, *, url: str | None = None, method: str | None = None) -> str:
        cipher = self._resources.cipher
        if cipher is None:
            raise LookupError("no credential keys are configured (EAWE_CREDENTIAL_KEYS)")
        async with self._resources.database.session() as session:
            row = await session.scalar(
                select(Credential)
                .where(
                    Credential.tenant_id == self._tenant_id,
                    or_(Credential.id == name_or_id, Credential.name == name_or_id),
                )
                .order_by((Credential.id == name_or_id).desc(), Credential.created_at.desc())
                .limit(1)
            )
        if row is None:
            raise NotFoundError("credential", name_or_id)
        # The definition names the credential; where it may go was set by an administrator.
        check_credential_target(name_or_id, row.allowed_hosts, row.allowed_methods, url, method)
        return cipher.decrypt(row.tenant_id, row.id, row.key_version, row.encrypted_value)


class DatabaseMcpServerDirectory:
    """The tenant's MCP server configurations (``/v1/mcp-servers``), read when a node needs one."""

    def __init__(self, resources: EngineResources, tenant_id: str) -> None:
        self._resources = resources
        self._tenant_id = tenant_id

    async def get(self, name_or_id: str) -> McpServerSpec:
        async with self._resources.database.session() as session:
            row = await find_mcp_server(session, self._tenant_id, name_or_id)
        return McpServerSpec(
            id=row.id,
            name=row.name,
            url=row.url,
            transport=row.transport,
            credential_id=row.credential_id,
            allowed_tools=tuple(row.allowed_tools or ()),
        )


def starter_principal(tenant_id: str, claimed: ClaimedRun) -> Principal:
    """The principal a run acts as, from its claim (a run started by the system has no groups).

    Raises:
        eawe.errors.NotFoundError: The starter no longer exists in the tenant.
        StarterDeactivatedError: The starter has been deactivated (``User.is_active`` false).
    """
    if claimed.started_by_id is None:
        return Principal(user_id=None)
    starter = claimed.starter
    if starter is None:
        raise NotFoundError("user", claimed.started_by_id)
    if not starter.active:
        raise StarterDeactivatedError(claimed.started_by_id)
    return Principal(
        user_id=claimed.started_by_id, email=starter.email, role=starter.role, groups=starter.groups
    )


def _tenant_chat_models(
    resources: EngineResources,
    claimed: ClaimedRun,
    credentials: DatabaseCredentialReader,
    scrubber: SecretScrubber,
) -> ChatModelFactory:
    """The tenant's own model when its settings name one, else the deployment's factory."""
    own = tenant_model_of(claimed.tenant_model)
    if own is None:
        return resources.chat_models

    async def read_key() -> str:  # awaited by the OpenAI client for each request
        # Revealed for the tenant's model endpoint only (the credential's allowed hosts must name it).
        secret = await credentials.read_secret(own.credential, url=own.base_url, method="POST")
        scrubber.add(secret)
        return secret

    return CredentialChatModelFactory(model=own.model, base_url=own.base_url, read_key=read_key)


def build_run_context(
    resources: EngineResources, claimed: ClaimedRun, *, workflow_id: str, journal: StepJournal
) -> RunContext:
    """The run context of one claimed run, built for its principal (never from graph state): the
    starter and the tenant's model come with the claim, so building it reads nothing.

    What its nodes record (audit entries, usage rows and their events) goes to ``journal``: it is
    committed with the node's step, so a node that runs again after a crash does not record twice.
    """
    tenant_id, run_id = claimed.tenant_id, claimed.id
    principal = starter_principal(tenant_id, claimed)
    retriever = resources.retriever_factory(tenant_id, principal) if resources.retriever_factory else None
    credentials = DatabaseCredentialReader(resources, tenant_id)
    scrubber = SecretScrubber()
    chat_models = _tenant_chat_models(resources, claimed, credentials, scrubber)

    async def audit(action: str, details: dict[str, Any]) -> None:
        journal.audit(action, details, actor_type=ActorType.AGENT)
        journal.event(RunEvent(tenant_id, run_id, "agent.audit", {"action": action}))

    async def node_executed(record: NodeExecutionRecord) -> None:
        counts = {model: dict(c) for model, c in record.token_usage.items()}
        journal.node_execution(
            {
                "nodeId": record.node_id,
                "nodeType": record.node_type,
                "outcome": record.outcome,
                "durationMs": record.duration_ms,
                "tokenUsage": counts,
                "inputTokens": sum(c.get("input_tokens", 0) for c in counts.values()),
                "outputTokens": sum(c.get("output_tokens", 0) for c in counts.values()),
                "totalTokens": sum(c.get("total_tokens", 0) for c in counts.values()),
                "startedAt": record.started_at.isoformat(timespec="milliseconds"),
            }
        )
        usage = {
            "node_id": record.node_id,
            "node_type": record.node_type,
            "outcome": record.outcome,
            "duration_ms": record.duration_ms,
            "token_usage": dict(record.token_usage),
        }
        journal.event(RunEvent(tenant_id, run_id, "node.usage", usage))

    return RunContext(
        tenant_id=tenant_id,
        principal=principal,
        chat_models=chat_models,
        retriever=retriever,
        credentials=credentials,
        audit=audit,
        http=resources.http,
        mcp_servers=DatabaseMcpServerDirectory(resources, tenant_id),
        run_id=run_id,
        workflow_id=workflow_id,
        workflow_version=claimed.workflow_version,
        node_executions=node_executed,
        scrubber=scrubber,
    )
