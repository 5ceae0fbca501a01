"""Logging: plain text by default, JSON lines with ``EAWE_LOG_FORMAT=json`` (structlog).

Every line logged while a request, a run or a node is being handled carries its ids
(``request_id``, ``tenant_id``, ``run_id``, ``node_id``) through structlog's context variables,
plus ``trace_id``/``span_id`` when tracing is on. Both formats go through the same redaction:
fields whose name says secret are replaced, and the values of the process's own secrets and of
the credentials a run revealed are cut out of every message.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import IO, Any, Literal

import structlog
from opentelemetry import trace

__all__ = [
    "LogFormat",
    "bind_log_context",
    "configure_logging",
    "log_context",
    "redact_text",
    "register_secret",
    "register_settings_secrets",
    "run_secret_scrubber",
]

LogFormat = Literal["text", "json"]

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|authorization|credential|cookie", re.I)
_REDACTED = "[REDACTED]"
_process_secrets: set[str] = set()
_run_scrubber: contextvars.ContextVar[Callable[[str], str] | None] = contextvars.ContextVar(
    "eawe_run_scrubber", default=None
)


def register_secret(value: str | None) -> None:
    """Never log ``value`` (a key or signing secret this process holds)."""
    if value and len(value) >= 6:
        _process_secrets.add(value)


def register_settings_secrets(settings: Any) -> None:
    """Never log the keys and secrets held in ``settings`` (any ``SecretStr`` field)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        reveal = getattr(value, "get_secret_value", None)
        if reveal is not None:
            register_secret(reveal())


@contextmanager
def run_secret_scrubber(scrub: Callable[[str], str]) -> Iterator[None]:
    """While a node runs, also cut the credentials its run revealed out of log lines."""
    token = _run_scrubber.set(scrub)
    try:
        yield
    finally:
        _run_scrubber.reset(token)


def redact_text(text: str) -> str:
    for secret in sorted(_process_secrets, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    scrub = _run_scrubber.get()
    return scrub(text) if scrub is not None else text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _REDACTED if _SECRET_KEY.search(str(k)) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key in ("exc_info", "stack_info", "_record", "_from_structlog"):
            continue
        event[key] = _REDACTED if _SECRET_KEY.search(key) and key != "event" else _redact_value(event[key])
    return event


def _trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
        event.setdefault("span_id", format(span.span_id, "016x"))
    return event


def _redact_exception(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if isinstance(event.get("exception"), str):
        event["exception"] = redact_text(event["exception"])
    return event


def bind_log_context(**ids: str | None) -> None:
    """Attach ids (``tenant_id=...``) to every later line of the current task."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids to the lines logged inside the block."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield


class _TextFormatter(logging.Formatter):
    """The classic text format, with the same redaction and the ids appended."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = structlog.contextvars.get_contextvars()
        if ids:
            text += " " + " ".join(f"{k}={v}" for k, v in sorted(ids.items()))
        return redact_text(text)


def configure_logging(
    log_format: LogFormat = "text",
    *,
    level: int = logging.INFO,
    quiet: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Set up the root logger for a process (``eawe serve``, ``eawe worker``); returns its handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        shared: list[Any] = [
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _trace_ids,
        ]
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _redact,
                    _redact_exception,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
