"""Shared pieces of the API's bodies: UTC timestamps and the list envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

__all__ = ["ApiModel", "PageOut", "UtcDatetime", "iso_utc"]

T = TypeVar("T")


def iso_utc(moment: datetime | None) -> str | None:
    """Naive-UTC database timestamps → ISO 8601 with an explicit ``Z``."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


UtcDatetime = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


class ApiModel(BaseModel):
    """Base of response bodies: built from ORM rows or dicts."""

    model_config = ConfigDict(from_attributes=True)


class PageOut(ApiModel, Generic[T]):
    """A page of a list: newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[T]
    next_cursor: str | None = None
