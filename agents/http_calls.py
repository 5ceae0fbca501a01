"""HTTP requests to configured endpoints, shared by the ``tool`` node and LLM tools.

The scheme and host of a URL are fixed in the workflow definition; only the path and query may be
templated, so graph state (or model output) can never point a request at another host. A stored
credential is attached as a header and never appears in results, errors or logs.

Every call carries an ``Idempotency-Key`` header derived from the LangGraph thread, the task's
checkpoint namespace (node name and task id, which LangGraph derives from the checkpoint it runs
from) and the call's number within the node attempt. A node re-executed after a crash, a retry or
a recovery by another worker sends the same keys, so the receiver can drop the duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from langgraph.config import get_config
from pydantic import Field, field_validator

from agents.config_types import ConfigMarker, NodeConfig
from agents.context import NodeContext
from agents.templates import render_template, render_value

__all__ = ["IDEMPOTENCY_HEADER", "HttpRequest", "ToolCallError", "idempotency_key", "perform_http_request"]

IDEMPOTENCY_HEADER = "Idempotency-Key"

_MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_URL_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_.-]*\}")


_REQUEST_TEMPLATE = ConfigMarker("template", extra_roots=("args",))
RequestTemplate = Annotated[str, _REQUEST_TEMPLATE]
"""A template over the state fields and ``args``."""
RequestTemplateValue = Annotated[Any, _REQUEST_TEMPLATE]


class ToolCallError(RuntimeError):
    """The endpoint answered with an error status or could not be reached."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500


class HttpRequest(NodeConfig):
    """One HTTP call. Templates see the state fields and ``args`` (the tool's arguments)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: RequestTemplate = Field(description="http(s) URL; placeholders only in the path and query")
    query: dict[str, RequestTemplateValue] = Field(default_factory=dict)
    headers: dict[str, RequestTemplate] = Field(default_factory=dict)
    json_body: RequestTemplateValue | None = Field(default=None, description="JSON body, templated")
    credential: str | None = Field(default=None, description="Name or id of a stored credential")
    auth: Literal["bearer", "header", "basic"] = "bearer"
    auth_header: str = Field(default="Authorization", description="Header for auth='header'")
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _fixed_origin(cls, url: str) -> str:
        parts = urlsplit(url.replace("{", "%7B").replace("}", "%7D"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        if "%7B" in parts.netloc or "%7D" in parts.netloc or "@" in parts.netloc:
            raise ValueError("the host must be literal (placeholders are allowed in the path and query only)")
        return url

    @field_validator("headers")
    @classmethod
    def _no_auth_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in ("authorization", "proxy-authorization", "cookie"):
                raise ValueError(f"header {name!r} must come from a stored credential, not the definition")
        return headers


def _render_url(url: str, variables: Mapping[str, Any]) -> str:
    # Each substituted value is percent-encoded, so it cannot add path segments, a query or a host.
    parts = urlsplit(url.replace("{", "%7B").replace("}", "%7D"))
    origin = f"{parts.scheme}://{parts.netloc}"
    rest = url[len(origin) :]

    def substitute(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece in ("{{", "}}"):
            return piece[0]
        return quote(render_template(piece, variables), safe="")

    return origin + _URL_PLACEHOLDER.sub(substitute, rest)


def idempotency_key(ctx: NodeContext) -> str:
    """The key of the node attempt's next external call: stable across re-executions of the task.

    Derived from the thread id, the task's checkpoint namespace (``node:task_id``, nested for
    subgraphs) and the call's number within the attempt. Outside a LangGraph run there is no task
    to be stable across, and a random key is returned.
    """
    sequence = next(ctx.effect_sequence)
    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:
        return uuid.uuid4().hex
    thread_id = configurable.get("thread_id") or ctx.run.run_id or ""
    namespace = configurable.get("checkpoint_ns") or ""
    task_id = configurable.get("__pregel_task_id") or ""
    material = f"eawe.effect|{ctx.tenant_id}|{thread_id}|{namespace}|{task_id}|{ctx.node_id}|{sequence}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


async def perform_http_request(
    request: HttpRequest, variables: Mapping[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    """Send ``request`` with templates rendered over ``variables``.

    Returns:
        ``{"status_code": int, "body": parsed JSON or text}``.

    Raises:
        ToolCallError: Non-2xx status or a transport failure (the message holds no secret).
    """
    url = _render_url(request.url, variables)
    headers = {name: render_template(value, variables) for name, value in request.headers.items()}
    params = {key: render_value(value, variables) for key, value in request.query.items()}
    body = render_value(request.json_body, variables) if request.json_body is not None else None
    key = idempotency_key(ctx)
    if not any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers):
        headers[IDEMPOTENCY_HEADER] = key  # a key set in the definition (e.g. an order id) wins
    if request.credential:
        secret = await ctx.secret(request.credential, url=url, method=request.method)
        if request.auth == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        elif request.auth == "basic":
            encoded = base64.b64encode(secret.encode()).decode()
            ctx.run.scrubber.add(encoded)
            headers["Authorization"] = "Basic " + encoded
        else:
            headers[request.auth_header] = secret
    client = ctx.run.http
    owned = client is None
    if client is None:
        client = httpx.AsyncClient()
    target = f"{request.method} {urlsplit(url).scheme}://{urlsplit(url).netloc}{urlsplit(url).path}"
    try:
        response = await client.request(
            request.method, url, params=params or None, headers=headers, json=body, timeout=request.timeout_s
        )
    except httpx.HTTPError as exc:
        raise ToolCallError(f"{target} failed: {type(exc).__name__}") from None
    finally:
        if owned:
            await client.aclose()
    if len(response.content) > _MAX_RESPONSE_BYTES:
        raise ToolCallError(
            f"{target} returned more than {_MAX_RESPONSE_BYTES} bytes", status_code=response.status_code
        )
    if response.status_code >= 400:
        raise ToolCallError(
            f"{target} answered HTTP {response.status_code}", status_code=response.status_code
        )
    try:
        parsed: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        parsed = response.text
    # An endpoint may reflect what it was sent (headers, a token in an error text): the body goes
    # into graph state, checkpoints, streams and prompts, so no revealed secret may stay in it.
    return {"status_code": response.status_code, "body": ctx.run.scrubber.scrub_value(parsed)}
