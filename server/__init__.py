"""The FastAPI server: REST API under ``/v1``, SSE streams and Agent-Protocol-compatible routes."""

from server.app import create_app, first_start_message

__all__ = ["create_app", "first_start_message"]
