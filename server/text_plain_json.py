"""JSON bodies sent as ``Content-Type: text/plain`` are read as JSON.

LangGraph Studio, a browser app, posts its JSON (``POST /assistants/search`` first) as
``text/plain``: that makes the request a CORS "simple request" with no preflight. FastAPI only
parses ``application/json`` bodies and would answer 422. This middleware buffers a text/plain
body (the body-size limit, installed outside it, bounds the buffer), and when the body parses as
JSON hands the request on as ``application/json``. Anything else — other content types, a
text/plain body that is not JSON, GET requests — passes through unchanged.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TextPlainJSONMiddleware"]

_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INLINE_PARSE_BYTES = 64 * 1024  # larger bodies are parsed off the event loop


def _is_text_plain(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"text/plain"
    return False


def _parses_as_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return True


class TextPlainJSONMiddleware:
    """Treat a ``text/plain`` request body that is valid JSON as ``application/json``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in _METHODS
            or not _is_text_plain(scope.get("headers", []))
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        trailing: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                trailing.append(message)  # the client went away; let the app see it
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if len(body) <= _INLINE_PARSE_BYTES:
            is_json = _parses_as_json(body)
        else:
            is_json = await asyncio.to_thread(_parses_as_json, body)
        if is_json:
            headers = [(n, v) for n, v in scope["headers"] if n != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *trailing]

        async def replaying_receive() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        await self.app(scope, replaying_receive, send)
