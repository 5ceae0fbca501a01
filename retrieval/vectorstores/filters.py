"""A backend-neutral payload filter, translated to qdrant-client models or to qdrant-edge.

Both engines speak the same filter language (must / should / must_not over field conditions);
this module lets the chunk store state a condition once and have both backends run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

__all__ = ["Clause", "Condition", "FieldIn", "FieldIs", "FieldRange", "to_client_filter", "to_edge_filter"]


@dataclass(frozen=True)
class FieldIs:
    """``key`` equals ``value`` (for array fields: contains it)."""

    key: str
    value: str | int


@dataclass(frozen=True)
class FieldIn:
    """``key`` equals (or, for arrays, contains) at least one of ``values``."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class FieldRange:
    """A numeric range on ``key``."""

    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


Condition = Union[FieldIs, FieldIn, FieldRange, "Clause"]


@dataclass(frozen=True)
class Clause:
    """All of ``must``, at least one of ``should`` (when given), none of ``must_not``."""

    must: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()


def to_client_filter(clause: Clause) -> Any:
    """The ``qdrant_client.models.Filter`` for ``clause``."""
    from qdrant_client import models

    def cond(c: Condition) -> Any:
        if isinstance(c, Clause):
            return to_client_filter(c)
        if isinstance(c, FieldIs):
            return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.value))
        if isinstance(c, FieldIn):
            return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.values)))
        if isinstance(c, FieldRange):
            return models.FieldCondition(
                key=c.key, range=models.Range(gt=c.gt, gte=c.gte, lt=c.lt, lte=c.lte)
            )
        raise TypeError(f"unknown filter condition {c!r}")

    return models.Filter(
        must=[cond(c) for c in clause.must] or None,
        should=[cond(c) for c in clause.should] or None,
        must_not=[cond(c) for c in clause.must_not] or None,
    )


def to_edge_filter(clause: Clause) -> Any:
    """The ``qdrant_edge.Filter`` for ``clause``."""
    import qdrant_edge as qe

    def cond(c: Condition) -> Any:
        if isinstance(c, Clause):
            return to_edge_filter(c)
        if isinstance(c, FieldIs):
            return qe.FieldCondition(key=c.key, match=qe.MatchValue(c.value))
        if isinstance(c, FieldIn):
            return qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.values)))
        if isinstance(c, FieldRange):
            return qe.FieldCondition(key=c.key, range=qe.RangeFloat(gt=c.gt, gte=c.gte, lt=c.lt, lte=c.lte))
        raise TypeError(f"unknown filter condition {c!r}")

    return qe.Filter(
        must=[cond(c) for c in clause.must] or None,
        should=[cond(c) for c in clause.should] or None,
        must_not=[cond(c) for c in clause.must_not] or None,
    )
