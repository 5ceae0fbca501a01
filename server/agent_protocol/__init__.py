"""Agent-Protocol-compatible routes for the official ``langgraph-sdk`` client and LangGraph Studio.

Mounted at the root (``/info``, ``/assistants``, ``/threads``, ``/runs``), behind the same
authentication, role matrix and tenant isolation as ``/v1``: assistants are published
workflows, threads are workflow runs, runs are the executions on them (start and resumes).
"""

from fastapi import APIRouter

from server.agent_protocol import assistants, meta, protocol_commands, protocol_events, runs, store, threads

__all__ = ["router"]

router = APIRouter()
router.include_router(meta.router)
router.include_router(assistants.router)
router.include_router(runs.router)
router.include_router(threads.router)
router.include_router(store.router)  # LangGraph Store API (issue 8, item 7)
router.include_router(protocol_commands.router)  # the thread-centric streaming protocol (issue 8, item 5)
router.include_router(protocol_events.router)
