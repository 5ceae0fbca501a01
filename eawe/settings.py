"""EAWE settings: one pydantic-settings class, built at startup and passed in.

Nothing here is read at import time. ``Settings()`` reads the environment (and an
optional ``.env``); callers hand the instance to whatever needs it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from eawe.audit_keys import AuditSigner

__all__ = ["MIN_JWT_SECRET_LENGTH", "ModelPrice", "Settings"]

MIN_JWT_SECRET_LENGTH = 32
"""Shortest accepted JWT signing secret (RFC 7518 §3.2: an HS256 key has at least 256 bits)."""


class ModelPrice(BaseModel):
    """A model's price per million tokens (any currency; see ``price_currency``)."""

    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)


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
    database_owner_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_OWNER_URL", "EAWE_DATABASE_OWNER_URL"),
        description=(
            "The role that owns the schema: runs the migrations. DATABASE_URL is then the "
            "application's login, a member of eawe_app that owns no table (row-level security)"
        ),
    )
    db_pool_size: int = 10
    embedded_postgres_check_seconds: float = Field(
        default=2.0, gt=0, description="How often `serve` checks that its embedded PostgreSQL is alive"
    )

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
    max_run_input_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest run input (JSON bytes); bigger bodies get 413"
    )
    max_definition_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest workflow body (definition_graph + description)"
    )
    max_definition_nodes: int = Field(
        default=500, ge=1, description="Most nodes in one definition_graph, checked before validation"
    )

    # --- document parsing and indexing (each file is parsed in a separate, limited process) ---
    max_document_unzipped_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="A DOCX (ZIP) may inflate to at most this many bytes"
    )
    max_document_compression_ratio: int = Field(
        default=100, ge=1, description="Inflated/compressed ratio allowed for a DOCX inflating past 8 MiB"
    )
    max_document_pages: int = Field(default=2000, ge=1, description="Most pages of one PDF")
    max_extracted_chars: int = Field(default=2_000_000, ge=1, description="Most text extracted from one file")
    parse_timeout_seconds: float = Field(default=60.0, gt=0, description="Wall-clock limit to parse one file")
    parse_memory_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=256 * 1024 * 1024,
        description="Address-space limit of a parser process",
    )
    parse_workers: int = Field(default=1, ge=1, description="Parser processes (files parsed at once)")
    indexing_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An INDEXING document whose indexer stopped renewing for this long is failed",
    )

    # --- interoperability (MCP, A2A) ---
    interop_wait_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="How long an MCP tool call or A2A message/send waits for its run to finish or pause",
    )

    # --- code graphs ---
    graphs_config: Path | None = Field(
        default=None,
        description="A langgraph.json whose graphs every tenant may run beside its workflows "
        "(`eawe serve --graphs`)",
    )

    # --- login throttling ---
    login_rate_limit_per_account: str = Field(
        default="10/minute", description="Failed logins allowed per account ('limits' notation; '' = off)"
    )
    login_rate_limit_per_address: str = Field(
        default="50/minute", description="Failed logins allowed per client address ('' = off)"
    )
    login_rate_limit_storage: str = Field(
        default="memory://",
        description="'limits' storage URI for login counters; a shared one (redis://...) across processes",
    )

    # --- run workers ---
    worker_concurrency: int = Field(default=4, ge=1, description="Runs one worker executes at a time")
    run_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds after its last heartbeat that a claimed run is recovered by another worker",
    )

    # --- operations (traces are configured by the standard OTEL_* variables alone) ---
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json`: one JSON object per line with tenant/run/node/request ids"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that GET /metrics requires (cross-tenant figures); unset: /metrics is off",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`eawe worker` serves its own process metrics (node latency) on this port",
    )
    worker_metrics_host: str = Field(default="127.0.0.1", description="Interface of the worker metrics port")
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description='Per-model prices for GET /v1/usage, JSON: {"gpt-4o-mini": {"input_per_million": 0.15, '
        '"output_per_million": 0.6}}',
    )
    price_currency: str = "USD"
    deadline_check_seconds: float = Field(
        default=30.0, gt=0, description="How often a worker escalates overdue approval tasks"
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
