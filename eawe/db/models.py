"""SQLAlchemy models of the tables ``schema.prisma`` defines.

Prisma owns the schema; these classes map the same tables (PascalCase table names,
camelCase columns) with snake_case Python attributes. ``tests/db/test_models_match.py``
fails when this file and the migrated database disagree.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from eawe.db.ids import new_id

__all__ = [
    "A2ATask",
    "AgentThread",
    "ApiKey",
    "Assistant",
    "AssistantVersion",
    "AuditLog",
    "AuditTreeHead",
    "Base",
    "Credential",
    "Cron",
    "Document",
    "HITLStatus",
    "HITLTask",
    "IndexingStatus",
    "McpServer",
    "NodeExecution",
    "Role",
    "RunAdmission",
    "RunStatus",
    "RunStreamEvent",
    "RunTraceContext",
    "Tenant",
    "User",
    "WorkflowDefinition",
    "WorkflowDefinitionVersion",
    "WorkflowRun",
    "WorkflowStatus",
    "utcnow",
]


def utcnow() -> datetime:
    """Naive UTC now: Prisma's ``DateTime`` is ``timestamp(3)`` without time zone, stored as UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Role(enum.StrEnum):
    ADMINISTRATOR = "ADMINISTRATOR"
    DESIGNER = "DESIGNER"
    OPERATOR = "OPERATOR"


class WorkflowStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class RunStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PAUSED_FOR_APPROVAL = "PAUSED_FOR_APPROVAL"
    PAUSED_WITH_ERROR = "PAUSED_WITH_ERROR"
    CANCELLED = "CANCELLED"


class HITLStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EDITED_AND_APPROVED = "EDITED_AND_APPROVED"
    CANCELLED = "CANCELLED"


class IndexingStatus(enum.StrEnum):
    PENDING = "PENDING"
    INDEXING = "INDEXING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


def _enum(py_enum: type[enum.Enum], name: str) -> Enum:
    return Enum(py_enum, name=name, create_type=False, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData()


# Column helpers: keep the Prisma type mapping in one place.
def _id() -> Mapped[str]:
    return mapped_column("id", Text, primary_key=True, default=new_id)


def _ts(name: str, *, nullable: bool = False, now: bool = True, onupdate: bool = False) -> Any:
    return mapped_column(
        name,
        TIMESTAMP(precision=3),
        nullable=nullable,
        default=utcnow if now else None,
        server_default=text("CURRENT_TIMESTAMP") if now and not onupdate else None,
        onupdate=utcnow if onupdate else None,
    )


def _fk(name: str, target: str, *, nullable: bool = False, ondelete: str | None = None) -> Any:
    return mapped_column(name, Text, ForeignKey(target, ondelete=ondelete), nullable=nullable)


class Tenant(Base):
    __tablename__ = "Tenant"
    __table_args__ = (Index("Tenant_name_key", "name", unique=True),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(
        "settings", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class User(Base):
    __tablename__ = "User"
    __table_args__ = (Index("User_email_key", "email", unique=True), Index("User_tenantId_idx", "tenantId"))

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column("email", Text, nullable=False)
    name: Mapped[str | None] = mapped_column("name", Text)
    password: Mapped[str] = mapped_column("password", Text, nullable=False)
    role: Mapped[Role] = mapped_column(
        "role", _enum(Role, "Role"), nullable=False, default=Role.OPERATOR, server_default=text("'OPERATOR'")
    )
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    groups: Mapped[list[str] | None] = mapped_column(
        "groups", ARRAY(Text), nullable=True, default=list, server_default=text("ARRAY[]::TEXT[]")
    )
    is_active: Mapped[bool] = mapped_column(
        "isActive", Boolean, nullable=False, default=True, server_default=text("true")
    )
    session_epoch: Mapped[int] = mapped_column(
        "sessionEpoch", Integer, nullable=False, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class ApiKey(Base):
    __tablename__ = "ApiKey"
    __table_args__ = (
        Index("ApiKey_prefix_key", "prefix", unique=True),
        Index("ApiKey_tenantId_idx", "tenantId"),
    )

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    user_id: Mapped[str] = _fk("userId", "User.id")
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    prefix: Mapped[str] = mapped_column("prefix", Text, nullable=False)
    key_hash: Mapped[str] = mapped_column("keyHash", Text, nullable=False)
    created_at: Mapped[datetime] = _ts("createdAt")
    last_used_at: Mapped[datetime | None] = _ts("lastUsedAt", nullable=True, now=False)
    revoked_at: Mapped[datetime | None] = _ts("revokedAt", nullable=True, now=False)


class WorkflowDefinition(Base):
    __tablename__ = "WorkflowDefinition"
    __table_args__ = (
        Index("WorkflowDefinition_tenantId_status_idx", "tenantId", "status"),
        Index("WorkflowDefinition_tenantId_slug_key", "tenantId", "slug", unique=True),
    )

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    description: Mapped[str | None] = mapped_column("description", Text)
    status: Mapped[WorkflowStatus] = mapped_column(
        "status",
        _enum(WorkflowStatus, "WorkflowStatus"),
        nullable=False,
        default=WorkflowStatus.DRAFT,
        server_default=text("'DRAFT'"),
    )
    definition_graph: Mapped[dict[str, Any]] = mapped_column("definitionGraph", JSONB, nullable=False)
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    version: Mapped[int] = mapped_column(
        "version", Integer, nullable=False, default=1, server_default=text("1")
    )
    published_version: Mapped[int | None] = mapped_column("publishedVersion", Integer)
    slug: Mapped[str | None] = mapped_column("slug", Text)
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class WorkflowDefinitionVersion(Base):
    __tablename__ = "WorkflowDefinitionVersion"
    __table_args__ = (
        Index(
            "WorkflowDefinitionVersion_workflowDefinitionId_version_key",
            "workflowDefinitionId",
            "version",
            unique=True,
        ),
        Index("WorkflowDefinitionVersion_tenantId_idx", "tenantId"),
    )

    id: Mapped[str] = _id()
    workflow_definition_id: Mapped[str] = mapped_column(
        "workflowDefinitionId", Text, ForeignKey("WorkflowDefinition.id", ondelete="CASCADE"), nullable=False
    )
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    version: Mapped[int] = mapped_column("version", Integer, nullable=False)
    definition_graph: Mapped[dict[str, Any]] = mapped_column("definitionGraph", JSONB, nullable=False)
    graph_hash: Mapped[str] = mapped_column("graphHash", Text, nullable=False)
    published_by_id: Mapped[str | None] = _fk("publishedById", "User.id", nullable=True)
    published_at: Mapped[datetime] = _ts("publishedAt")


class WorkflowRun(Base):
    __tablename__ = "WorkflowRun"
    __table_args__ = (
        Index("WorkflowRun_tenantId_status_idx", "tenantId", "status"),
        Index("WorkflowRun_status_leaseExpiresAt_idx", "status", "leaseExpiresAt"),
        Index("WorkflowRun_threadId_createdAt_idx", "threadId", "createdAt"),
    )

    id: Mapped[str] = _id()
    workflow_definition_id: Mapped[str | None] = _fk(
        "workflowDefinitionId", "WorkflowDefinition.id", nullable=True
    )
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    status: Mapped[RunStatus] = mapped_column(
        "status",
        _enum(RunStatus, "RunStatus"),
        nullable=False,
        default=RunStatus.PENDING,
        server_default=text("'PENDING'"),
    )
    payload: Mapped[Any | None] = mapped_column("payload", JSONB)
    state: Mapped[Any | None] = mapped_column("state", JSONB)
    started_at: Mapped[datetime | None] = _ts("startedAt", nullable=True, now=False)
    completed_at: Mapped[datetime | None] = _ts("completedAt", nullable=True, now=False)
    workflow_version: Mapped[int] = mapped_column(
        "workflowVersion", Integer, nullable=False, default=1, server_default=text("1")
    )
    graph_hash: Mapped[str] = mapped_column(
        "graphHash", Text, nullable=False, default="", server_default=text("''")
    )
    started_by_id: Mapped[str | None] = _fk("startedById", "User.id", nullable=True)
    input: Mapped[Any | None] = mapped_column("input", JSONB)
    error: Mapped[Any | None] = mapped_column("error", JSONB)
    lease_owner: Mapped[str | None] = mapped_column("leaseOwner", Text)
    lease_expires_at: Mapped[datetime | None] = _ts("leaseExpiresAt", nullable=True, now=False)
    attempts: Mapped[int] = mapped_column(
        "attempts", Integer, nullable=False, default=0, server_default=text("0")
    )
    cancel_requested: Mapped[bool] = mapped_column(
        "cancelRequested", Boolean, nullable=False, default=False, server_default=text("false")
    )
    thread_id: Mapped[str | None] = _fk("threadId", "AgentThread.id", nullable=True)
    assistant_id: Mapped[str | None] = mapped_column("assistantId", Text)
    graph_id: Mapped[str] = mapped_column(
        "graphId", Text, nullable=False, default="", server_default=text("''")
    )
    kwargs: Mapped[dict[str, Any]] = mapped_column(
        "kwargs", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    multitask_strategy: Mapped[str] = mapped_column(
        "multitaskStrategy", Text, nullable=False, default="reject", server_default=text("'reject'")
    )
    # The last seq handed out in the run's event outbox (``RunStreamEvent``).
    event_seq: Mapped[int] = mapped_column(
        "eventSeq", Integer, nullable=False, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class AgentThread(Base):
    """An Agent-Protocol (LangGraph) thread: its id is the checkpoints' ``thread_id``; many runs."""

    __tablename__ = "AgentThread"
    __table_args__ = (Index("AgentThread_tenantId_createdAt_idx", "tenantId", "createdAt"),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    created_by_id: Mapped[str | None] = _fk("createdById", "User.id", nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    status: Mapped[str] = mapped_column(
        "status", Text, nullable=False, default="idle", server_default=text("'idle'")
    )
    graph_id: Mapped[str | None] = mapped_column("graphId", Text)
    assistant_id: Mapped[str | None] = mapped_column("assistantId", Text)
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class Assistant(Base):
    """An Agent-Protocol assistant: a graph id plus config, context and metadata."""

    __tablename__ = "Assistant"
    __table_args__ = (Index("Assistant_tenantId_graphId_idx", "tenantId", "graphId"),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    graph_id: Mapped[str] = mapped_column("graphId", Text, nullable=False)
    workflow_definition_id: Mapped[str | None] = _fk(
        "workflowDefinitionId", "WorkflowDefinition.id", nullable=True
    )
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    description: Mapped[str | None] = mapped_column("description", Text)
    config: Mapped[dict[str, Any]] = mapped_column(
        "config", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    context: Mapped[dict[str, Any]] = mapped_column(
        "context", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    version: Mapped[int] = mapped_column(
        "version", Integer, nullable=False, default=1, server_default=text("1")
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class AssistantVersion(Base):
    __tablename__ = "AssistantVersion"
    __table_args__ = (
        Index("AssistantVersion_assistantId_version_key", "assistantId", "version", unique=True),
    )

    id: Mapped[str] = _id()
    assistant_id: Mapped[str] = _fk("assistantId", "Assistant.id", ondelete="CASCADE")
    version: Mapped[int] = mapped_column("version", Integer, nullable=False)
    graph_id: Mapped[str] = mapped_column("graphId", Text, nullable=False)
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    description: Mapped[str | None] = mapped_column("description", Text)
    config: Mapped[dict[str, Any]] = mapped_column(
        "config", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    context: Mapped[dict[str, Any]] = mapped_column(
        "context", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = _ts("createdAt")


class Cron(Base):
    """A scheduled run of an assistant (Agent-Protocol crons)."""

    __tablename__ = "Cron"
    __table_args__ = (
        Index("Cron_enabled_nextRunAt_idx", "enabled", "nextRunAt"),
        Index("Cron_tenantId_createdAt_idx", "tenantId", "createdAt"),
    )

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    assistant_id: Mapped[str] = mapped_column("assistantId", Text, nullable=False)
    thread_id: Mapped[str | None] = mapped_column("threadId", Text)
    schedule: Mapped[str] = mapped_column("schedule", Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(
        "payload", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    enabled: Mapped[bool] = mapped_column(
        "enabled", Boolean, nullable=False, default=True, server_default=text("true")
    )
    next_run_at: Mapped[datetime | None] = _ts("nextRunAt", nullable=True, now=False)
    end_time: Mapped[datetime | None] = _ts("endTime", nullable=True, now=False)
    created_by_id: Mapped[str | None] = _fk("createdById", "User.id", nullable=True)
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class RunStreamEvent(Base):
    """One stored stream part of a run (``event`` is the SSE event name, ``seq`` its order)."""

    __tablename__ = "RunStreamEvent"

    run_id: Mapped[str] = mapped_column(
        "runId", Text, ForeignKey("WorkflowRun.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column("seq", Integer, primary_key=True)
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    event: Mapped[str] = mapped_column("event", Text, nullable=False)
    data: Mapped[Any] = mapped_column("data", JSONB, nullable=False)
    created_at: Mapped[datetime] = _ts("createdAt")


class HITLTask(Base):
    __tablename__ = "HITLTask"
    __table_args__ = (
        Index("HITLTask_tenantId_status_idx", "tenantId", "status"),
        Index("HITLTask_assignedToId_status_idx", "assignedToId", "status"),
        Index("HITLTask_workflowRunId_idx", "workflowRunId"),
        Index("HITLTask_status_dueAt_idx", "status", "dueAt"),
    )

    id: Mapped[str] = _id()
    workflow_run_id: Mapped[str] = _fk("workflowRunId", "WorkflowRun.id")
    assigned_to_id: Mapped[str] = _fk("assignedToId", "User.id")
    status: Mapped[HITLStatus] = mapped_column(
        "status",
        _enum(HITLStatus, "HITLStatus"),
        nullable=False,
        default=HITLStatus.PENDING,
        server_default=text("'PENDING'"),
    )
    task_data: Mapped[Any] = mapped_column("taskData", JSONB, nullable=False)
    original_agent_output: Mapped[Any | None] = mapped_column("originalAgentOutput", JSONB)
    human_corrected_output: Mapped[Any | None] = mapped_column("humanCorrectedOutput", JSONB)
    rejection_reason: Mapped[str | None] = mapped_column("rejectionReason", Text)
    created_at: Mapped[datetime] = _ts("createdAt")
    resolved_at: Mapped[datetime | None] = _ts("resolvedAt", nullable=True, now=False)
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    node_id: Mapped[str] = mapped_column(
        "nodeId", Text, nullable=False, default="", server_default=text("''")
    )
    interrupt_id: Mapped[str | None] = mapped_column("interruptId", Text)
    assigned_role: Mapped[Role | None] = mapped_column("assignedRole", _enum(Role, "Role"))
    due_at: Mapped[datetime | None] = _ts("dueAt", nullable=True, now=False)
    decided_by_id: Mapped[str | None] = _fk("decidedById", "User.id", nullable=True)
    workflow_version: Mapped[int] = mapped_column(
        "workflowVersion", Integer, nullable=False, default=1, server_default=text("1")
    )
    escalated_at: Mapped[datetime | None] = _ts("escalatedAt", nullable=True, now=False)


class AuditLog(Base):
    __tablename__ = "AuditLog"
    __table_args__ = (
        Index("AuditLog_tenantId_seq_key", "tenantId", "seq", unique=True),
        Index("AuditLog_tenantId_leafIndex_key", "tenantId", "leafIndex", unique=True),
        Index("AuditLog_leafIndex_xactId_seq_idx", "leafIndex", "xactId", "seq"),
        Index("AuditLog_workflowRunId_idx", "workflowRunId"),
    )
    # The INSERT returns seq and xactId (database defaults) in the same statement.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[str] = _id()
    workflow_run_id: Mapped[str | None] = _fk("workflowRunId", "WorkflowRun.id", nullable=True)
    actor_id: Mapped[str | None] = _fk("actorId", "User.id", nullable=True)
    actor_type: Mapped[str] = mapped_column(
        "actorType", Text, nullable=False, default="SYSTEM", server_default=text("'SYSTEM'")
    )
    action: Mapped[str] = mapped_column("action", Text, nullable=False)
    details: Mapped[Any | None] = mapped_column("details", JSONB)
    timestamp: Mapped[datetime] = _ts("timestamp")
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    # Insertion order from one global sequence; the sealer sets the rest once (eawe/audit_sealer.py).
    seq: Mapped[int] = mapped_column(
        "seq", BigInteger, nullable=False, server_default=text("nextval('auditlog_seq_seq')")
    )
    prev_hash: Mapped[str | None] = mapped_column("prevHash", Text, nullable=True)
    hash: Mapped[str | None] = mapped_column("hash", Text, nullable=True)
    xact_id: Mapped[int] = mapped_column(
        "xactId", BigInteger, nullable=False, server_default=text("((pg_current_xact_id())::text)::bigint")
    )
    leaf_index: Mapped[int | None] = mapped_column("leafIndex", BigInteger, nullable=True)


class AuditTreeHead(Base):
    """A signed tree head of one tenant's audit log, published by the sealer."""

    __tablename__ = "AuditTreeHead"
    __table_args__ = (Index("AuditTreeHead_tenantId_treeSize_key", "tenantId", "treeSize", unique=True),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    tree_size: Mapped[int] = mapped_column("treeSize", BigInteger, nullable=False)
    root_hash: Mapped[str] = mapped_column("rootHash", Text, nullable=False)
    timestamp: Mapped[datetime] = _ts("timestamp", now=False)
    key_id: Mapped[str] = mapped_column("keyId", Text, nullable=False)
    signature: Mapped[str] = mapped_column("signature", Text, nullable=False)
    frontier: Mapped[Any] = mapped_column("frontier", JSONB, nullable=False)
    created_at: Mapped[datetime] = _ts("createdAt")


class Credential(Base):
    __tablename__ = "Credential"
    __table_args__ = (Index("Credential_tenantId_idx", "tenantId"),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    type: Mapped[str] = mapped_column("type", Text, nullable=False)
    service_name: Mapped[str] = mapped_column("serviceName", Text, nullable=False)
    encrypted_value: Mapped[str] = mapped_column("encryptedValue", Text, nullable=False)
    name: Mapped[str] = mapped_column("name", Text, nullable=False, default="", server_default=text("''"))
    key_version: Mapped[int] = mapped_column(
        "keyVersion", Integer, nullable=False, default=1, server_default=text("1")
    )
    updated_at: Mapped[datetime] = mapped_column(
        "updatedAt",
        TIMESTAMP(precision=3),
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=text("CURRENT_TIMESTAMP"),
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    allowed_hosts: Mapped[list[str] | None] = mapped_column(
        "allowedHosts", ARRAY(Text), nullable=True, default=list, server_default=text("ARRAY[]::TEXT[]")
    )
    allowed_methods: Mapped[list[str] | None] = mapped_column(
        "allowedMethods", ARRAY(Text), nullable=True, default=list, server_default=text("ARRAY[]::TEXT[]")
    )


class Document(Base):
    __tablename__ = "Document"
    __table_args__ = (
        Index("Document_tenantId_sourceUri_key", "tenantId", "sourceUri", unique=True),
        Index("Document_tenantId_status_idx", "tenantId", "status"),
    )

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    source_uri: Mapped[str] = mapped_column("sourceUri", Text, nullable=False)
    file_name: Mapped[str] = mapped_column("fileName", Text, nullable=False)
    file_type: Mapped[str] = mapped_column("fileType", Text, nullable=False)
    status: Mapped[IndexingStatus] = mapped_column(
        "status",
        _enum(IndexingStatus, "IndexingStatus"),
        nullable=False,
        default=IndexingStatus.PENDING,
        server_default=text("'PENDING'"),
    )
    last_indexed: Mapped[datetime | None] = _ts("lastIndexed", nullable=True, now=False)
    allowed_roles: Mapped[list[str] | None] = mapped_column(
        "allowedRoles", ARRAY(Text), nullable=True, default=list, server_default=text("ARRAY[]::TEXT[]")
    )
    chunk_count: Mapped[int | None] = mapped_column("chunkCount", Integer)
    error: Mapped[str | None] = mapped_column("error", Text)
    author: Mapped[str | None] = mapped_column("author", Text)
    created_at_source: Mapped[datetime | None] = _ts("createdAtSource", nullable=True, now=False)
    size_bytes: Mapped[int | None] = mapped_column("sizeBytes", Integer)
    content_sha256: Mapped[str | None] = mapped_column("contentSha256", Text)
    updated_at: Mapped[datetime] = mapped_column(
        "updatedAt",
        TIMESTAMP(precision=3),
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=text("CURRENT_TIMESTAMP"),
    )
    created_at: Mapped[datetime] = _ts("createdAt")


class NodeExecution(Base):
    """One node execution: duration and model token usage (no relations: see schema.prisma)."""

    __tablename__ = "NodeExecution"
    __table_args__ = (
        Index("NodeExecution_workflowRunId_idx", "workflowRunId"),
        Index("NodeExecution_tenantId_createdAt_idx", "tenantId", "createdAt"),
    )

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = mapped_column("tenantId", Text, nullable=False)
    workflow_run_id: Mapped[str] = mapped_column("workflowRunId", Text, nullable=False)
    node_id: Mapped[str] = mapped_column("nodeId", Text, nullable=False)
    node_type: Mapped[str] = mapped_column("nodeType", Text, nullable=False)
    outcome: Mapped[str] = mapped_column("outcome", Text, nullable=False)
    duration_ms: Mapped[int] = mapped_column("durationMs", Integer, nullable=False)
    token_usage: Mapped[dict[str, Any]] = mapped_column(
        "tokenUsage", JSONB, nullable=False, default=dict, server_default=text("'{}'")
    )
    input_tokens: Mapped[int] = mapped_column(
        "inputTokens", Integer, nullable=False, default=0, server_default=text("0")
    )
    output_tokens: Mapped[int] = mapped_column(
        "outputTokens", Integer, nullable=False, default=0, server_default=text("0")
    )
    total_tokens: Mapped[int] = mapped_column(
        "totalTokens", Integer, nullable=False, default=0, server_default=text("0")
    )
    started_at: Mapped[datetime] = _ts("startedAt", now=False)
    created_at: Mapped[datetime] = _ts("createdAt")


class RunTraceContext(Base):
    """The W3C trace context of the request that created a run."""

    __tablename__ = "RunTraceContext"

    workflow_run_id: Mapped[str] = mapped_column("workflowRunId", Text, primary_key=True)
    traceparent: Mapped[str] = mapped_column("traceparent", Text, nullable=False)
    tracestate: Mapped[str] = mapped_column(
        "tracestate", Text, nullable=False, default="", server_default=text("''")
    )
    created_at: Mapped[datetime] = _ts("createdAt")


class RunAdmission(Base):
    """A run admitted by the per-tenant run rate limit (see ``eawe.db.repositories.run_admissions``)."""

    __tablename__ = "RunAdmission"
    __table_args__ = (Index("RunAdmission_tenantId_admittedAt_idx", "tenantId", "admittedAt"),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = mapped_column("tenantId", Text, nullable=False)
    admitted_at: Mapped[datetime] = _ts("admittedAt")


class McpServer(Base):
    """An MCP server the tenant's ``mcp_tool`` nodes may call: where, how, with which credential
    and which of its tools."""

    __tablename__ = "McpServer"
    __table_args__ = (Index("McpServer_tenantId_name_key", "tenantId", "name", unique=True),)

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    name: Mapped[str] = mapped_column("name", Text, nullable=False)
    url: Mapped[str] = mapped_column("url", Text, nullable=False)
    transport: Mapped[str] = mapped_column(
        "transport", Text, nullable=False, default="streamable_http", server_default=text("'streamable_http'")
    )
    credential_id: Mapped[str | None] = mapped_column(
        "credentialId", Text, ForeignKey("Credential.id", ondelete="SET NULL"), nullable=True
    )
    allowed_tools: Mapped[list[str] | None] = mapped_column(
        "allowedTools", ARRAY(Text), nullable=True, default=list, server_default=text("ARRAY[]::TEXT[]")
    )
    created_at: Mapped[datetime] = _ts("createdAt")
    updated_at: Mapped[datetime] = _ts("updatedAt", onupdate=True)


class A2ATask(Base):
    """A run started through ``/a2a`` and the A2A context it belongs to."""

    __tablename__ = "A2ATask"
    __table_args__ = (
        Index("A2ATask_workflowRunId_key", "workflowRunId", unique=True),
        Index("A2ATask_tenantId_contextId_createdAt_idx", "tenantId", "contextId", "createdAt"),
    )

    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _fk("tenantId", "Tenant.id")
    workflow_run_id: Mapped[str] = mapped_column("workflowRunId", Text, nullable=False)
    context_id: Mapped[str] = mapped_column("contextId", Text, nullable=False)
    created_at: Mapped[datetime] = _ts("createdAt")
