"""Agent-Protocol-compatible routes for the official ``langgraph-sdk`` client and LangGraph Studio.

Mounted at the root (``/info``, ``/assistants``, ``/threads``, ``/runs``, ``/store``), behind the
same authentication, role matrix and tenant isolation as ``/v1``: assistants are graphs (published
workflows and code graphs) with config; threads are LangGraph threads holding many runs; runs are
WorkflowRuns; crons schedule runs; the store is LangGraph's, scoped to the tenant.
"""

from fastapi import APIRouter

from server.agent_protocol import (
    assistants,
    crons,
    meta,
    protocol_commands,
    protocol_events,
    runs,
    store,
    threads,
)

__all__ = ["router"]

router = APIRouter()
router.include_router(meta.router)
router.include_router(assistants.router)
router.include_router(crons.router)
router.include_router(runs.router)
router.include_router(threads.router)
router.include_router(store.router)
router.include_router(protocol_commands.router)  # the thread-centric streaming protocol
router.include_router(protocol_events.router)
