"""The ``/v1`` REST routers, one per resource, collected in :data:`V1_ROUTERS`."""

from __future__ import annotations

from server.routes import (
    api_keys,
    audit_logs,
    auth,
    credentials,
    documents,
    feedback,
    hitl_tasks,
    node_types,
    runs,
    tenant_model,
    usage,
    users,
    workflows,
)

__all__ = ["V1_ROUTERS"]

V1_ROUTERS = [
    auth.router,
    users.router,
    api_keys.router,
    workflows.router,
    node_types.router,
    runs.router,
    hitl_tasks.router,
    feedback.router,
    documents.router,
    documents.search_router,
    credentials.router,
    audit_logs.router,
    usage.router,
    tenant_model.router,
]
