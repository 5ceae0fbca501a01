"""Dev secrets are generated only in embedded mode; elsewhere a missing key stops startup."""

from __future__ import annotations

import stat

import pytest

from eawe.local_secrets import MissingSecretError, ensure_runtime_secrets
from eawe.settings import Settings


def test_embedded_mode_generates_and_reuses_keys(tmp_path) -> None:
    first = ensure_runtime_secrets(Settings(data_dir=tmp_path, _env_file=None))
    second = ensure_runtime_secrets(Settings(data_dir=tmp_path, _env_file=None))
    assert first.parsed_credential_keys() == second.parsed_credential_keys()
    assert len(first.parsed_credential_keys()[1]) == 32
    key_file = tmp_path / "secrets" / "credential-keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_missing_key_with_external_database_is_an_error(tmp_path) -> None:
    with pytest.raises(MissingSecretError, match="EAWE_CREDENTIAL_KEYS"):
        ensure_runtime_secrets(Settings(data_dir=tmp_path, database_url="postgresql://h/db", _env_file=None))
    assert not (tmp_path / "secrets").exists()


def test_embedded_mode_generates_an_audit_signing_key_and_elsewhere_the_sealer_needs_one(tmp_path) -> None:
    from eawe.audit_keys import key_id_of

    first = ensure_runtime_secrets(Settings(data_dir=tmp_path, _env_file=None)).audit_signer()
    second = ensure_runtime_secrets(Settings(data_dir=tmp_path, _env_file=None)).audit_signer()
    assert first.active_key_id == second.active_key_id == key_id_of(first.keys[1].public_key())
    assert stat.S_IMODE((tmp_path / "secrets" / "audit-signing-keys").stat().st_mode) == 0o600
    external = Settings(
        data_dir=tmp_path / "x", database_url="postgresql://h/db", credential_keys=None, _env_file=None
    )
    with pytest.raises(MissingSecretError, match="EAWE_AUDIT_SIGNING_KEYS"):
        external.audit_signer()
