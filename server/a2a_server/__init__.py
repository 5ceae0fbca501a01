"""EAWE's A2A server: every published workflow is an agent at ``/a2a/{assistant_id}``."""

from server.a2a_server.routes import create_a2a_router

__all__ = ["create_a2a_router"]
