"""The tenant's MCP server configurations (``McpServer``): where an ``mcp_tool`` node may connect.

A configuration names a stored Credential of the same tenant (never the secret itself) and the
tools of that server the tenant's workflows may call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.audit import ActorType, append_audit
from eawe.db.models import Credential, McpServer
from eawe.db.pagination import Page, paginate
from eawe.errors import ConflictError, NotFoundError, Problem, ValidationError

__all__ = [
    "MCP_TRANSPORTS",
    "create_mcp_server",
    "delete_mcp_server",
    "find_mcp_server",
    "get_mcp_server",
    "list_mcp_servers",
    "mcp_server_public",
]

MCP_TRANSPORTS = ("streamable_http", "sse")


def _actor_type(actor_id: str | None) -> str:
    return ActorType.USER if actor_id else ActorType.SYSTEM


async def create_mcp_server(
    session: AsyncSession,
    *,
    tenant_id: str,
    name: str,
    url: str,
    transport: str,
    credential_id: str | None,
    allowed_tools: list[str],
    actor_id: str | None = None,
) -> McpServer:
    """Store a configuration.

    Raises:
        eawe.errors.ValidationError: Unknown transport, or a credential not in this tenant.
        eawe.errors.ConflictError: The tenant already has a server with this name.
    """
    if transport not in MCP_TRANSPORTS:
        raise ValidationError(Problem("transport", f"must be one of {', '.join(MCP_TRANSPORTS)}"))
    if credential_id is not None:
        found = await session.scalar(
            select(Credential.id).where(Credential.tenant_id == tenant_id, Credential.id == credential_id)
        )
        if found is None:
            raise ValidationError(Problem("credential_id", f"no credential {credential_id!r} in this tenant"))
    taken = await session.scalar(
        select(McpServer.id).where(McpServer.tenant_id == tenant_id, McpServer.name == name)
    )
    if taken is not None:
        raise ConflictError(f"an MCP server named {name!r} already exists", field="name")
    row = McpServer(
        tenant_id=tenant_id,
        name=name,
        url=url,
        transport=transport,
        credential_id=credential_id,
        allowed_tools=list(allowed_tools),
    )
    session.add(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="MCP_SERVER_CREATED",
        actor_type=_actor_type(actor_id),
        actor_id=actor_id,
        details={"mcp_server_id": row.id, "name": name, "allowed_tools": list(allowed_tools)},
    )
    return row


async def get_mcp_server(session: AsyncSession, tenant_id: str, server_id: str) -> McpServer:
    """By id. Raises NotFoundError (also for another tenant's id)."""
    row = await session.scalar(
        select(McpServer).where(McpServer.tenant_id == tenant_id, McpServer.id == server_id)
    )
    if row is None:
        raise NotFoundError("mcp server", server_id)
    return row


async def find_mcp_server(session: AsyncSession, tenant_id: str, name_or_id: str) -> McpServer:
    """By id or by name, within the tenant. Raises NotFoundError."""
    row = await session.scalar(
        select(McpServer)
        .where(
            McpServer.tenant_id == tenant_id, or_(McpServer.id == name_or_id, McpServer.name == name_or_id)
        )
        .order_by((McpServer.id == name_or_id).desc())
        .limit(1)
    )
    if row is None:
        raise NotFoundError("mcp server", name_or_id)
    return row


async def list_mcp_servers(
    session: AsyncSession, tenant_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[McpServer]:
    stmt = select(McpServer).where(McpServer.tenant_id == tenant_id)
    return await paginate(session, stmt, McpServer.id, limit=limit, cursor=cursor)


async def delete_mcp_server(
    session: AsyncSession, tenant_id: str, server_id: str, *, actor_id: str | None = None
) -> None:
    row = await get_mcp_server(session, tenant_id, server_id)
    await session.delete(row)
    await session.flush()
    await append_audit(
        session,
        tenant_id=tenant_id,
        action="MCP_SERVER_DELETED",
        actor_type=_actor_type(actor_id),
        actor_id=actor_id,
        details={"mcp_server_id": server_id, "name": row.name},
    )


def mcp_server_public(row: McpServer) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "url": row.url,
        "transport": row.transport,
        "credential_id": row.credential_id,
        "allowed_tools": list(row.allowed_tools or []),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
