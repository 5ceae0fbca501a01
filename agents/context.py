"""What a node gets besides the graph state: the run context and the node's own view of it.

A :class:`RunContext` is built once per run (by the engine, the CLI or LangGraph Studio) and handed
to LangGraph through ``context=``; LangGraph passes it to every node through ``Runtime``. Nothing a
node needs is a module global: the tenant, the acting principal, the permission-filtered
retriever, the chat model factory, credential access, the audit sink and the HTTP client all
travel here.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import httpx
    from langchain_core.documents import Document
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "AuditSink",
    "ChatModelFactory",
    "CredentialReader",
    "DocumentRetriever",
    "McpServerDirectory",
    "McpServerSpec",
    "NodeContext",
    "NodeExecutionRecord",
    "NodeExecutionSink",
    "Principal",
    "RunContext",
    "SecretScrubber",
]


@dataclass(frozen=True)
class Principal:
    """The user a run acts as: its groups filter retrieval, its id signs audit rows."""

    user_id: str | None
    email: str | None = None
    role: str | None = None
    groups: tuple[str, ...] = ()


@runtime_checkable
class DocumentRetriever(Protocol):
    """Anything that answers ``await ainvoke(query, k=...)`` with LangChain documents.

    ``retrieval.PermissionedRetriever`` satisfies it; the filter on tenant and groups is baked into
    the instance the engine builds for the run's principal, never taken from graph state.
    """

    async def ainvoke(self, query: str, k: int = ...) -> Sequence[Document]: ...


class ChatModelFactory(Protocol):
    """Builds chat models; ``is_local`` is True for the deterministic local model."""

    @property
    def is_local(self) -> bool: ...

    @property
    def default_model_name(self) -> str: ...

    def __call__(self, *, model: str | None = None, temperature: float | None = None) -> BaseChatModel: ...


class CredentialReader(Protocol):
    """Reveals one of the tenant's stored credentials by id or name (not found → NotFoundError),
    only for a request to ``url`` with ``method`` that the credential is bound to."""

    async def read_secret(
        self, name_or_id: str, *, url: str | None = None, method: str | None = None
    ) -> str: ...


@dataclass(frozen=True)
class McpServerSpec:
    """One of the tenant's configured MCP servers (the secret stays in the credential store)."""

    id: str
    name: str
    url: str
    transport: str
    credential_id: str | None
    allowed_tools: tuple[str, ...]


class McpServerDirectory(Protocol):
    """The tenant's MCP server configurations, by id or name (not found → NotFoundError)."""

    async def get(self, name_or_id: str) -> McpServerSpec: ...


AuditSink = Callable[[str, dict[str, Any]], Awaitable[None]]
"""``await audit(action, details)``: one AuditLog row with actor type AGENT for the current run."""


@dataclass(frozen=True)
class NodeExecutionRecord:
    """What one node execution took: its wall time and the model tokens it used.

    Attributes:
        outcome: ``completed``, ``interrupted`` (paused for a human) or ``failed``.
        token_usage: ``{model name: {"input_tokens", "output_tokens", "total_tokens"}}`` from the
            ``usage_metadata`` of every chat model call the node made.
    """

    node_id: str
    node_type: str
    outcome: str
    started_at: datetime
    duration_ms: int
    token_usage: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


NodeExecutionSink = Callable[[NodeExecutionRecord], Awaitable[None]]
"""``await sink(record)``: store a node execution's usage (the engine writes a NodeExecution row)."""


class SecretScrubber:
    """Remembers the secrets revealed during a run so error texts can be cleaned before storage."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:  # shorter strings would scrub ordinary words
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[REDACTED]")
        return text

    def scrub_value(self, value: Any) -> Any:
        """``value`` (JSON-like: str, list, dict) with every remembered secret redacted, at any depth."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list | tuple):
            return [self.scrub_value(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub_value(key): self.scrub_value(item) for key, item in value.items()}
        return value


@dataclass
class RunContext:
    """Per-run dependencies, passed to LangGraph as ``context=``.

    Attributes:
        tenant_id: The tenant every lookup is scoped to.
        principal: The user the run acts as.
        chat_models: Factory for chat models (OpenAI-compatible or the deterministic local one).
        retriever: The permission-filtered retriever built for ``principal``; None when the
            deployment has no document store (a ``retrieve`` node then fails with a clear error).
        credentials: Access to the tenant's stored credentials.
        audit: Sink for agent-level audit rows; None outside the engine.
        http: Shared HTTP client for ``tool`` nodes; None means "create one per call".
        mcp_servers: The tenant's MCP server configurations for ``mcp_tool`` nodes; None when the
            run has none (such a node then fails with a clear error).
        run_id: The WorkflowRun id (= LangGraph thread id) when run by the engine.
        workflow_id: The WorkflowDefinition id, when known.
        workflow_version: The pinned definition version, when known.
        node_executions: Where each node execution's duration and token usage go; None outside
            the engine.
    """

    tenant_id: str
    principal: Principal
    chat_models: ChatModelFactory
    retriever: DocumentRetriever | None = None
    credentials: CredentialReader | None = None
    audit: AuditSink | None = None
    http: httpx.AsyncClient | None = None
    mcp_servers: McpServerDirectory | None = None
    run_id: str | None = None
    workflow_id: str | None = None
    workflow_version: int | None = None
    scrubber: SecretScrubber = field(default_factory=SecretScrubber)
    node_executions: NodeExecutionSink | None = None


@dataclass(frozen=True)
class NodeContext:
    """One node's view of the run: the run context plus its own id and compile-time resources."""

    node_id: str
    run: RunContext
    prepared: Any = None
    write_stream: Callable[[Any], None] | None = None
    effect_sequence: itertools.count[int] = field(default_factory=itertools.count, compare=False, repr=False)
    """Numbers this attempt's external calls (0, 1, ...). A NodeContext is built per attempt, so a
    re-executed node numbers its calls the same way and derives the same idempotency keys."""

    @property
    def tenant_id(self) -> str:
        return self.run.tenant_id

    @property
    def principal(self) -> Principal:
        return self.run.principal

    @property
    def retriever(self) -> DocumentRetriever | None:
        return self.run.retriever

    def chat_model(self, *, model: str | None = None, temperature: float | None = None) -> BaseChatModel:
        """A chat model from the run's factory."""
        return self.run.chat_models(model=model, temperature=temperature)

    async def secret(self, name_or_id: str, *, url: str | None = None, method: str | None = None) -> str:
        """Reveal a stored credential of the run's tenant, for a ``method`` request to ``url``.

        Raises:
            LookupError: The run has no credential access configured.
            eawe.errors.NotFoundError: No such credential in this tenant.
            eawe.credential_scope.CredentialScopeError: The credential is not bound to that host
                or method.
        """
        if self.run.credentials is None:
            raise LookupError(f"node {self.node_id!r}: this run has no credential store configured")
        value = await self.run.credentials.read_secret(name_or_id, url=url, method=method)
        self.run.scrubber.add(value)
        return value

    async def audit(self, action: str, details: dict[str, Any] | None = None) -> None:
        """Append an AGENT audit row for this node (no-op outside the engine)."""
        if self.run.audit is not None:
            await self.run.audit(action, {"node_id": self.node_id, **(details or {})})

    def emit(self, payload: Any) -> None:
        """Send a custom event to the run's stream (``stream_mode="custom"``)."""
        if self.write_stream is not None:
            self.write_stream({"node_id": self.node_id, "data": payload})
