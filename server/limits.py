"""Request limits: a body-size cap (413) and a per-tenant rate limit on run creation (429).

The rate limit counts the tenant's WorkflowRun rows created in the last minute, in
PostgreSQL, so it holds across every API process without an in-memory counter.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eawe.db.models import WorkflowRun, utcnow
from server.problems import PROBLEM_CONTENT_TYPE, RateLimitedError

__all__ = ["BodySizeLimitMiddleware", "enforce_run_rate_limit"]

_WINDOW = timedelta(minutes=1)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by header or by counting the stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        seen = 0
        too_large = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
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
                await self._reject(send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not replaced:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Request body too large",
                "status": 413,
                "detail": f"request body exceeds the limit of {self.max_bytes} bytes",
            }
        ).encode()
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


async def enforce_run_rate_limit(session: AsyncSession, tenant_id: str, per_minute: int) -> None:
    """Raise 429 when ``tenant_id`` created ``per_minute`` runs or more in the last minute."""
    if per_minute <= 0:
        return
    since = utcnow() - _WINDOW
    recent = await session.scalar(
        select(func.count()).where(WorkflowRun.tenant_id == tenant_id, WorkflowRun.created_at > since)
    )
    if int(recent or 0) >= per_minute:
        oldest = await session.scalar(
            select(func.min(WorkflowRun.created_at)).where(
                WorkflowRun.tenant_id == tenant_id, WorkflowRun.created_at > since
            )
        )
        wait = max(1, int(((oldest or utcnow()) + _WINDOW - utcnow()).total_seconds()) + 1)
        raise RateLimitedError(
            f"run creation is limited to {per_minute} per minute per tenant; retry later",
            retry_after_seconds=wait,
        )
