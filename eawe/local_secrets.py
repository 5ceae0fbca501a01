"""Development secrets generated into the local data directory in embedded mode.

In embedded mode (no ``DATABASE_URL``) EAWE creates a credential key, a JWT signing secret and an
Ed25519 seed that signs the audit log's tree heads under ``<data_dir>/secrets`` (mode 0600) on
first start and reuses them. Anywhere else a missing key is a startup error: a production
deployment must bring its own keys.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from eawe.settings import Settings

__all__ = ["MissingSecretError", "ensure_runtime_secrets"]


class MissingSecretError(RuntimeError):
    """A required secret is not configured (names the setting, never a value)."""


def _read_or_create(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make)
    return make


def ensure_runtime_secrets(settings: Settings) -> Settings:
    """Return settings with credential keys and a JWT secret, generating dev ones in embedded mode."""
    updates: dict[str, SecretStr] = {}
    generate = settings.embedded_mode and settings.environment != "production"
    secrets_dir = settings.data_dir / "secrets"
    if settings.credential_keys is None:
        if not generate:
            raise MissingSecretError(
                "EAWE_CREDENTIAL_KEYS is required when DATABASE_URL is set or in production"
            )
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        updates["credential_keys"] = SecretStr(_read_or_create(secrets_dir / "credential-keys", f"1:{key}"))
    if settings.jwt_secret is None:
        if not generate:
            raise MissingSecretError("EAWE_JWT_SECRET is required when DATABASE_URL is set or in production")
        updates["jwt_secret"] = SecretStr(
            _read_or_create(secrets_dir / "jwt-secret", secrets.token_urlsafe(48))
        )
    if settings.webhook_secret is None and generate:
        updates["webhook_secret"] = SecretStr(
            _read_or_create(secrets_dir / "webhook-secret", secrets.token_urlsafe(32))
        )
    if settings.audit_signing_keys is None and generate:
        # Elsewhere the sealer refuses to start without it (Settings.audit_signer): only the
        # processes that sign tree heads need the key.
        seed = base64.b64encode(secrets.token_bytes(32)).decode()
        updates["audit_signing_keys"] = SecretStr(
            _read_or_create(secrets_dir / "audit-signing-keys", f"1:{seed}")
        )
    return settings.model_copy(update=updates) if updates else settings
