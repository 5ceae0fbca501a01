"""Data-layer tests work as the schema's owner: they inspect and tamper with any tenant's rows
(the audit log's triggers, the sealer, migrations), which row-level security would hide.

Tenant isolation at the database is tested as the application's login in
``tests/security/test_row_level_security.py``; every other test directory runs as that login.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eawe.db.tenant_scope import system_scope


@pytest.fixture(scope="module")
def database_conninfo(owner_conninfo: str) -> str:
    return owner_conninfo


@pytest.fixture(autouse=True)
def operator_scope() -> Iterator[None]:
    with system_scope():  # the test's event-loop tasks copy this context when they start
        yield
