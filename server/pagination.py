"""Page parameters for every list route: ``limit`` (capped at ``page_size_max``) and ``cursor``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from server.resources import get_resources

__all__ = ["DEFAULT_PAGE_SIZE", "PageParams", "PageParamsDep"]

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def _page_params(
    request: Request,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size; capped at the server's page_size_max")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor from the previous page")
    ] = None,
) -> PageParams:
    cap = get_resources(request).settings.page_size_max
    return PageParams(limit=min(limit or DEFAULT_PAGE_SIZE, cap), cursor=cursor or None)


PageParamsDep = Annotated[PageParams, Depends(_page_params)]
