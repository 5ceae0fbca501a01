"""``/v1/documents`` and ``/v1/search``: the tenant's knowledge base, filtered by the caller's groups.

Uploading answers 202 at once; indexing runs in the background (parsing in a limited parser
process) and the document's ``status`` moves PENDING → INDEXING → COMPLETED | FAILED.
Administrators see and manage every document of the tenant; everyone else sees the documents
whose ``allowed_roles`` share one of their groups and manages (replaces, deletes) those whose
groups are all theirs. A document the caller cannot see does not exist for it: GET and DELETE
answer 404, and an upload whose ``source_uri`` (or file name) collides with it gets a 409 that
says nothing about it. Search always uses the caller's own tenant and groups, whatever their role.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from eawe.db.models import IndexingStatus, Role
from eawe.db.repositories import documents as repo
from eawe.db.repositories.documents import DocumentAccess, clean_allowed_roles, document_public
from eawe.errors import PermissionDeniedError, Problem, ValidationError
from retrieval import PermissionFilter, index_document, register_document, remove_document
from server.deps import PageParamsDep, Principal, Requires, ResourcesDep, SessionDep
from server.problems import problem_response
from server.resources import ServerResources
from server.schemas.common import PageOut
from server.schemas.documents import DocumentOut, SearchHit, SearchOut, SearchRequest

__all__ = ["router", "search_router"]

router = APIRouter(prefix="/documents", tags=["documents"])
search_router = APIRouter(tags=["search"])

_READ_CHUNK = 1024 * 1024


def _access(principal: Principal) -> DocumentAccess:
    if principal.role == Role.ADMINISTRATOR:
        return DocumentAccess.unrestricted()
    return DocumentAccess.for_groups(principal.groups)


def _parse_roles(raw: list[str]) -> list[str]:
    """``allowed_roles`` as repeated form fields, one comma-separated field, or a JSON list."""
    if len(raw) == 1 and raw[0].strip().startswith("["):
        try:
            parsed = json.loads(raw[0])
        except json.JSONDecodeError:
            raise ValidationError(Problem("allowed_roles", "not a valid JSON list")) from None
        return clean_allowed_roles(parsed if isinstance(parsed, list) else None)
    names = [part.strip() for item in raw for part in item.split(",")]
    return clean_allowed_roles([n for n in names if n])


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(_READ_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise _TooLarge
    return bytes(data)


class _TooLarge(Exception):
    pass


async def _index_in_background(
    resources: ServerResources, document_id: str, data: bytes, tenant_id: str, roles: list[str], actor_id: str
) -> None:
    await index_document(
        document_id,
        data,
        tenant_id=tenant_id,
        settings=resources.settings,
        database=resources.database,
        store=resources.rag.store,
        allowed_roles=roles,
        actor_id=actor_id,
        parse_pool=resources.rag.parse_pool,
    )


@router.post(
    "",
    status_code=202,
    response_model=DocumentOut,
    summary="Upload a document (indexed in the background)",
    responses={
        403: {"description": "The source names a visible document shared with groups you are not in"},
        409: {"description": "The source is taken by a document you cannot see, or is being indexed"},
        413: {"description": "File larger than max_document_bytes"},
    },
)
async def upload(
    principal: Requires.DOCUMENTS_WRITE,
    resources: ResourcesDep,
    file: Annotated[UploadFile, File(description="PDF, DOCX, Markdown or plain text")],
    allowed_roles: Annotated[
        list[str], Form(description="Groups that may see it (repeat, comma-separate or JSON)")
    ],
    source_uri: Annotated[str | None, Form(max_length=2000)] = None,
) -> DocumentOut | Response:
    roles = _parse_roles(allowed_roles)
    file_name = (file.filename or "").strip()
    if not file_name:
        raise ValidationError(Problem("file", "the upload needs a file name"))
    limit = resources.settings.max_document_bytes
    try:
        data = await _read_upload(file, limit)
    except _TooLarge:
        return problem_response(
            413,
            "Document too large",
            f"file: larger than the limit of {limit} bytes",
            errors=[{"field": "file", "message": f"larger than {limit} bytes"}],
        )
    if not data:
        raise ValidationError(Problem("file", "the file is empty"))
    document = await register_document(
        resources.database,
        tenant_id=principal.tenant_id,
        source_uri=(source_uri or "").strip() or f"upload://{file_name}",
        file_name=file_name,
        allowed_roles=roles,
        size_bytes=len(data),
        actor_id=principal.user_id,
        access=_access(principal),
        lease=timedelta(seconds=resources.settings.indexing_lease_seconds),
    )
    resources.rag.tasks.spawn(
        _index_in_background(resources, document.id, data, principal.tenant_id, roles, principal.user_id),
        name=f"index-document-{document.id}",
    )
    return DocumentOut.model_validate(document_public(document))


@router.get("", response_model=PageOut[DocumentOut], summary="List documents visible to the caller")
async def list_(
    principal: Requires.DOCUMENTS_READ,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[IndexingStatus | None, Query()] = None,
) -> PageOut[DocumentOut]:
    result = await repo.list_documents(
        session,
        principal.tenant_id,
        access=_access(principal),
        status=status,
        limit=page.limit,
        cursor=page.cursor,
    )
    return PageOut[DocumentOut](
        items=[DocumentOut.model_validate(document_public(d)) for d in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{document_id}", response_model=DocumentOut, summary="Get a document")
async def get(document_id: str, principal: Requires.DOCUMENTS_READ, session: SessionDep) -> DocumentOut:
    return DocumentOut.model_validate(
        document_public(
            await repo.get_visible_document(session, principal.tenant_id, document_id, _access(principal))
        )
    )


@router.delete(
    "/{document_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a document",
    responses={403: {"description": "The document is shared with groups you are not in"}},
)
async def delete(document_id: str, principal: Requires.DOCUMENTS_WRITE, resources: ResourcesDep) -> Response:
    access = _access(principal)
    async with resources.database.session() as session:
        document = await repo.get_visible_document(session, principal.tenant_id, document_id, access)
    if not access.manages(document):
        raise PermissionDeniedError(
            f"document {document_id} is also shared with groups you are not in; "
            "only an administrator may delete it"
        )
    await remove_document(
        document_id,
        permission_filter=PermissionFilter(principal.tenant_id, principal.groups),
        database=resources.database,
        store=resources.rag.store,
        actor_id=principal.user_id,
    )
    return Response(status_code=204)


@search_router.post("/search", response_model=SearchOut, summary="Semantic search over visible chunks")
async def search(body: SearchRequest, principal: Requires.SEARCH, resources: ResourcesDep) -> SearchOut:
    scope = PermissionFilter(principal.tenant_id, principal.groups)
    hits = await resources.rag.store.asearch(scope, body.query, body.k)
    items = []
    for doc in hits:
        meta = dict(doc.metadata)
        items.append(
            SearchHit(
                content=doc.page_content,
                score=meta.get("score"),
                document_id=meta.get("document_id"),
                source_uri=meta.get("source_uri"),
                file_name=meta.get("file_name"),
                metadata=meta,
            )
        )
    return SearchOut(items=items)
