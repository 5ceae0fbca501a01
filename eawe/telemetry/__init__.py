"""Operating EAWE: OpenTelemetry traces, Prometheus metrics and structured logs.

Everything here is off or inert by default: tracing exports only when the standard ``OTEL_*``
variables name an exporter, JSON logs only with ``EAWE_LOG_FORMAT=json``, and the metric
objects cost a few counters until something scrapes them.
"""
