"""A receiver of side effects on 127.0.0.1 that honours ``Idempotency-Key`` (like a payment API).

The first request with a key is the effect: it is recorded and answered after ``delay_s`` (so a
test can kill the caller while the call is in flight). A later request with the same key is a
duplicate: it is answered with the stored response (after the first one finished) and counted in
``duplicates_dropped``, not as a new effect. A request without a key is always a new effect.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Effect:
    key: str | None
    body: Any
    response: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class IdempotentReceiver:
    delay_s: float = 0.5
    effects: list[Effect] = field(default_factory=list)
    """Every effect, in arrival order (one per distinct key)."""
    requests: int = 0
    duplicates_dropped: int = 0
    in_flight: dict[str, Any] = field(default_factory=dict)
    """Key → body of the effects whose response has not been sent yet."""
    _by_key: dict[str, Effect] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _receive(self, key: str | None, body: Any) -> dict[str, Any]:
        with self._lock:
            self.requests += 1
            known = self._by_key.get(key) if key else None
            if known is None:
                effect = Effect(key, body, {"effect": len(self.effects) + 1, "received": body})
                self.effects.append(effect)
                if key:
                    self._by_key[key] = effect
                    self.in_flight[key] = body
            else:
                self.duplicates_dropped += 1
        if known is not None:
            known.done.wait(30)
            return known.response
        time.sleep(self.delay_s)  # the effect is being carried out
        with self._lock:
            self.in_flight.pop(key or "", None)
        effect.done.set()
        return effect.response

    def start(self) -> IdempotentReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the caller died while sending: no effect
                    return
                response = receiver._receive(self.headers.get("Idempotency-Key"), json.loads(raw or b"null"))
                data = json.dumps(response).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller was killed while it waited
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def snapshot(self) -> tuple[list[Effect], dict[str, Any]]:
        with self._lock:
            return list(self.effects), dict(self.in_flight)
