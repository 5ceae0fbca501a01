"""The Document repository: tenant-scoped, validated, guarded status transitions (real PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from eawe.db.database import Database
from eawe.db.models import IndexingStatus
from eawe.db.repositories import documents as repo
from eawe.db.tenant_scope import system_scope
from eawe.errors import ConflictError, NotFoundError, ValidationError

FINANCE = ["Finance"]


@pytest.fixture
async def tenant_id(tenant_factory: Any) -> str:
    made = await tenant_factory()
    return str(made.tenant.id)


async def test_repository_is_tenant_scoped_and_guards_transitions(
    tenant_id: str, tenant_factory: Any, database: Database
) -> None:
    other = await tenant_factory()
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            document = await repo.create_document(
                session,
                tenant_id=tenant_id,
                source_uri="s3://b/x.pdf",
                file_name="x.pdf",
                file_type="PDF",
                allowed_roles=["Finance", "Finance", "HR"],
            )
    assert document.allowed_roles == ["Finance", "HR"]
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            with pytest.raises(NotFoundError):
                await repo.get_document(session, other.tenant.id, document.id)
            with pytest.raises(NotFoundError):
                await repo.set_document_status(session, other.tenant.id, document.id, IndexingStatus.INDEXING)
            assert (await repo.list_documents(session, other.tenant.id)).items == []
            assert [
                d.id for d in (await repo.list_documents(session, tenant_id)).items if d.id == document.id
            ]
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            with pytest.raises(ConflictError):
                await repo.create_document(
                    session,
                    tenant_id=tenant_id,
                    source_uri="s3://b/x.pdf",
                    file_name="x.pdf",
                    file_type="PDF",
                    allowed_roles=FINANCE,
                )
    for roles, field in (
        ([], "allowed_roles"),
        (["ok", " "], "allowed_roles[1]"),
        ("Finance", "allowed_roles"),
    ):
        with system_scope():  # test setup/inspection as the operator
            async with database.transaction() as session:
                with pytest.raises(ValidationError) as caught:
                    await repo.create_document(
                        session,
                        tenant_id=tenant_id,
                        source_uri=f"s3://b/{field}",
                        file_name="y.pdf",
                        file_type="PDF",
                        allowed_roles=roles,  # type: ignore[arg-type]
                    )
                assert caught.value.problems[0].field == field
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            with pytest.raises(ConflictError):
                await repo.set_document_status(
                    session, tenant_id, document.id, IndexingStatus.COMPLETED, chunk_count=1
                )
            await repo.set_document_status(session, tenant_id, document.id, IndexingStatus.INDEXING)
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            with pytest.raises(ConflictError):
                await repo.set_document_status(session, tenant_id, document.id, IndexingStatus.INDEXING)
    with system_scope():  # test setup/inspection as the operator
        async with database.transaction() as session:
            with pytest.raises(ValidationError):
                await repo.set_document_status(session, tenant_id, document.id, IndexingStatus.FAILED)
            done = await repo.set_document_status(
                session, tenant_id, document.id, IndexingStatus.COMPLETED, chunk_count=4
            )
            assert repo.document_public(done)["status"] == "COMPLETED"
            assert repo.document_public(done)["chunk_count"] == 4
