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

from server.published_assistants import PublishedAssistant

__all__ = ["agent_card", "agent_card_json"]

_MODES = ["application/json", "text/plain"]


def agent_card(assistant: PublishedAssistant, base_url: str) -> AgentCard:
    """The card: one JSON-RPC interface at ``{base_url}/a2a/{id}``, streaming, bearer auth, one skill."""
    url = f"{base_url.rstrip('/')}/a2a/{assistant.assistant_id}"
    description = assistant.description or f"The EAWE workflow {assistant.name!r}."
    return AgentCard(
        name=assistant.name,
        description=description,
        version=str(assistant.version.version),
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
                id=assistant.workflow.id,
                name=assistant.name,
                description=description,
                tags=["workflow"],
                input_modes=_MODES,
                output_modes=["application/json"],
            )
        ],
    )


def agent_card_json(assistant: PublishedAssistant, base_url: str) -> dict[str, Any]:
    return agent_card_to_dict(agent_card(assistant, base_url))
