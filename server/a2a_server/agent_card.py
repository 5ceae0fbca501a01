"""The A2A agent card of an assistant (a published workflow)."""

from __future__ import annotations

from typing import Any

from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

from eawe.db.models import WorkflowDefinition, WorkflowDefinitionVersion

__all__ = ["agent_card", "agent_card_json"]

_MODES = ["application/json", "text/plain"]


def agent_card(workflow: WorkflowDefinition, version: WorkflowDefinitionVersion, base_url: str) -> AgentCard:
    """The card: one JSON-RPC interface at ``{base_url}/a2a/{id}``, streaming, bearer auth, one skill."""
    url = f"{base_url.rstrip('/')}/a2a/{workflow.id}"
    description = workflow.description or f"The EAWE workflow {workflow.name!r}."
    return AgentCard(
        name=workflow.name,
        description=description,
        version=str(version.version),
        provider=AgentProvider(organization="EAWE", url=base_url),
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="0.3"),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        security_schemes={
            "bearer": SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    bearer_format="JWT",
                    description="An EAWE access token (POST /v1/auth/token) or API key",
                )
            )
        },
        security_requirements=[SecurityRequirement(schemes={"bearer": StringList(list=[])})],
        default_input_modes=_MODES,
        default_output_modes=["application/json"],
        skills=[
            AgentSkill(
                id=workflow.id,
                name=workflow.name,
                description=description,
                tags=["workflow"],
                input_modes=_MODES,
                output_modes=["application/json"],
            )
        ],
    )


def agent_card_json(
    workflow: WorkflowDefinition, version: WorkflowDefinitionVersion, base_url: str
) -> dict[str, Any]:
    return agent_card_to_dict(agent_card(workflow, version, base_url))
