"""The permission filter: who may see which chunks, built from the acting principal only.

A chunk is visible to a principal iff its ``tenant_id`` equals the principal's tenant and its
``allowed_roles`` shares at least one group with the principal's groups. The filter is frozen and
has no way to be merged with, or widened by, anything else: graph state, node config, request
bodies and model output never reach it. The store refuses to search, scroll or delete without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from eawe.errors import Problem, ValidationError
from retrieval.errors import MissingPermissionScopeError

__all__ = ["PermissionFilter", "require_permission_filter"]

_MAX_GROUPS = 256
_MAX_NAME = 200


class _HasTenantAndGroups(Protocol):
    tenant_id: str
    groups: Any


class PermissionFilter:
    """The tenant and business groups a search runs as.

    Build it on the server side from the authenticated principal (``for_user``) or from the user a
    run acts as; never from request bodies or graph state. It is deliberately a plain immutable
    class, not a dataclass or pydantic model, so no validator can coerce a dict into one.

    Attributes:
        tenant_id: The caller's tenant; every query is restricted to it.
        groups: The caller's business groups; a chunk must list at least one of them in
            ``allowed_roles``. Empty means the caller sees nothing.
    """

    __slots__ = ("groups", "tenant_id")
    tenant_id: str
    groups: frozenset[str]

    def __init__(self, tenant_id: str, groups: Iterable[str] = ()) -> None:
        if not isinstance(tenant_id, str) or not tenant_id.strip():
            raise ValidationError(Problem(field="tenant_id", message="must be a non-empty string"))
        if isinstance(groups, str | bytes) or not isinstance(groups, Iterable):
            # A bare string would silently become a set of characters.
            raise ValidationError(Problem(field="groups", message="must be a list of group names"))
        clean: set[str] = set()
        for index, group in enumerate(groups):
            if not isinstance(group, str) or not group.strip():
                raise ValidationError(Problem(field=f"groups[{index}]", message="must be a non-empty string"))
            if len(group) > _MAX_NAME:
                raise ValidationError(
                    Problem(field=f"groups[{index}]", message=f"must be at most {_MAX_NAME} characters")
                )
            clean.add(group.strip())
        if len(clean) > _MAX_GROUPS:
            raise ValidationError(Problem(field="groups", message=f"at most {_MAX_GROUPS} groups"))
        object.__setattr__(self, "tenant_id", tenant_id)
        object.__setattr__(self, "groups", frozenset(clean))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PermissionFilter is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("PermissionFilter is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PermissionFilter):
            return NotImplemented
        return self.tenant_id == other.tenant_id and self.groups == other.groups

    def __hash__(self) -> int:
        return hash((self.tenant_id, self.groups))

    def __reduce__(self) -> tuple[Any, ...]:
        return (PermissionFilter, (self.tenant_id, sorted(self.groups)))

    @classmethod
    def for_user(cls, user: _HasTenantAndGroups) -> PermissionFilter:
        """The filter for a user row (or anything with ``tenant_id`` and ``groups``)."""
        return cls(user.tenant_id, user.groups or ())

    @property
    def sees_nothing(self) -> bool:
        """True when the caller has no groups, so no chunk can be visible."""
        return not self.groups

    def allows(self, payload: dict[str, Any]) -> bool:
        """Whether a chunk payload is visible under this filter (the rule the store enforces)."""
        roles = payload.get("allowed_roles") or []
        return payload.get("tenant_id") == self.tenant_id and bool(self.groups.intersection(roles))

    def __repr__(self) -> str:
        return f"PermissionFilter(tenant_id={self.tenant_id!r}, groups={sorted(self.groups)!r})"


def require_permission_filter(value: object, operation: str) -> PermissionFilter:
    """Return ``value`` if it is a :class:`PermissionFilter`, else raise.

    Raises:
        MissingPermissionScopeError: ``value`` is missing or of another type.
    """
    if not isinstance(value, PermissionFilter):
        raise MissingPermissionScopeError(
            f"{operation} requires a PermissionFilter built from the acting principal; "
            f"got {type(value).__name__}"
        )
    return value
