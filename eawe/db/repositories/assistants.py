"""Assistants (a graph id with config, context and metadata) and their versions, by tenant."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import Assistant, AssistantVersion, utcnow
from eawe.db.unique_conflicts import conflict_on_duplicate
from eawe.errors import ConflictError, NotFoundError

__all__ = [
    "count_assistants",
    "create_assistant",
    "default_assistant_id",
    "delete_assistant",
    "ensure_default_assistant",
    "find_assistant",
    "get_assistant",
    "list_versions",
    "search_assistants",
    "set_latest_version",
    "update_assistant",
]

_NAMESPACE = uuid.UUID("5f0b8d43-61a4-4b9e-9b53-1c9e2f6d7a10")


def default_assistant_id(tenant_id: str, graph_id: str) -> str:
    """The id of a code graph's default assistant in a tenant (stable, like LangGraph's uuid5)."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}:{graph_id}"))


def _version_row(row: Assistant) -> AssistantVersion:
    return AssistantVersion(
        id=f"{row.id}-v{row.version}",
        assistant_id=row.id,
        version=row.version,
        graph_id=row.graph_id,
        name=row.name,
        description=row.description,
        config=dict(row.config or {}),
        context=dict(row.context or {}),
        metadata_=dict(row.metadata_ or {}),
        created_at=utcnow(),
    )


async def create_assistant(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph_id: str,
    assistant_id: str | None = None,
    workflow_definition_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    config: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    if_exists: str = "raise",
) -> Assistant:
    """A new assistant at version 1.

    Raises:
        eawe.errors.ConflictError: ``assistant_id`` is taken (``if_exists="do_nothing"`` returns
            the caller's own existing assistant instead).
    """
    if assistant_id is not None:
        existing = await session.scalar(select(Assistant).where(Assistant.id == assistant_id))
        if existing is not None:
            if existing.tenant_id == tenant_id and if_exists == "do_nothing":
                return existing
            raise ConflictError(f"assistant {assistant_id} already exists", field="assistant_id")
    now = utcnow()
    row = Assistant(
        id=assistant_id or str(uuid.uuid4()),
        tenant_id=tenant_id,
        graph_id=graph_id,
        workflow_definition_id=workflow_definition_id,
        name=name or graph_id,
        description=description,
        config=dict(config or {}),
        context=dict(context or {}),
        metadata_=dict(metadata or {}),
        version=1,
        created_at=now,
        updated_at=now,
    )
    chosen = (  # a caller-chosen id may be another tenant's, invisible here: the insert tells
        conflict_on_duplicate(
            session, ConflictError(f"assistant {row.id} already exists", field="assistant_id")
        )
        if assistant_id is not None
        else contextlib.nullcontext()
    )
    async with chosen:
        session.add(row)
        await session.flush()
    session.add(_version_row(row))
    await session.flush()
    return row


async def ensure_default_assistant(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph_id: str,
    assistant_id: str,
    workflow_definition_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Assistant:
    """The graph's default assistant (``metadata.created_by = "system"``), created if missing.

    Safe under concurrency: of requests creating it at once, one inserts, the others find it.
    """
    now = utcnow()
    values = {
        "id": assistant_id,
        "tenant_id": tenant_id,
        "graph_id": graph_id,
        "workflow_definition_id": workflow_definition_id,
        "name": name or graph_id,
        "description": description,
        "config": {},
        "context": {},
        "metadata_": {"created_by": "system"},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await session.scalar(
        pg_insert(Assistant)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Assistant.id)
    )
    if inserted is not None:
        await session.execute(
            pg_insert(AssistantVersion)
            .values(
                id=f"{assistant_id}-v1",
                assistant_id=assistant_id,
                version=1,
                graph_id=graph_id,
                name=values["name"],
                description=description,
                config={},
                context={},
                metadata_={"created_by": "system"},
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
    row = await session.scalar(select(Assistant).where(Assistant.id == assistant_id))
    if row is None or row.tenant_id != tenant_id:
        raise NotFoundError("assistant", assistant_id)
    if row.graph_id != graph_id:  # a workflow renamed its slug: its default follows it
        row.graph_id = graph_id
        await session.flush()
    return row


async def get_assistant(
    session: AsyncSession, tenant_id: str, assistant_id: str, *, for_update: bool = False
) -> Assistant:
    stmt = select(Assistant).where(Assistant.tenant_id == tenant_id, Assistant.id == assistant_id)
    row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFoundError("assistant", assistant_id)
    return row


async def find_assistant(session: AsyncSession, tenant_id: str, key: str) -> Assistant | None:
    """By id, else the default (system) assistant of the graph id ``key``."""
    row = await session.scalar(select(Assistant).where(Assistant.tenant_id == tenant_id, Assistant.id == key))
    if row is not None:
        return row
    return await session.scalar(
        select(Assistant)
        .where(Assistant.tenant_id == tenant_id, Assistant.graph_id == key)
        .order_by(
            (Assistant.metadata_["created_by"].astext == "system").desc(), Assistant.created_at, Assistant.id
        )
        .limit(1)
    )


def _search(
    tenant_id: str, *, graph_id: str | None, name: str | None, metadata: dict[str, Any] | None
) -> Select[Any]:
    stmt = select(Assistant).where(Assistant.tenant_id == tenant_id)
    if graph_id:
        stmt = stmt.where(Assistant.graph_id == graph_id)
    if name:
        stmt = stmt.where(or_(Assistant.name == name, Assistant.name.ilike(f"%{name}%")))
    if metadata:
        stmt = stmt.where(Assistant.metadata_.contains(metadata))
    return stmt


_SORTS = {
    "assistant_id": Assistant.id,
    "graph_id": Assistant.graph_id,
    "name": Assistant.name,
    "created_at": Assistant.created_at,
    "updated_at": Assistant.updated_at,
}


async def search_assistants(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph_id: str | None = None,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> list[Assistant]:
    column = _SORTS.get(sort_by or "created_at", Assistant.created_at)
    order = column.asc() if sort_order == "asc" else column.desc()
    stmt = _search(tenant_id, graph_id=graph_id, name=name, metadata=metadata)
    rows = await session.scalars(stmt.order_by(order, Assistant.id).offset(offset).limit(limit))
    return list(rows.all())


async def count_assistants(
    session: AsyncSession,
    tenant_id: str,
    *,
    graph_id: str | None = None,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    stmt = _search(tenant_id, graph_id=graph_id, name=name, metadata=metadata)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def update_assistant(
    session: AsyncSession, tenant_id: str, assistant_id: str, changes: dict[str, Any]
) -> Assistant:
    """Apply ``changes`` (graph_id, name, description, config, context, metadata) as a new version."""
    row = await get_assistant(session, tenant_id, assistant_id, for_update=True)
    newest = await session.scalar(
        select(func.max(AssistantVersion.version)).where(AssistantVersion.assistant_id == row.id)
    )
    for key in ("graph_id", "name", "description", "config", "context"):
        if changes.get(key) is not None:
            setattr(row, key, changes[key])
    if changes.get("metadata") is not None:
        row.metadata_ = {**(row.metadata_ or {}), **changes["metadata"]}
    row.version = int(newest or 0) + 1
    row.updated_at = utcnow()
    await session.flush()
    session.add(_version_row(row))
    await session.flush()
    return row


async def list_versions(
    session: AsyncSession,
    tenant_id: str,
    assistant_id: str,
    *,
    metadata: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
) -> list[AssistantVersion]:
    await get_assistant(session, tenant_id, assistant_id)
    stmt = select(AssistantVersion).where(AssistantVersion.assistant_id == assistant_id)
    if metadata:
        stmt = stmt.where(AssistantVersion.metadata_.contains(metadata))
    rows = await session.scalars(stmt.order_by(AssistantVersion.version.desc()).offset(offset).limit(limit))
    return list(rows.all())


async def set_latest_version(
    session: AsyncSession, tenant_id: str, assistant_id: str, version: int
) -> Assistant:
    """Make a saved version the assistant's current one."""
    row = await get_assistant(session, tenant_id, assistant_id, for_update=True)
    saved = await session.scalar(
        select(AssistantVersion).where(
            AssistantVersion.assistant_id == assistant_id, AssistantVersion.version == version
        )
    )
    if saved is None:
        raise NotFoundError("assistant version", str(version))
    row.graph_id, row.name, row.description = saved.graph_id, saved.name, saved.description
    row.config, row.context, row.metadata_ = dict(saved.config), dict(saved.context), dict(saved.metadata_)
    row.version, row.updated_at = version, utcnow()
    await session.flush()
    return row


async def delete_assistant(session: AsyncSession, tenant_id: str, assistant_id: str) -> None:
    row = await get_assistant(session, tenant_id, assistant_id, for_update=True)
    await session.delete(row)
    await session.flush()
