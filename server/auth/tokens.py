"""Short-lived access tokens: HS256 JWTs with ``exp``, ``iss`` and ``aud`` always checked.

The algorithm is pinned on both sides, so a token claiming ``alg: none`` or an RSA
algorithm is refused. The token names the user and tenant only; role and groups are read
from the database on every request, so a demotion or deactivation takes effect at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from eawe.settings import Settings
from server.problems import AuthenticationError

__all__ = ["ALGORITHM", "AccessTokenClaims", "decode_access_token", "issue_access_token"]

ALGORITHM = "HS256"
_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


@dataclass(frozen=True)
class AccessTokenClaims:
    user_id: str
    tenant_id: str
    expires_at: datetime
    session_epoch: int


def _secret(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise RuntimeError("EAWE_JWT_SECRET is not configured")
    return settings.jwt_secret.get_secret_value()


def issue_access_token(
    settings: Settings, *, user_id: str, tenant_id: str, session_epoch: int = 0
) -> tuple[str, int]:
    """Return ``(token, lifetime_seconds)`` for ``user_id`` in ``tenant_id``.

    ``session_epoch`` is the user's current ``User.session_epoch``; the token dies when it moves.
    """
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": user_id,
        "tid": tenant_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(12),
        "typ": _TOKEN_TYPE,
        "sep": session_epoch,
    }
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM), int(lifetime.total_seconds())


def decode_access_token(settings: Settings, token: str) -> AccessTokenClaims:
    """Verify signature, algorithm, expiry, issuer and audience; raise 401 on any failure."""
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("access token expired") from None
    except jwt.PyJWTError:
        raise AuthenticationError("invalid access token") from None
    if (
        claims.get("typ") != _TOKEN_TYPE
        or not isinstance(claims.get("tid"), str)
        or not isinstance(claims.get("sep", 0), int)
    ):
        raise AuthenticationError("invalid access token")
    return AccessTokenClaims(
        user_id=str(claims["sub"]),
        tenant_id=claims["tid"],
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        session_epoch=int(claims.get("sep", 0)),
    )
