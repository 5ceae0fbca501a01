"""Workflow definitions and their frozen, published versions (always scoped by tenant).

These functions store what they are given; the definition JSON is validated by the engine
(``checkpoints.engine.RunEngine.validate`` / ``publish``) before it gets here.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.driver_cursor import driver_cursor
from eawe.db.ids import new_id
from eawe.db.models import WorkflowDefinition, WorkflowDefinitionVersion, WorkflowStatus
from eawe.db.pagination import Page, paginate
from eawe.db.repositories.assistants import ensure_default_assistant
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError

__all__ = [
    "archive_workflow",
    "create_workflow",
    "get_version",
    "get_version_to_run",
    "get_workflow",
    "list_versions",
    "list_workflows",
    "publish_version",
    "update_workflow",
    "version_public",
    "workflow_public",
]

_UNSET: Any = object()


def _actor(actor_id: str | None) -> str:
    return ActorType.USER if actor_id else ActorType.SYSTEM


def _check(name: Any = _UNSET, definition_graph: Any = _UNSET) -> None:
    problems = []
    if name is not _UNSET and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        problems.append(Problem(field="name", message="must be a non-empty string of at most 200 characters"))
    if definition_graph is not _UNSET and not isinstance(definition_graph, dict):
        problems.append(Problem(field="definition_graph", message="must be a JSON object"))
    if problems:
        raise ValidationError(problems)


async def _unique_slug(session: AsyncSession, tenant_id: str, name: str) -> str:
    """The name in lower-case words joined by '-', suffixed -2, -3, ... until free in the tenant."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-") or "workflow"
    taken = set(
        (
            await session.scalars(
                select(WorkflowDefinition.slug).where(
                    WorkflowDefinition.tenant_id == tenant_id, WorkflowDefinition.slug.like(f"{base}%")
                )
            )
        ).all()
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


async def create_workflow(
    session: AsyncSession,
    *,
    tenant_id: str,
    name: str,
    definition_graph: dict[str, Any],
    description: str | None = None,
    actor_id: str | None = None,
) -> WorkflowDefinition:
    """Store a new DRAFT definition."""
    _check(name, definition_graph)
    row = WorkflowDefinition(
        id=new_id(),
        tenant_id=tenant_id,
        name=name.strip(),
        description=description,
        definition_graph=definition_graph,
        status=WorkflowStatus.DRAFT,
        version=1,
        slug=await _unique_slug(session, tenant_id, name.strip()),
    )
    session.add(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="WORKFLOW_CREATED",
        actor_type=_actor(actor_id),
        actor_id=actor_id,
        details={"workflow_id": row.id, "name": row.name},
    )
    return row


async def get_workflow(
    session: AsyncSession, tenant_id: str, workflow_id: str, *, for_update: bool = False
) -> WorkflowDefinition:
    """The definition; another tenant's id is not found."""
    stmt = select(WorkflowDefinition).where(
        WorkflowDefinition.tenant_id == tenant_id, WorkflowDefinition.id == workflow_id
    )
    row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFoundError("workflow", workflow_id)
    return row


async def list_workflows(
    session: AsyncSession,
    tenant_id: str,
    *,
    status: WorkflowStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[WorkflowDefinition]:
    stmt = select(WorkflowDefinition).where(WorkflowDefinition.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(WorkflowDefinition.status == status)
    return await paginate(session, stmt, WorkflowDefinition.id, limit=limit, cursor=cursor)


async def update_workflow(
    session: AsyncSession,
    tenant_id: str,
    workflow_id: str,
    *,
    name: str = _UNSET,
    description: str | None = _UNSET,
    definition_graph: dict[str, Any] = _UNSET,
    actor_id: str | None = None,
) -> WorkflowDefinition:
    """Edit the draft. A new graph bumps ``version``; published versions stay frozen."""
    _check(name, definition_graph)
    row = await get_workflow(session, tenant_id, workflow_id, for_update=True)
    if row.status == WorkflowStatus.ARCHIVED:
        raise ConflictError("an archived workflow cannot be edited", field="status")
    changed = []
    if name is not _UNSET and name.strip() != row.name:
        row.name = name.strip()
        changed.append("name")
    if description is not _UNSET and description != row.description:
        row.description = description
        changed.append("description")
    if definition_graph is not _UNSET and definition_graph != row.definition_graph:
        row.definition_graph = definition_graph
        row.version += 1
        changed.append("definition_graph")
    if changed:
        await session.flush()
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="WORKFLOW_UPDATED",
            actor_type=_actor(actor_id),
            actor_id=actor_id,
            details={"workflow_id": row.id, "changed": changed, "version": row.version},
        )
    return row


async def archive_workflow(
    session: AsyncSession, tenant_id: str, workflow_id: str, *, actor_id: str | None = None
) -> WorkflowDefinition:
    """Archive (runs keep their pinned versions; no new runs start)."""
    row = await get_workflow(session, tenant_id, workflow_id, for_update=True)
    if row.status != WorkflowStatus.ARCHIVED:
        row.status = WorkflowStatus.ARCHIVED
        await session.flush()
        await append_audit(
            session,
            tenant_id=tenant_id,
            action="WORKFLOW_ARCHIVED",
            actor_type=_actor(actor_id),
            actor_id=actor_id,
            details={"workflow_id": row.id},
        )
    return row


async def publish_version(
    session: AsyncSession,
    tenant_id: str,
    workflow_id: str,
    *,
    graph_hash: str,
    actor_id: str | None = None,
) -> WorkflowDefinitionVersion:
    """Freeze the current draft as the next version and make the workflow ACTIVE.

    Publishing an unchanged draft returns the newest version instead of a duplicate.
    """
    row = await get_workflow(session, tenant_id, workflow_id, for_update=True)
    if row.status == WorkflowStatus.ARCHIVED:
        raise ConflictError("an archived workflow cannot be published", field="status")
    latest = await session.scalar(
        select(WorkflowDefinitionVersion)
        .where(WorkflowDefinitionVersion.workflow_definition_id == row.id)
        .order_by(WorkflowDefinitionVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.graph_hash == graph_hash:
        if row.status != WorkflowStatus.ACTIVE:
            row.status = WorkflowStatus.ACTIVE
            await session.flush()
        return latest
    version = WorkflowDefinitionVersion(
        id=new_id(),
        workflow_definition_id=row.id,
        tenant_id=tenant_id,
        version=(latest.version + 1) if latest else 1,
        definition_graph=row.definition_graph,
        graph_hash=graph_hash,
        published_by_id=actor_id,
    )
    session.add(version)
    row.status = WorkflowStatus.ACTIVE
    row.published_version = version.version
    await session.flush()
    # The workflow's default assistant: assistant id = workflow id, graph id = its slug.
    await ensure_default_assistant(
        session,
        tenant_id,
        graph_id=row.slug or row.id,
        assistant_id=row.id,
        workflow_definition_id=row.id,
        name=row.name,
        description=row.description,
    )
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="WORKFLOW_PUBLISHED",
        actor_type=_actor(actor_id),
        actor_id=actor_id,
        details={"workflow_id": row.id, "version": version.version, "graph_hash": graph_hash},
    )
    return version


async def get_version(
    session: AsyncSession, tenant_id: str, workflow_id: str, version: int | None = None
) -> WorkflowDefinitionVersion:
    """A published version (the newest when ``version`` is None)."""
    stmt = select(WorkflowDefinitionVersion).where(
        WorkflowDefinitionVersion.tenant_id == tenant_id,
        WorkflowDefinitionVersion.workflow_definition_id == workflow_id,
    )
    stmt = (
        stmt.where(WorkflowDefinitionVersion.version == version)
        if version is not None
        else stmt.order_by(WorkflowDefinitionVersion.version.desc()).limit(1)
    )
    row = await session.scalar(stmt)
    if row is None:
        what = (
            f"workflow {workflow_id!r} version {version}"
            if version
            else f"published version of {workflow_id!r}"
        )
        raise NotFoundError(what)
    return row


_VERSION_TO_RUN_SQL = """
SELECT w.slug, w.status::text, v.id, v.version, v."definitionGraph", v."graphHash",
       v."publishedById", v."publishedAt"
FROM "WorkflowDefinition" w
LEFT JOIN LATERAL (
    SELECT * FROM "WorkflowDefinitionVersion" v
    WHERE v."tenantId" = w."tenantId" AND v."workflowDefinitionId" = w.id
      AND (%(version)s::int IS NULL OR v.version = %(version)s::int)
    ORDER BY v.version DESC LIMIT 1
) v ON true
WHERE w."tenantId" = %(tenant)s AND w.id = %(workflow)s"""


async def get_version_to_run(
    session: AsyncSession, tenant_id: str, workflow_id: str, version: int | None = None
) -> tuple[str, WorkflowStatus, WorkflowDefinitionVersion | None]:
    """The workflow's graph id (slug, else id), its status and the published version to run
    (the newest when ``version`` is None; None when there is no such version), in one query
    (on the hot path of every run: sent through the driver, the version row built here, not
    added to the session).

    Raises:
        eawe.errors.NotFoundError: No such workflow in this tenant.
    """
    async with driver_cursor(session) as cursor:
        await cursor.execute(
            _VERSION_TO_RUN_SQL, {"tenant": tenant_id, "workflow": workflow_id, "version": version}
        )
        row = await cursor.fetchone()
    if row is None:
        raise NotFoundError("workflow", workflow_id)
    slug, status, version_id, number, definition, graph_hash, published_by, published_at = row
    pinned = (
        WorkflowDefinitionVersion(
            id=version_id,
            workflow_definition_id=workflow_id,
            tenant_id=tenant_id,
            version=number,
            definition_graph=definition,
            graph_hash=graph_hash,
            published_by_id=published_by,
            published_at=published_at,
        )
        if version_id is not None
        else None
    )
    return slug or workflow_id, WorkflowStatus(status), pinned


async def list_versions(
    session: AsyncSession, tenant_id: str, workflow_id: str
) -> list[WorkflowDefinitionVersion]:
    """Published versions, newest first."""
    await get_workflow(session, tenant_id, workflow_id)
    rows = await session.scalars(
        select(WorkflowDefinitionVersion)
        .where(
            WorkflowDefinitionVersion.tenant_id == tenant_id,
            WorkflowDefinitionVersion.workflow_definition_id == workflow_id,
        )
        .order_by(WorkflowDefinitionVersion.version.desc())
    )
    return list(rows.all())


def workflow_public(row: WorkflowDefinition) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "name": row.name,
        "description": row.description,
        "status": row.status.value,
        "version": row.version,
        "published_version": row.published_version,
        "definition_graph": row.definition_graph,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def version_public(row: WorkflowDefinitionVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow_id": row.workflow_definition_id,
        "version": row.version,
        "graph_hash": row.graph_hash,
        "definition_graph": row.definition_graph,
        "published_by_id": row.published_by_id,
        "published_at": row.published_at,
    }
