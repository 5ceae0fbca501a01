"""The role matrix: which system role may do what. One table, enforced on every route.

ADMINISTRATOR may do everything. DESIGNER builds workflows and reads runs. OPERATOR
starts runs, handles HITL tasks and reads runs. Reading workflows, documents and
searching is open to every role (search is filtered by the caller's groups anyway).
The LangGraph store (``/store``, the tenant's long-term graph memory) is readable by every role
and written by DESIGNER and ADMINISTRATOR: what it holds steers every run of the tenant, like a
workflow does; OPERATORs change it only through the runs they start.
"""

from __future__ import annotations

import enum

from eawe.db.models import Role

__all__ = ["ROLE_PERMISSIONS", "Permission", "role_allows"]


class Permission(enum.StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_MANAGE = "api_keys:manage"
    CREDENTIALS_MANAGE = "credentials:manage"
    AUDIT_READ = "audit:read"
    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_WRITE = "workflows:write"
    RUNS_READ = "runs:read"
    RUNS_CREATE = "runs:create"
    RUNS_CONTROL = "runs:control"
    HITL_READ = "hitl:read"
    HITL_DECIDE = "hitl:decide"
    DOCUMENTS_READ = "documents:read"
    DOCUMENTS_WRITE = "documents:write"
    SEARCH = "search"
    STORE_READ = "store:read"
    STORE_WRITE = "store:write"
    SELF = "self"


_EVERYONE = {
    Permission.SELF,
    Permission.WORKFLOWS_READ,
    Permission.RUNS_READ,
    Permission.DOCUMENTS_READ,
    Permission.SEARCH,
    Permission.STORE_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.DESIGNER: frozenset(
        _EVERYONE | {Permission.WORKFLOWS_WRITE, Permission.DOCUMENTS_WRITE, Permission.STORE_WRITE}
    ),
    Role.OPERATOR: frozenset(
        _EVERYONE
        | {Permission.RUNS_CREATE, Permission.RUNS_CONTROL, Permission.HITL_READ, Permission.HITL_DECIDE}
    ),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
