"""Request dependencies as ``Annotated`` aliases: resources, sessions, principals, page params."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import Permission
from server.auth.principal import Principal, PrincipalDep, require
from server.pagination import PageParams, PageParamsDep
from server.resources import ServerResources, get_resources

__all__ = [
    "PageParams",
    "PageParamsDep",
    "Principal",
    "PrincipalDep",
    "Requires",
    "ResourcesDep",
    "SessionDep",
]

ResourcesDep = Annotated[ServerResources, Depends(get_resources)]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_resources(request).database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
"""A read session. Routes that write open ``resources.database.transaction()`` themselves,
so the commit happens before the response is sent."""


class Requires:
    """``Requires.RUNS_CREATE`` etc.: a :class:`Principal` that holds that permission."""

    USERS_READ = Annotated[Principal, Depends(require(Permission.USERS_READ))]
    USERS_WRITE = Annotated[Principal, Depends(require(Permission.USERS_WRITE))]
    API_KEYS_MANAGE = Annotated[Principal, Depends(require(Permission.API_KEYS_MANAGE))]
    CREDENTIALS_MANAGE = Annotated[Principal, Depends(require(Permission.CREDENTIALS_MANAGE))]
    AUDIT_READ = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
    WORKFLOWS_READ = Annotated[Principal, Depends(require(Permission.WORKFLOWS_READ))]
    WORKFLOWS_WRITE = Annotated[Principal, Depends(require(Permission.WORKFLOWS_WRITE))]
    RUNS_READ = Annotated[Principal, Depends(require(Permission.RUNS_READ))]
    RUNS_CREATE = Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]
    RUNS_CONTROL = Annotated[Principal, Depends(require(Permission.RUNS_CONTROL))]
    HITL_READ = Annotated[Principal, Depends(require(Permission.HITL_READ))]
    HITL_DECIDE = Annotated[Principal, Depends(require(Permission.HITL_DECIDE))]
    DOCUMENTS_READ = Annotated[Principal, Depends(require(Permission.DOCUMENTS_READ))]
    DOCUMENTS_WRITE = Annotated[Principal, Depends(require(Permission.DOCUMENTS_WRITE))]
    SEARCH = Annotated[Principal, Depends(require(Permission.SEARCH))]
    STORE_READ = Annotated[Principal, Depends(require(Permission.STORE_READ))]
    STORE_WRITE = Annotated[Principal, Depends(require(Permission.STORE_WRITE))]
    SELF = Annotated[Principal, Depends(require(Permission.SELF))]
