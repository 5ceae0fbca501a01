"""Credentials: AES-256-GCM bound to tenant + id + key version; rotation; no plaintext at rest."""

from __future__ import annotations

import base64
import logging

import psycopg
import pytest

from eawe.credentials import (
    CredentialCipher,
    CredentialDecryptError,
    create_credential,
    list_credentials,
    reveal_credential,
    rotate_credentials,
)
from eawe.errors import NotFoundError, ValidationError

SECRET = "sk-live-THE-PLAINTEXT-123"
KEY1 = bytes(range(32))
KEY2 = bytes(reversed(range(32)))


async def test_roundtrip_and_no_plaintext_at_rest(database, tenant_factory, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    made = await tenant_factory()
    cipher = CredentialCipher({1: KEY1})
    async with database.transaction() as session:
        row = await create_credential(
            session,
            cipher,
            tenant_id=made.tenant.id,
            name="crm",
            type="API_KEY",
            service_name="SALESFORCE",
            secret=SECRET,
        )
    async with database.session() as session:
        assert await reveal_credential(session, cipher, made.tenant.id, row.id) == SECRET
    with psycopg.connect(database.conninfo) as conn:
        dump = "\n".join(str(r) for r in conn.execute('SELECT * FROM "Credential"').fetchall())
        dump += "\n".join(str(r) for r in conn.execute('SELECT * FROM "AuditLog"').fetchall())
    assert SECRET not in dump
    assert SECRET not in caplog.text


async def test_ciphertext_copied_to_another_row_or_tenant_fails(database, tenant_factory) -> None:
    a = await tenant_factory()
    b = await tenant_factory()
    cipher = CredentialCipher({1: KEY1})
    async with database.transaction() as session:
        ra = await create_credential(
            session, cipher, tenant_id=a.tenant.id, name="x", type="API_KEY", service_name="S", secret=SECRET
        )
        ra2 = await create_credential(
            session, cipher, tenant_id=a.tenant.id, name="y", type="API_KEY", service_name="S", secret="other"
        )
        rb = await create_credential(
            session,
            cipher,
            tenant_id=b.tenant.id,
            name="z",
            type="API_KEY",
            service_name="S",
            secret="b-secret",
        )
    with psycopg.connect(database.conninfo) as conn:
        conn.execute(
            'UPDATE "Credential" SET "encryptedValue" = %s WHERE id IN (%s, %s)',
            (ra.encrypted_value, ra2.id, rb.id),
        )
    async with database.session() as session:
        for tenant_id, cred_id in ((a.tenant.id, ra2.id), (b.tenant.id, rb.id)):
            with pytest.raises(CredentialDecryptError) as info:
                await reveal_credential(session, cipher, tenant_id, cred_id)
            assert SECRET not in str(info.value)
        # the original row still decrypts
        assert await reveal_credential(session, cipher, a.tenant.id, ra.id) == SECRET


async def test_cross_tenant_reveal_is_not_found(database, tenant_factory) -> None:
    a = await tenant_factory()
    b = await tenant_factory()
    cipher = CredentialCipher({1: KEY1})
    async with database.transaction() as session:
        ra = await create_credential(
            session, cipher, tenant_id=a.tenant.id, name="x", type="API_KEY", service_name="S", secret=SECRET
        )
    async with database.session() as session:
        with pytest.raises(NotFoundError):
            await reveal_credential(session, cipher, b.tenant.id, ra.id)
        page = await list_credentials(session, b.tenant.id)
        assert ra.id not in [c.id for c in page.items]


async def test_rotation_reencrypts_to_newest_key(database, tenant_factory) -> None:
    made = await tenant_factory()
    old = CredentialCipher({1: KEY1})
    async with database.transaction() as session:
        row = await create_credential(
            session, old, tenant_id=made.tenant.id, name="x", type="API_KEY", service_name="S", secret=SECRET
        )
    new = CredentialCipher({1: KEY1, 2: KEY2})
    async with database.transaction() as session:
        assert await rotate_credentials(session, new, made.tenant.id) == 1
    async with database.session() as session:
        assert await reveal_credential(session, new, made.tenant.id, row.id) == SECRET
        assert await reveal_credential(session, CredentialCipher({2: KEY2}), made.tenant.id, row.id) == SECRET
        with pytest.raises(CredentialDecryptError):
            await reveal_credential(session, old, made.tenant.id, row.id)
    async with database.transaction() as session:
        assert await rotate_credentials(session, new, made.tenant.id) == 0


async def test_empty_value_is_refused_naming_field(database, tenant_factory) -> None:
    made = await tenant_factory()
    with pytest.raises(ValidationError) as info:
        async with database.transaction() as session:
            await create_credential(
                session,
                CredentialCipher({1: KEY1}),
                tenant_id=made.tenant.id,
                name="x",
                type="API_KEY",
                service_name="",
                secret="",
            )
    assert {p.field for p in info.value.problems} == {"service_name", "value"}


def test_cipher_rejects_short_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CredentialCipher({1: b"short"})


def test_settings_parse_keys_without_echoing_them() -> None:
    from eawe.settings import Settings

    good = "1:" + base64.b64encode(KEY1).decode() + ",2:" + base64.b64encode(KEY2).decode()
    s = Settings(credential_keys=good, _env_file=None)
    assert s.parsed_credential_keys() == {1: KEY1, 2: KEY2}
    with pytest.raises(ValueError) as info:
        Settings(credential_keys="1:" + base64.b64encode(b"x" * 16).decode(), _env_file=None)
    assert "32 bytes" in str(info.value) and base64.b64encode(b"x" * 16).decode() not in str(info.value)
    with pytest.raises(ValueError, match="EAWE_CREDENTIAL_KEYS"):
        Settings(environment="production", database_url="postgresql://x/y", jwt_secret="s", _env_file=None)
