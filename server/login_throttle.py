"""Login throttling with the ``limits`` library: per account and per client address (429).

Failed attempts count against the account and against the client address: guessing one user's
password from many addresses is bounded, and so is trying many accounts from one address, while
logging in successfully uses up nothing. Once a budget is spent, even the right password is
refused until the window moves on. Counters live in a ``limits`` storage
(``EAWE_LOGIN_RATE_LIMIT_STORAGE``): in-process memory by default, a shared Redis or Memcached URI
when several API processes serve logins.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from eawe.settings import Settings
from server.problems import RateLimitedError

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """Checks and counts login attempts by account (email) and by client address."""

    limiter: MovingWindowRateLimiter
    per_account: RateLimitItem | None
    per_address: RateLimitItem | None

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        uri = settings.login_rate_limit_storage
        storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        assert isinstance(storage, Storage)
        return cls(
            limiter=MovingWindowRateLimiter(storage),
            per_account=parse(settings.login_rate_limit_per_account)
            if settings.login_rate_limit_per_account
            else None,
            per_address=parse(settings.login_rate_limit_per_address)
            if settings.login_rate_limit_per_address
            else None,
        )

    def _checks(self, account: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        checks = []
        if self.per_account is not None:
            checks.append((self.per_account, "account", account.strip().lower()))
        if self.per_address is not None:
            checks.append((self.per_address, "address", address))
        return checks

    async def check(self, account: str, address: str) -> None:
        """Raise 429 (with Retry-After) when the account or the address has no attempts left."""
        for item, kind, key in self._checks(account, address):
            if not await self.limiter.test(item, "login", kind, key):
                stats = await self.limiter.get_window_stats(item, "login", kind, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimitedError(
                    f"too many login attempts for this {kind}; retry in {wait} s", retry_after_seconds=wait
                )

    async def record_failure(self, account: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        for item, kind, key in self._checks(account, address):
            await self.limiter.hit(item, "login", kind, key)
