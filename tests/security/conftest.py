"""Security tests reuse the server fixtures: the real app over httpx's ASGI transport, real PostgreSQL,
the embedded Qdrant engine and the local embedding model."""

from __future__ import annotations

from tests.server.conftest import api_tenant, app, client, live_url, run_worker, server_settings

__all__ = ["api_tenant", "app", "client", "live_url", "run_worker", "server_settings"]
