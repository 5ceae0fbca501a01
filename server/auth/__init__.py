"""Authentication (JWT access tokens, API keys) and the role matrix every route is checked against."""

from server.auth.permissions import ROLE_PERMISSIONS, Permission, role_allows
from server.auth.principal import Principal, PrincipalDep, authenticate, require
from server.auth.tokens import decode_access_token, issue_access_token

__all__ = [
    "ROLE_PERMISSIONS",
    "Permission",
    "Principal",
    "PrincipalDep",
    "authenticate",
    "decode_access_token",
    "issue_access_token",
    "require",
    "role_allows",
]
