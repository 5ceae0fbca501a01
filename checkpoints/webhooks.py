"""Run webhooks: when a run settles, a signed POST of the run to the URL its request named.

The body is the run (ids, status, error) with the thread's values. With a webhook secret
configured, ``X-EAWE-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` lets the
receiver check it came from EAWE and is fresh. Delivery is retried with backoff (network errors,
5xx and 429) in the worker that settled the run; it is not kept across a worker restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

__all__ = ["WEBHOOK_ATTEMPTS", "WebhookSender", "sign_webhook"]

logger = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 4
_BACKOFF_SECONDS = (0.5, 2.0, 5.0)


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-EAWE-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookSender:
    """Sends webhooks in the background of the process, keeping a reference to each delivery."""

    def __init__(self, http: httpx.AsyncClient | None, secret: str | None) -> None:
        self._http = http
        self._secret = secret
        self._pending: set[asyncio.Task[bool]] = set()

    def send(self, url: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self.deliver(url, payload), name="webhook")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def deliver(self, url: str, payload: dict[str, Any]) -> bool:
        """POST ``payload`` to ``url`` until a 2xx/4xx answer or the attempts run out."""
        if self._http is None:
            return False
        body = json.dumps(payload, default=str).encode()
        for attempt in range(WEBHOOK_ATTEMPTS):
            headers = {"Content-Type": "application/json", "User-Agent": "eawe-webhook"}
            if self._secret:
                headers["X-EAWE-Signature"] = sign_webhook(self._secret, body, int(time.time()))
            try:
                response = await self._http.post(url, content=body, headers=headers, timeout=10.0)
                if response.status_code < 500 and response.status_code != 429:
                    return response.is_success
            except httpx.HTTPError as exc:
                logger.info("webhook to %s failed (attempt %d): %s", url, attempt + 1, type(exc).__name__)
            if attempt < len(_BACKOFF_SECONDS):
                await asyncio.sleep(_BACKOFF_SECONDS[attempt])
        logger.warning("webhook to %s gave up after %d attempts", url, WEBHOOK_ATTEMPTS)
        return False
