"""The interop tests reuse the server fixtures: the real app behind uvicorn on 127.0.0.1, real PostgreSQL."""

from tests.server.conftest import api_tenant, app, client, live_url, run_worker, server_settings

__all__ = ["api_tenant", "app", "client", "live_url", "run_worker", "server_settings"]
