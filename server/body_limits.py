"""Body-size caps (413), enforced while a body streams in, before anything is parsed.

Every body is capped at ``max_request_bytes``; routes whose body is mostly one field have a
tighter cap (a run's ``input``: ``max_run_input_bytes``; a workflow's ``definition_graph``:
``max_definition_bytes``). The 413 problem names the field being read when the cap was passed
(so a 20 MB ``description`` is named as such), else the route's main field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eawe.settings import Settings
from server.problems import PROBLEM_CONTENT_TYPE

__all__ = ["BodySizeLimitMiddleware", "RouteBodyLimit", "route_body_limits"]

# Room for the other (small, schema-bounded) fields beside the capped one: names, ids, a 4000-
# character description (escaped, up to 6 bytes a character), config and metadata.
_ENVELOPE_BYTES = 32 * 1024
_decoder = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class RouteBodyLimit:
    """A tighter body cap for the routes matching ``methods`` and ``path`` (a full-match regex).

    Attributes:
        field: The body field the cap is about, named in the 413 problem.
        setting: The setting that sets it, named in the detail.
    """

    methods: frozenset[str]
    path: re.Pattern[str]
    max_bytes: int
    field: str
    setting: str

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path.fullmatch(path) is not None


def route_body_limits(settings: Settings) -> list[RouteBodyLimit]:
    """The per-route caps: run inputs (REST and Agent-Protocol) and workflow definitions."""
    run_input = settings.max_run_input_bytes + _ENVELOPE_BYTES
    definition = settings.max_definition_bytes + _ENVELOPE_BYTES
    post, write = frozenset({"POST"}), frozenset({"POST", "PATCH", "PUT"})
    return [
        RouteBodyLimit(post, re.compile(r"/v1/runs/?"), run_input, "input", "max_run_input_bytes"),
        RouteBodyLimit(
            post,
            re.compile(r"(/threads/[^/]+)?/runs(/stream|/wait)?/?"),
            run_input,
            "input",
            "max_run_input_bytes",
        ),
        RouteBodyLimit(
            write,
            re.compile(r"/v1/workflows(/validate|/[^/]+)?/?"),
            definition,
            "definition_graph",
            "max_definition_bytes",
        ),
    ]


def _field_at_cut(prefix: bytes) -> str | None:
    """The top-level key of a JSON object whose value runs past the end of ``prefix``, if any."""
    text = prefix.decode("utf-8", errors="ignore")
    position = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("{", position):
        return None
    position += 1
    try:
        while True:
            position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
            key, position = _decoder.raw_decode(text, position)
            position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
            if not isinstance(key, str) or not text.startswith(":", position):
                return None
            position = _SPACE.match(text, position + 1).end()  # type: ignore[union-attr]
            try:
                _, position = _decoder.raw_decode(text, position)
            except json.JSONDecodeError:
                return key
            position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
            if not text.startswith(",", position):
                return None
            position += 1
    except (json.JSONDecodeError, IndexError):
        return None


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` (or a matching route's tighter cap) with 413, by header
    or by counting the stream."""

    def __init__(self, app: ASGIApp, max_bytes: int, route_limits: Sequence[RouteBodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.route_limits = tuple(route_limits)

    def _limit_for(self, scope: Scope) -> tuple[int, RouteBodyLimit | None]:
        for rule in self.route_limits:
            if rule.max_bytes < self.max_bytes and rule.matches(scope.get("method", ""), scope["path"]):
                return rule.max_bytes, rule
        return self.max_bytes, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, rule = self._limit_for(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                # Under a route cap the body is read up to the cap to name the oversized field.
                if declared > limit and (rule is None or declared > self.max_bytes):
                    await self._reject(send, limit, rule)
                    return
        prefix = bytearray()
        seen = 0
        too_large = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if rule is not None and len(prefix) <= limit:
                    prefix.extend(chunk[: limit + 1 - len(prefix)])
                if seen > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The app may turn the aborted read into its own error response; answer 413 instead.
            nonlocal replaced
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start" and not replaced:
                replaced = True
                await self._reject(send, limit, rule, bytes(prefix))

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not replaced:
                await self._reject(send, limit, rule, bytes(prefix))

    async def _reject(self, send: Send, limit: int, rule: RouteBodyLimit | None, prefix: bytes = b"") -> None:
        problem: dict[str, Any] = {
            "type": "about:blank",
            "title": "Request body too large",
            "status": 413,
            "detail": f"request body exceeds the limit of {limit} bytes",
        }
        if rule is not None:
            field = _field_at_cut(prefix) or rule.field
            message = f"too large: the request body exceeds {limit} bytes ({rule.setting})"
            problem["detail"] = f"{field}: {message}"
            problem["errors"] = [{"field": field, "message": message}]
        body = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
