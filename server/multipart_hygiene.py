"""The multipart part of text hygiene: form fields and file names, never file contents.

Uploads can be large, so the body is not buffered: each chunk passes straight to the app and is
also fed to python-multipart's streaming parser (the parser Starlette itself uses), which only
keeps the text of fields that are not files and the part headers. A NUL or lone surrogate there
is reported once the body is complete — before the route runs, since the route needs the whole
form — and :class:`~server.request_hygiene.TextHygieneMiddleware` answers 422.
"""

from __future__ import annotations

import re
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["MultipartInspector"]

_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_MAX_FIELD_BYTES = 1024 * 1024  # text fields beyond this are the route's business (it caps them)


def _reason(text: str) -> str | None:
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    if match.group(0) == "\x00":
        return "must not contain NUL (U+0000) characters"
    return "must not contain unpaired UTF-16 surrogates"


class MultipartInspector:
    """Feed the raw body with :meth:`feed`; :attr:`errors` lists the problem fields afterwards."""

    def __init__(self, content_type: str) -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        self.errors: list[dict[str, str]] = []
        self._parser: MultipartParser | None = None
        if not boundary:
            return  # not parseable: the route's form parser answers
        self._header_name = b""
        self._headers: dict[bytes, bytes] = {}
        self._value = bytearray()
        self._name = ""
        self._is_file = False
        callbacks: Any = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or not chunk:
            return
        try:
            self._parser.write(chunk)
        except Exception:
            self._parser = None  # malformed: leave it to the route's parser

    def _part_begin(self) -> None:
        self._headers, self._value, self._name, self._is_file = {}, bytearray(), "", False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        key = self._header_name.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _header_end(self) -> None:
        self._header_name = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = self._text(options.get(b"name", b""), "form field name")
        filename = options.get(b"filename")
        self._is_file = filename is not None
        if filename is not None:
            text = self._text(filename, self._name or "file")
            reason = _reason(text)
            if reason:
                self.errors.append(
                    {"field": self._name or "file", "message": f"file name {reason}", "location": "body"}
                )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and len(self._value) < _MAX_FIELD_BYTES:
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._is_file:
            return
        text = self._text(bytes(self._value), self._name)
        reason = _reason(text) or _reason(self._name)
        if reason:
            shown = _BAD_CHAR.sub("\ufffd", self._name) or "body"
            self.errors.append({"field": shown, "message": reason, "location": "body"})

    def _text(self, raw: bytes, field: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.errors.append(
                {"field": field or "body", "message": "is not valid UTF-8", "location": "body"}
            )
            return ""
