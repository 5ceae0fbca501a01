"""Text hygiene at the edge: NUL characters and lone UTF-16 surrogates are refused with 422.

PostgreSQL cannot store either (``text`` refuses U+0000; a lone surrogate cannot be encoded as
UTF-8), so without this check such input surfaces deep in the data layer as a 500. One ASGI
middleware checks every place text enters the API — the path, the query string, JSON bodies and
URL-encoded forms (the login form is unauthenticated), multipart form fields and file names
(:mod:`server.multipart_hygiene`) — before any route runs, and names the offending field.

The common case stays cheap: a JSON body is parsed (once more) only when a byte scan finds an
escape (or encoded surrogate) that could decode to NUL or a surrogate; a raw NUL byte is already
invalid JSON and left to the route's own parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.multipart_hygiene import MultipartInspector
from server.problems import PROBLEM_CONTENT_TYPE, field_path

__all__ = ["TextHygieneMiddleware", "find_bad_text"]

# \u0000 or a \uD800-\uDFFF escape — or a surrogate encoded as (invalid) UTF-8 bytes, which
# Python's json.loads decodes with "surrogatepass": every way a JSON body can carry one.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\xed[\xa0-\xbf]")
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def _reason(text: str) -> str | None:
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    if match.group(0) == "\x00":
        return "must not contain NUL (U+0000) characters"
    return "must not contain unpaired UTF-16 surrogates"


def _shown(name: str) -> str:
    """A field name safe to echo back: offending characters become U+FFFD."""
    return _BAD_CHAR.sub("\ufffd", name)


def _walk(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        reason = _reason(value)
        if reason:
            yield loc, reason
    elif isinstance(value, dict):
        for key, item in value.items():
            reason = _reason(key)
            if reason:
                yield (*loc, key), f"key {reason}"
            yield from _walk(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))


def find_bad_text(value: Any, location: str = "body") -> list[dict[str, str]]:
    """Every string (and object key) in ``value`` holding NUL or a lone surrogate, as problem errors."""
    errors = []
    for loc, reason in _walk(value, (location,)):
        where, field = field_path(loc)
        errors.append({"field": _shown(field), "message": reason, "location": where})
    return errors


def _decode_pairs(raw: bytes, location: str) -> tuple[list[dict[str, str]], bool]:
    """Problems in a URL-encoded string (query or form); second item: whether it was decodable."""
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return [{"field": location, "message": "is not valid UTF-8", "location": location}], False
    errors = []
    for name, value in pairs:
        reason = _reason(name) or _reason(value)
        if reason:
            errors.append({"field": _shown(name) or location, "message": reason, "location": location})
    return errors, True


def _json_problems(body: bytes) -> list[dict[str, str]]:
    if not _SUSPECT_ESCAPE.search(body):
        return []
    try:
        parsed = json.loads(body)
        return find_bad_text(parsed)
    except (ValueError, RecursionError):
        return []  # not JSON after all (or absurdly deep): the route's parser answers 422


class TextHygieneMiddleware:
    """Answer 422 problem+json when the path, query, JSON body or form carries NUL / lone surrogates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors: list[dict[str, str]] = []
        path = scope.get("path", "")
        if _reason(path):
            errors.append({"field": "path", "message": _reason(path) or "", "location": "path"})
        query_errors, _ = _decode_pairs(scope.get("query_string", b""), "query")
        errors.extend(query_errors)
        content_type = _header(scope, b"content-type").split(";")[0].strip().lower()
        is_json = content_type == "application/json" or content_type.endswith("+json")
        is_form = content_type == "application/x-www-form-urlencoded"
        if errors:
            await _reject(send, errors)
            return
        if content_type == "multipart/form-data":
            await self._multipart(scope, receive, send, _header(scope, b"content-type"))
            return
        if not (is_json or is_form):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before sending its body; let the app see the disconnect.
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        errors = _json_problems(body) if is_json else _decode_pairs(body, "body")[0]
        if errors:
            await _reject(send, errors)
            return
        replayed = _replay([{"type": "http.request", "body": body, "more_body": False}], receive)
        await self.app(scope, replayed, send)

    async def _multipart(self, scope: Scope, receive: Receive, send: Send, content_type: str) -> None:
        inspector = MultipartInspector(content_type)
        blocked = False

        async def inspecting_receive() -> Message:
            nonlocal blocked
            message = await receive()
            if message["type"] == "http.request":
                inspector.feed(message.get("body", b""))
                if not message.get("more_body", False) and inspector.errors:
                    blocked = True
                    raise _BadMultipart
            return message

        async def guarded_send(message: Message) -> None:
            # The app may answer the aborted read with its own error; the 422 is sent instead.
            if not blocked:
                await send(message)

        try:
            await self.app(scope, inspecting_receive, guarded_send)
        except _BadMultipart:
            pass
        if blocked:
            await _reject(send, inspector.errors)


class _BadMultipart(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _replay(messages: list[Message], receive: Receive | None = None) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if receive is not None:
            return await receive()  # after the body: wait for the disconnect, as Starlette expects
        return {"type": "http.disconnect"}

    return replay


async def _reject(send: Send, errors: list[dict[str, str]]) -> None:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    payload = {"type": "about:blank", "title": "Validation failed", "status": 422, "detail": detail}
    payload["errors"] = errors  # type: ignore[assignment]
    data = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
