"""JSON-compatible copies of graph values: state may hold LangChain messages, pydantic models, dates."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["iso", "jsonable"]


def iso(moment: datetime | None) -> str | None:
    """Naive-UTC or aware datetimes → ISO 8601 with ``+00:00`` (the Agent Protocol's form)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-compatible copy of ``value``; unknown objects become their ``str``."""
    if _depth > 64:
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), _depth + 1)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth + 1)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    to_json = getattr(value, "to_json", None)  # LangChain Serializable
    if callable(to_json):
        try:
            return jsonable(to_json(), _depth + 1)
        except Exception:  # noqa: S110 - fall back to str below
            pass
    return str(value)
