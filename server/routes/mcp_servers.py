"""``/v1/mcp-servers``: the MCP servers a tenant's ``mcp_tool`` nodes may call (administrators)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eawe.db.repositories import mcp_servers as repo
from server.deps import PageParamsDep, Requires, ResourcesDep, SessionDep
from server.schemas.common import PageOut
from server.schemas.mcp_servers import McpServerCreate, McpServerOut

__all__ = ["router"]

router = APIRouter(prefix="/mcp-servers", tags=["mcp-servers"])


@router.post("", status_code=201, response_model=McpServerOut, summary="Configure an MCP server")
async def create(
    body: McpServerCreate, principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep
) -> McpServerOut:
    async with resources.database.transaction() as session:
        row = await repo.create_mcp_server(
            session,
            tenant_id=principal.tenant_id,
            name=body.name,
            url=body.url,
            transport=body.transport,
            credential_id=body.credential_id,
            allowed_tools=body.allowed_tools,
            actor_id=principal.user_id,
        )
        return McpServerOut.model_validate(repo.mcp_server_public(row))


@router.get("", response_model=PageOut[McpServerOut], summary="List the tenant's MCP servers")
async def list_(
    principal: Requires.CREDENTIALS_MANAGE, session: SessionDep, page: PageParamsDep
) -> PageOut[McpServerOut]:
    result = await repo.list_mcp_servers(session, principal.tenant_id, limit=page.limit, cursor=page.cursor)
    return PageOut[McpServerOut](
        items=[McpServerOut.model_validate(repo.mcp_server_public(r)) for r in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{server_id}", response_model=McpServerOut, summary="Get an MCP server")
async def get(server_id: str, principal: Requires.CREDENTIALS_MANAGE, session: SessionDep) -> McpServerOut:
    row = await repo.get_mcp_server(session, principal.tenant_id, server_id)
    return McpServerOut.model_validate(repo.mcp_server_public(row))


@router.delete("/{server_id}", status_code=204, response_class=Response, summary="Remove an MCP server")
async def delete(server_id: str, principal: Requires.CREDENTIALS_MANAGE, resources: ResourcesDep) -> Response:
    async with resources.database.transaction() as session:
        await repo.delete_mcp_server(session, principal.tenant_id, server_id, actor_id=principal.user_id)
    return Response(status_code=204)
