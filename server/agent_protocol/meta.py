"""``GET /info`` and ``GET /ok``: what LangGraph clients probe before anything else (no auth)."""

from __future__ import annotations

from typing import Any

import langgraph.version
from fastapi import APIRouter

from eawe.telemetry.langsmith import langsmith_tracing_enabled

__all__ = ["router"]

router = APIRouter(tags=["agent-protocol"])


@router.get("/ok", summary="Liveness (Agent Protocol)")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@router.get("/info", summary="Server information (Agent Protocol)")
async def info() -> dict[str, Any]:
    return {
        "version": "eawe-0.1.0",
        "langgraph_py_version": langgraph.version.__version__,
        "flags": {"assistants": True, "crons": True, "langsmith": langsmith_tracing_enabled()},
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None, "tenant_id": None},
    }
