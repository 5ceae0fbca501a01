"""The FastAPI application: :func:`create_app` builds it from :class:`~eawe.settings.Settings`.

Resources (database, run engine, RAG stack) are opened once in the lifespan and kept on
``app.state.resources``; nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.routing import Route

from eawe.local_secrets import ensure_runtime_secrets
from eawe.settings import Settings
from eawe.telemetry.logs import register_settings_secrets
from server import agent_protocol
from server.a2a_server import create_a2a_router
from server.body_limits import BodySizeLimitMiddleware, route_body_limits
from server.console import mount_console
from server.error_boundary import ErrorBoundaryMiddleware
from server.mcp_server import McpEndpoint
from server.observability import install_observability
from server.openapi_contract import install_openapi_contract
from server.problems import install_problem_handlers
from server.request_hygiene import TextHygieneMiddleware
from server.resources import open_server_resources
from server.routes import V1_ROUTERS, health, mcp_servers, metrics
from server.text_plain_json import TextPlainJSONMiddleware

__all__ = ["create_app", "first_start_message"]

API_TITLE = "EAWE — Enterprise Agentic Workflow Engine"


def _operation_id(route: APIRoute) -> str:
    """``<tag>-<function name>`` (e.g. ``runs-create``): clean names in generated clients."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name.rstrip('_')}"


def create_app(settings: Settings, *, run_worker: bool = True, auto_migrate: bool | None = None) -> FastAPI:
    """Build the API.

    Args:
        settings: Runtime configuration; dev secrets are generated in embedded mode.
        run_worker: Run the in-process worker that executes queued runs and, on start,
            resumes runs left PENDING/RUNNING by a previous process.
        auto_migrate: Apply pending migrations on start (default: only in embedded mode).
    """
    settings = ensure_runtime_secrets(settings)
    register_settings_secrets(settings)  # kept out of every log line
    mcp_endpoint = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_server_resources(settings, auto_migrate=auto_migrate, run_worker=run_worker) as resources,
            mcp_endpoint.running(),
        ):
            app.state.resources = resources
            try:
                yield
            finally:
                app.state.resources = None

    app = FastAPI(
        title=API_TITLE,
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        description=(
            "Workflows compiled to durable LangGraph programs, multi-tenant, with human approval "
            "and permission-aware retrieval. Authenticate with `POST /v1/auth/token` or an API key."
        ),
    )
    app.state.settings = settings
    app.state.resources = None
    install_problem_handlers(app)
    # Added innermost first: CORS > observability > error boundary > body size cap > text/plain as
    # JSON (Studio) > text hygiene > routes; the body-size limit bounds every buffer inside it.
    app.add_middleware(TextHygieneMiddleware)
    app.add_middleware(TextPlainJSONMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        route_limits=route_body_limits(settings),
    )
    app.add_middleware(ErrorBoundaryMiddleware)
    install_observability(app)  # request ids, HTTP metrics, OTel server spans (issue 11)
    if settings.cors_allow_origins:
        # Browser clients such as LangGraph Studio; credentials travel in headers, never cookies.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],  # PUT: /store/items
            allow_headers=["authorization", "x-api-key", "content-type", "last-event-id"],
            expose_headers=["content-location", "location", "retry-after"],
        )

    app.include_router(health.router)
    app.include_router(metrics.router)
    v1 = APIRouter(prefix="/v1")
    for router in V1_ROUTERS:
        v1.include_router(router)
    v1.include_router(mcp_servers.router)
    app.include_router(v1)
    app.include_router(agent_protocol.router)
    app.include_router(create_a2a_router())
    # Streamable HTTP: POST (and GET/DELETE) on exactly /mcp, handled by the MCP SDK.
    app.router.routes.append(Route("/mcp", endpoint=mcp_endpoint, include_in_schema=False))
    install_openapi_contract(app)
    mount_console(app)  # last: the page never shadows an API route
    return app


def first_start_message(settings: Settings, host: str, port: int, *, first_time: bool = True) -> str:
    """What ``eawe serve`` prints on start: where things are and, the first time on a data
    directory, how to create a tenant.

    Lines stay under 80 columns so terminals and log viewers do not wrap the commands.
    """
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - display only
    base = f"http://{shown_host}:{port}"
    if settings.embedded_mode:
        storage = f"embedded PostgreSQL + Qdrant in {settings.data_dir.expanduser().resolve()}"
    else:
        storage = "PostgreSQL at DATABASE_URL" + (", Qdrant at QDRANT_URL" if settings.qdrant_url else "")
    model = (
        f"{settings.chat_model} (OPENAI_API_KEY set)"
        if settings.openai_api_key
        else "deterministic local model (no OPENAI_API_KEY)"
    )
    return "\n".join(
        [
            f"EAWE API on {base}",
            f"  API docs: {base}/docs",
            f"  OpenAPI:  {base}/openapi.json",
            f"  health:   {base}/health",
            f"  storage:  {storage}",
            f"  model:    {model}",
            f"  tracing:  {_tracing_line()}",
            *(_FIRST_TIME_HINT if first_time else []),
        ]
    ).replace("{base}", base)


def _tracing_line() -> str:
    from eawe.telemetry.langsmith import langsmith_tracing_enabled
    from eawe.telemetry.tracing import tracing_requested

    parts = ["OpenTelemetry over OTLP" if tracing_requested() else "OpenTelemetry off (set OTEL_*)"]
    if langsmith_tracing_enabled():
        parts.append("LangSmith on")
    return ", ".join(parts)


_FIRST_TIME_HINT = [
    "",
    "First time? In another terminal, create a tenant and its administrator:",
    "  eawe tenant create Acme --admin-email admin@acme.example \\",
    "      --admin-password 'change-me-please'",
    "then log in (full walkthrough in README.md):",
    "  curl -s -X POST {base}/v1/auth/token \\",
    "       -d username=admin@acme.example -d password=change-me-please",
]
