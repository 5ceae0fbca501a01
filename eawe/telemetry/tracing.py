"""OpenTelemetry tracing: configured only by the standard ``OTEL_*`` environment variables.

Off by default. :func:`configure_tracing` installs an SDK tracer provider with the OTLP exporter
when ``OTEL_TRACES_EXPORTER=otlp`` or an ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` is set (and
``OTEL_SDK_DISABLED`` is not true); the exporter reads its endpoint, headers, protocol details
and timeouts from the same variables, and ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``
name the service. Without them the API's no-op tracer is used and spans cost nothing.

Trace context crosses from the API to the worker through the database (``RunTraceContext``):
:func:`current_carrier` is what the request that created a run stores, :func:`context_from` is
what the worker resumes it from.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "TRACER_NAME",
    "configure_tracing",
    "context_from",
    "current_carrier",
    "shutdown_tracing",
    "tracer",
    "tracing_enabled",
    "tracing_requested",
]

logger = logging.getLogger(__name__)

TRACER_NAME = "eawe"
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: object | None = None


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for trace export."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()}
    if exporters == {"none"}:
        return False
    return "otlp" in exporters or bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_tracing(service_name: str = "eawe") -> bool:
    """Install the SDK tracer provider with an OTLP exporter, once per process, if requested.

    Returns:
        Whether spans are exported.
    """
    global _provider
    with _lock:
        if _provider is not None:
            return True
        if not tracing_requested():
            return False
        from opentelemetry.sdk.resources import OTEL_SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = _otlp_exporter()
        resource = Resource.create(
            {} if os.environ.get(OTEL_SERVICE_NAME) else {"service.name": service_name}
        )
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _provider = provider
        logger.info("OpenTelemetry tracing on: spans exported over OTLP")
        return True


def _otlp_exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol.strip().lower() == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:  # the gRPC exporter is an optional extra
            raise RuntimeError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc; "
                "install it or use http/protobuf"
            ) from exc
        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


def shutdown_tracing() -> None:
    """Flush and stop the exporter (at process exit)."""
    provider = _provider
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def tracer() -> trace.Tracer:
    """EAWE's tracer (the no-op one unless :func:`configure_tracing` turned export on)."""
    return trace.get_tracer(TRACER_NAME)


def tracing_enabled() -> bool:
    """Whether a real tracer provider is installed (by :func:`configure_tracing` or an embedder)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current_carrier() -> dict[str, str]:
    """The current span's W3C trace context (``traceparent``/``tracestate``); empty when none."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        _PROPAGATOR.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str] | None) -> otel_context.Context | None:
    """A context whose parent is the span a carrier names (None for an empty carrier)."""
    if not carrier or not carrier.get("traceparent"):
        return None
    return _PROPAGATOR.extract(dict(carrier))
