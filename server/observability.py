"""Per-request observability: the request id, the HTTP metrics and the OpenTelemetry server span.

:class:`RequestObservabilityMiddleware` is plain ASGI (it never buffers a body, so SSE streams
pass through untouched). It takes the caller's ``X-Request-ID`` when it is a sane token or makes
one, echoes it on the response, puts it on every log line of the request, and counts the request
by method, route template (``/v1/runs/{run_id}``, never the raw path) and status.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eawe.telemetry.logs import log_context
from eawe.telemetry.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from eawe.telemetry.tracing import configure_tracing

__all__ = ["RequestObservabilityMiddleware", "install_observability"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _route_template(scope: Scope) -> str:
    """The matched route's template with its routers' prefixes (``/v1/runs/{run_id}``).

    FastAPI hands over the route as declared in its own router (``/runs/{run_id}``); the
    prefixes are static, so they are the leading segments of the path the template does not
    cover.
    """
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    if ":path}" in template:
        return template
    path = str(scope.get("path") or "")
    covered = template.count("/")
    segments = path.split("/")
    prefix = "/".join(segments[: len(segments) - covered]) if len(segments) > covered else ""
    return prefix + template


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                HTTP_REQUEST_SECONDS.labels(scope["method"], _route_template(scope)).observe(
                    time.perf_counter() - start
                )
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(scope["method"], _route_template(scope), str(status)).inc()


def install_observability(app: FastAPI) -> bool:
    """Add the request middleware, and the OpenTelemetry server span when ``OTEL_*`` ask for
    export. Returns whether tracing is on."""
    from eawe.db.repositories.run_traces import install as record_run_trace_context

    app.add_middleware(RequestObservabilityMiddleware)
    if not configure_tracing():
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    record_run_trace_context()
    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/health")
    return True
