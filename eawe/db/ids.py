"""Collision-resistant ids in the spirit of Prisma's ``cuid()``.

Prisma generates ids in its client, so the database has no default; EAWE generates
them in Python: ``c`` + 8 chars of millisecond time (base36, sortable) + 16 random chars.
"""

from __future__ import annotations

import secrets
import time

__all__ = ["new_id"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_RANDOM_SPACE = 36**16


def _base36(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a new 25-character, time-ordered, random id."""
    stamp = _base36(int(time.time() * 1000), 8)
    rand = _base36(secrets.randbelow(_RANDOM_SPACE), 16)  # one draw from the OS, not 16
    return f"c{stamp}{rand}"
