"""Whether LangSmith tracing is on: LangChain and LangGraph trace every model call and graph step
to LangSmith by themselves when the user sets its standard variables (``LANGSMITH_TRACING=true``
and ``LANGSMITH_API_KEY``, or the older ``LANGCHAIN_*`` names). EAWE only reports it."""

from __future__ import annotations

__all__ = ["langsmith_tracing_enabled"]


def langsmith_tracing_enabled() -> bool:
    """True when LangSmith tracing is switched on and has an API key."""
    from langsmith import utils

    return bool(utils.tracing_is_enabled()) and bool(utils.get_env_var("API_KEY", default=None))
