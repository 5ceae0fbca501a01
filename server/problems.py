"""Errors as ``application/problem+json`` (RFC 9457), mapped once for the whole app.

Every error body has ``type``, ``title``, ``status`` and ``detail``; input errors add
``errors: [{"field", "message", "node_id"?, "location"?}]`` so a client can point at the
offending field. Unexpected exceptions are answered by :mod:`server.error_boundary`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from eawe.errors import ConflictError, EAWEError, NotFoundError, ValidationError

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "AuthenticationError",
    "RateLimitedError",
    "eawe_error_response",
    "field_path",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
_log = logging.getLogger(__name__)


class AuthenticationError(EAWEError):
    """Missing, malformed, expired or revoked credentials (401)."""

    status_code = 401
    title = "Unauthorized"


class RateLimitedError(EAWEError):
    """Too many requests of one kind for a tenant (429)."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)


class _ProblemJSONResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        # A message may quote the offending input; an unpaired surrogate in it must not turn the
        # error into a 500 at encoding time.
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build one problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return _ProblemJSONResponse(body, status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> tuple[str, str]:
    """``("body", "nodes", 0, "id")`` → ``("body", "nodes[0].id")``; the first item is the location."""
    location = str(loc[0]) if loc else "body"
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else list(loc)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return location, text or location


def eawe_error_response(exc: EAWEError) -> JSONResponse:
    """The problem+json response of an EAWE error (also a refused websocket handshake's)."""
    if isinstance(exc, ValidationError):
        return problem_response(
            exc.status_code, exc.title, str(exc), errors=[p.as_dict() for p in exc.problems]
        )
    if isinstance(exc, ConflictError):
        errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
        return problem_response(exc.status_code, exc.title, str(exc), errors=errors)
    if isinstance(exc, NotFoundError):
        return problem_response(exc.status_code, exc.title, str(exc))
    if isinstance(exc, AuthenticationError):
        return problem_response(exc.status_code, exc.title, str(exc), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, RateLimitedError):
        return problem_response(
            exc.status_code, exc.title, str(exc), headers={"Retry-After": str(exc.retry_after_seconds)}
        )
    if exc.status_code >= 500:
        # EAWE's own 5xx errors (an undecryptable credential, ...) say what failed, not secrets.
        _log.error("request failed: %s", exc)
    return problem_response(exc.status_code, exc.title, str(exc))


async def _on_eawe_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EAWEError)
    return eawe_error_response(exc)


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        location, path = field_path(err.get("loc", ()))
        message = str(err.get("msg", "invalid value"))
        errors.append({"field": path, "message": message, "location": location})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem_response(422, "Validation failed", detail, errors=errors)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}.get(
        exc.status_code, "Error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, title, detail, headers=getattr(exc, "headers", None))


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn EAWE, validation and HTTP errors into problem+json.

    Anything else is answered by :class:`server.error_boundary.ErrorBoundaryMiddleware`.
    """
    app.add_exception_handler(EAWEError, _on_eawe_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
