"""EAWE settings: one pydantic-settings class, built at startup and passed in.

Nothing here is read at import time. ``Settings()`` reads the environment (and an
optional ``.env``); callers hand the instance to whatever needs it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from eawe.audit_keys import AuditSigner

__all__ = ["MIN_JWT_SECRET_LENGTH", "Settings"]

MIN_JWT_SECRET_LENGTH = 32
"""Shortest accepted JWT signing secret (RFC 7518 §3.2: an HS256 key has at least 256 bits)."""


class Settings(BaseSettings):
    """Runtime configuration.

    Unprefixed names (``DATABASE_URL``, ``QDRANT_URL``, ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``) are
    accepted for the well-known services; everything else is ``EAWE_*``.
    """

    model_config = SettingsConfigDict(
        env_prefix="EAWE_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(
        default=Path(".eawe"), description="Local directory for embedded services and dev keys"
    )

    # --- relational store ---
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "EAWE_DATABASE_URL")
    )
    db_pool_size: int = 10

    # --- vector store ---
    qdrant_url: str | None = Field(
        default=None, validation_alias=AliasChoices("QDRANT_URL", "EAWE_QDRANT_URL")
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("QDRANT_API_KEY", "EAWE_QDRANT_API_KEY")
    )
    qdrant_path: Path | None = Field(
        default=None, description="Embedded engine path; default <data_dir>/qdrant"
    )
    qdrant_collection: str = "eawe_chunks"

    # --- models ---
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "EAWE_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "EAWE_OPENAI_BASE_URL")
    )
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"

    # --- secrets ---
    credential_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated 'version:base64key' pairs (32-byte AES keys); highest version encrypts",
    )
    jwt_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs run webhooks (X-EAWE-Signature); generated in embedded mode",
    )
    audit_signing_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Comma-separated 'version:base64seed' pairs (32-byte Ed25519 seeds) signing the audit log's "
            "tree heads; the highest version signs, older ones stay published for verification"
        ),
    )
    jwt_issuer: str = "eawe"
    jwt_audience: str = "eawe-api"
    access_token_minutes: int = 30

    # --- limits ---
    max_request_bytes: int = 25 * 1024 * 1024
    max_document_bytes: int = 20 * 1024 * 1024
    page_size_max: int = 200
    run_rate_limit_per_minute: int = 120

    # --- code graphs ---
    graphs_config: Path | None = Field(
        default=None,
        description="A langgraph.json whose graphs every tenant may run beside its workflows "
        "(`eawe serve --graphs`)",
    )

    # --- run workers ---
    worker_concurrency: int = Field(default=4, ge=1, description="Runs one worker executes at a time")
    run_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds after its last heartbeat that a claimed run is recovered by another worker",
    )

    # --- audit log sealer (eawe/audit_sealer.py) ---
    audit_seal_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Pause between sealer rounds; a round signs one tree head per tenant it sealed",
    )
    audit_sealer_retry_seconds: float = Field(
        default=2.0, gt=0, description="How often a standby sealer tries to take over the election lock"
    )

    # --- browser clients ---
    cors_allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (e.g. LangGraph Studio); JSON list",
    )

    @field_validator("credential_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _parse_keys(value.get_secret_value())  # raises with a clear message, never echoing the key
        return value

    @field_validator("audit_signing_keys")
    @classmethod
    def _audit_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from eawe.audit_keys import parse_signing_keys

            parse_signing_keys(value.get_secret_value())  # raises naming the entry, never the seed
        return value

    @model_validator(mode="after")
    def _production_requires_secrets(self) -> Settings:
        problems = []
        if self.environment == "production":
            missing = []
            if self.credential_keys is None:
                missing.append("EAWE_CREDENTIAL_KEYS")
            if self.jwt_secret is None:
                missing.append("EAWE_JWT_SECRET")
            if self.database_url is None:
                missing.append("DATABASE_URL")
            if missing:
                problems.append(f"production requires {', '.join(missing)} to be set")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            # An HS256 key this short can be brute-forced offline from any token the server issued.
            problems.append(f"EAWE_JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def embedded_mode(self) -> bool:
        """True when EAWE starts its own PostgreSQL (no DATABASE_URL)."""
        return self.database_url is None

    @property
    def resolved_qdrant_path(self) -> Path:
        return self.qdrant_path or (self.data_dir / "qdrant")

    def audit_signer(self) -> AuditSigner:
        """The tree-head signer; MissingSecretError naming the setting when no key is configured."""
        from eawe.audit_keys import AuditSigner, parse_signing_keys

        if self.audit_signing_keys is None:
            from eawe.local_secrets import MissingSecretError

            raise MissingSecretError(
                "EAWE_AUDIT_SIGNING_KEYS is required to sign the audit log's tree heads "
                "when DATABASE_URL is set or in production"
            )
        return AuditSigner(parse_signing_keys(self.audit_signing_keys.get_secret_value()))

    def parsed_credential_keys(self) -> dict[int, bytes]:
        """The credential keys by version; empty when unset."""
        if self.credential_keys is None:
            return {}
        return _parse_keys(self.credential_keys.get_secret_value())


def _parse_keys(raw: str) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for index, part in enumerate(p for p in raw.split(",") if p.strip()):
        version_text, sep, key_text = part.strip().partition(":")
        if not sep or not version_text.isdigit():
            raise ValueError(f"credential_keys entry {index}: expected 'version:base64key'")
        try:
            key = base64.b64decode(key_text, validate=True)
        except ValueError as exc:
            raise ValueError(f"credential_keys entry {index}: key is not valid base64") from exc
        if len(key) != 32:
            raise ValueError(f"credential_keys entry {index}: key must be 32 bytes for AES-256")
        keys[int(version_text)] = key
    return keys
