"""The last line of error handling: any exception a route lets escape becomes a problem response.

Starlette's outermost error middleware sends its 500 and then re-raises, and the ASGI server
answers a re-raised exception by closing the connection — a keep-alive client sees a reset.
:class:`ErrorBoundaryMiddleware` sits inside it, answers instead and does not re-raise:

- the database is unreachable (connection refused, pool exhausted, server restarting) → 503 with
  ``Retry-After``, the same answer ``GET /health`` gives;
- anything else → a bare 500 that reveals nothing (the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import psycopg
import sqlalchemy.exc
from psycopg_pool import PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.problems import PROBLEM_CONTENT_TYPE

__all__ = ["DATABASE_RETRY_AFTER_SECONDS", "ErrorBoundaryMiddleware", "is_database_unavailable"]

DATABASE_RETRY_AFTER_SECONDS = 5
_log = logging.getLogger(__name__)

# Errors that mean "no usable connection", not "this statement is wrong".
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    sqlalchemy.exc.TimeoutError,  # SQLAlchemy's pool could not hand out a connection in time
    ConnectionError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says PostgreSQL cannot be reached right now."""
    for item in _chain(exc):
        if isinstance(item, sqlalchemy.exc.DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, _UNAVAILABLE):
            return True
    return False


class ErrorBoundaryMiddleware:
    """Turn an escaped exception into a 503/500 problem response, keeping the connection usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            unavailable = is_database_unavailable(exc)
            if unavailable:
                _log.warning("database unavailable on %s %s: %s", scope.get("method"), scope.get("path"), exc)
            else:
                _log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                # Part of the response is out; the server must close this connection.
                raise
            if unavailable:
                await _send_problem(
                    send,
                    503,
                    "Service unavailable",
                    "the database is not reachable; retry later",
                    [(b"retry-after", str(DATABASE_RETRY_AFTER_SECONDS).encode())],
                )
            else:
                await _send_problem(send, 500, "Internal error", "the server failed to handle this request")


async def _send_problem(
    send: Send, status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
