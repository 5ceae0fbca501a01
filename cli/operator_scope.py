"""CLI commands act as the operator, who holds the database's credentials: every tenant's rows.

Row-level security still binds what the engine does inside such a command: a run executes in
its own tenant's scope (``checkpoints.worker_liveness.execute_guarded``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from eawe.db.tenant_scope import system_scope

__all__ = ["run_as_operator"]

T = TypeVar("T")


def run_as_operator(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in the system scope (the event loop's tasks inherit it)."""
    with system_scope():
        return asyncio.run(coro)
