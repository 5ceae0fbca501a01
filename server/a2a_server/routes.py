"""A2A routes: ``POST /a2a/{assistant_id}`` (JSON-RPC, SSE for streams) and the agent cards.

The route authenticates the caller and resolves the assistant in the caller's tenant (another
tenant's id is a 404) before the A2A SDK's JSON-RPC dispatcher sees the request; the dispatcher
then calls :class:`~server.a2a_server.handler.WorkflowRequestHandler`. A2A 1.0 method names
(``SendMessage``...) and the 0.3 ones (``message/send``, ``message/stream``, ``tasks/get``,
``tasks/cancel``) are both accepted.
"""

from __future__ import annotations

from typing import Annotated, Any

from a2a.server.context import ServerCallContext
from a2a.server.routes.common import DefaultServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from fastapi import APIRouter, Query, Request, Response
from starlette.requests import Request as StarletteRequest

from server.a2a_server.agent_card import agent_card_json
from server.a2a_server.handler import A2ACall, WorkflowRequestHandler
from server.deps import Requires, ResourcesDep, SessionDep
from server.graph_views import state_json_schemas
from server.published_assistants import published_assistant

__all__ = ["create_a2a_router"]


class _CallContextBuilder(DefaultServerCallContextBuilder):
    def build(self, request: StarletteRequest) -> ServerCallContext:
        context = super().build(request)
        context.state["eawe"] = request.state.a2a_call
        return context


async def _card(session: Any, tenant_id: str, assistant_id: str, request: Request) -> dict[str, Any]:
    assistant = await published_assistant(session, tenant_id, assistant_id)
    return agent_card_json(assistant, str(request.base_url))


def create_a2a_router() -> APIRouter:
    """The A2A routes, with their own dispatcher (built per app, nothing at import time)."""
    router = APIRouter(tags=["a2a"])
    dispatcher = JsonRpcDispatcher(
        WorkflowRequestHandler(), context_builder=_CallContextBuilder(), enable_v0_3_compat=True
    )

    @router.get("/.well-known/agent-card.json", summary="The A2A agent card of an assistant")
    async def well_known_card(
        request: Request,
        principal: Requires.WORKFLOWS_READ,
        session: SessionDep,
        assistant_id: Annotated[str, Query(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        return await _card(session, principal.tenant_id, assistant_id, request)

    @router.get("/a2a/{assistant_id}/.well-known/agent-card.json", summary="The A2A agent card (per agent)")
    async def agent_card(
        assistant_id: str, request: Request, principal: Requires.WORKFLOWS_READ, session: SessionDep
    ) -> dict[str, Any]:
        return await _card(session, principal.tenant_id, assistant_id, request)

    @router.post(
        "/a2a/{assistant_id}",
        summary="A2A JSON-RPC: message/send, message/stream (SSE), tasks/get, tasks/cancel",
        response_class=Response,
    )
    async def a2a_rpc(
        assistant_id: str, request: Request, principal: Requires.RUNS_READ, resources: ResourcesDep
    ) -> Response:
        async with resources.session() as session:
            assistant = await published_assistant(session, principal.tenant_id, assistant_id)
        schemas = state_json_schemas(assistant.version.definition_graph, "WorkflowState")
        request.state.a2a_call = A2ACall(
            resources=resources,
            principal=principal,
            assistant_id=assistant.assistant_id,
            workflow_id=assistant.workflow.id,
            input_schema=schemas["input_schema"],
        )
        return await dispatcher.handle_requests(request)

    return router
