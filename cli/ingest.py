"""``eawe ingest PATH... --allowed-roles A,B``: index files with a progress bar and a summary."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import or_, select

from cli.operator_scope import operator_command
from eawe.db.database import Database, open_app_database
from eawe.db.models import Tenant
from eawe.db.repositories.tenants import create_tenant
from eawe.errors import NotFoundError
from eawe.settings import Settings
from retrieval.ingestion import IngestOutcome, ingest_paths
from retrieval.store_factory import open_chunk_store
from retrieval.write_locks import postgres_tenant_write_lock

__all__ = ["DEFAULT_TENANT", "ingest_from_cli"]

DEFAULT_TENANT = "local"


async def _resolve_tenant(database: Database, tenant: str) -> str:
    async with database.transaction() as session:
        row = await session.scalar(select(Tenant).where(or_(Tenant.id == tenant, Tenant.name == tenant)))
        if row is not None:
            return row.id
        if tenant == DEFAULT_TENANT:  # the single-user default, as `eawe run` uses it
            return (await create_tenant(session, DEFAULT_TENANT)).id
    raise NotFoundError("tenant", tenant)


@operator_command
async def ingest_from_cli(
    paths: Sequence[Path], allowed_roles: Sequence[str], *, tenant: str, settings: Settings, console: Console
) -> bool:
    """Index ``paths`` for ``tenant`` (id or name) with a progress bar; True if no file failed."""
    database = await open_app_database(settings, migrate=True, check_role=False)
    store: Any = None
    try:
        tenant_id = await _resolve_tenant(database, tenant)
        store = await asyncio.to_thread(
            open_chunk_store, settings, write_lock=postgres_tenant_write_lock(database)
        )
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        with progress:
            outcomes = await ingest_paths(
                paths,
                tenant_id=tenant_id,
                allowed_roles=allowed_roles,
                settings=settings,
                database=database,
                vector_store=store,
                progress=progress,
            )
        await asyncio.to_thread(store.optimize)
        console.print(_summary(outcomes))
        return all(o.ok for o in outcomes)
    finally:
        if store is not None:
            await asyncio.to_thread(store.close)
        await database.dispose()


def _summary(outcomes: Sequence[IngestOutcome]) -> Table:
    table = Table(title=f"{len(outcomes)} file(s)")
    for column in ("file", "status", "chunks", "document id / reason"):
        table.add_column(column)
    for o in outcomes:
        style = {"COMPLETED": "green", "FAILED": "red"}.get(o.status, "yellow")
        detail = o.error if o.error else (o.document_id or "")
        chunks = "" if o.chunk_count is None else str(o.chunk_count)
        table.add_row(Path(o.source).name, f"[{style}]{o.status}[/{style}]", chunks, detail)
    return table
