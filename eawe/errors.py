"""One small error hierarchy, each mapped once to an HTTP status by the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConflictError",
    "EAWEError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "ValidationError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (``field``, optionally ``node_id``) and why."""

    field: str
    message: str
    node_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.node_id is not None:
            data["node_id"] = self.node_id
        return data


class EAWEError(Exception):
    """Base of every error EAWE raises on purpose."""

    status_code = 500
    title = "Internal error"


class NotFoundError(EAWEError):
    """The object does not exist — or belongs to another tenant, which must look the same."""

    status_code = 404
    title = "Not found"

    def __init__(self, kind: str, object_id: str | None = None) -> None:
        self.kind = kind
        self.object_id = object_id
        super().__init__(f"{kind} not found" if object_id is None else f"{kind} {object_id!r} not found")


class ConflictError(EAWEError):
    """The request conflicts with the current state (duplicate name, decision already taken)."""

    status_code = 409
    title = "Conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class PermissionDeniedError(EAWEError):
    status_code = 403
    title = "Forbidden"


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)


class ValidationError(EAWEError):
    """Bad input; carries every problem found, each naming its field."""

    status_code = 422
    title = "Validation failed"

    def __init__(self, problems: list[Problem] | Problem | str, field: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(field=field or "body", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))
