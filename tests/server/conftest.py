"""Server fixtures: the real app (lifespan run) over httpx's ASGI transport, real PostgreSQL.

``api_tenant`` makes a tenant with one user per role and hands back ready-made auth headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from eawe.db.models import Role
from eawe.settings import Settings
from server.app import create_app
from tests.server.api_tenants import ApiTenant, login


@pytest.fixture(scope="module")
def server_settings(settings: Settings) -> Settings:
    """The module's settings; a test module overrides this fixture to change limits."""
    return settings


@pytest.fixture(scope="module")
def run_worker() -> bool:
    """Whether the module's app runs its in-process worker (a module overrides this to drive runs itself)."""
    return True


@pytest.fixture(scope="module")
async def app(server_settings: Settings, run_worker: bool, database) -> AsyncIterator[FastAPI]:
    application = create_app(server_settings, run_worker=run_worker)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The module's app behind a real uvicorn server on 127.0.0.1 (for streaming clients and the SDK)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eawe.test", timeout=60) as http:
        yield http


@pytest.fixture
def api_tenant(tenant_factory, client: httpx.AsyncClient):
    """``await api_tenant(groups=...)`` → a tenant with an admin, a designer and an operator, logged in."""

    async def make(groups: list[str] | None = None) -> ApiTenant:
        made = await tenant_factory(
            users=[
                ("admin@example.com", Role.ADMINISTRATOR, groups or []),
                ("designer@example.com", Role.DESIGNER, groups or []),
                ("operator@example.com", Role.OPERATOR, groups or []),
            ]
        )
        users = {u.role: u for u in made.users}
        tenant = ApiTenant(
            tenant_id=made.tenant.id,
            users=users,
            passwords={role: made.passwords[u.email] for role, u in users.items()},
        )
        for role, user in users.items():
            tenant.headers[role] = await login(client, user.email, tenant.passwords[role])
        return tenant

    return make
