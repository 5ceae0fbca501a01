"""CLI commands act as the operator, who holds the database's credentials: every tenant's rows.

Row-level security still binds what the engine does inside such a command: a run executes in
its own tenant's scope (``checkpoints.worker_liveness.execute_guarded``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from eawe.db.tenant_scope import system_scope

__all__ = ["operator_command", "run_as_operator"]

T = TypeVar("T")
P = ParamSpec("P")


def run_as_operator(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in the system scope (the event loop's tasks inherit it)."""
    with system_scope():
        return asyncio.run(coro)


def operator_command(function: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """An async CLI entry point that runs in the system scope however it is called."""

    @functools.wraps(function)
    async def as_operator(*args: P.args, **kwargs: P.kwargs) -> T:
        with system_scope():
            return await function(*args, **kwargs)

    return as_operator
