"""NUL characters and lone surrogates are a 422 naming the field, everywhere text enters the API;
an unexpected error is a 500 problem that keeps the keep-alive connection usable."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.server.api_tenants import assert_problem
from tests.server.sample_workflows import REVIEWED_DRAFT

NUL = "\x00"
SURROGATE = "\ud800"


def _raw_json(payload: str) -> bytes:
    """A JSON text as a client would send it (``\\u0000`` / ``\\ud800`` escapes stay escapes)."""
    return payload.encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": "a\\u0000b", "definition_graph": {}}', "name"),
        ('{"name": "ok", "description": "x\\ud800", "definition_graph": {}}', "description"),
        (
            '{"name": "ok", "definition_graph": {"nodes": [{"id": "n\\u0000"}]}}',
            "definition_graph.nodes[0].id",
        ),
        ('{"name": "ok", "definition_graph": {"k\\u0000": 1}}', "definition_graph.k\ufffd"),
    ],
)
async def test_json_body_with_nul_or_surrogate_is_422_naming_field(
    client: httpx.AsyncClient, api_tenant, body: str, field: str
) -> None:
    tenant = await api_tenant()
    response = await client.post(
        "/v1/workflows",
        headers=tenant.designer | {"content-type": "application/json"},
        content=_raw_json(body),
    )
    problem = assert_problem(response, 422, field)
    assert "NUL" in problem["detail"] or "surrogate" in problem["detail"]


async def test_surrogate_sent_as_raw_bytes_is_422(client: httpx.AsyncClient, api_tenant) -> None:
    # Python's json.loads decodes such bytes with "surrogatepass", so they must be caught too.
    tenant = await api_tenant()
    body = json.dumps({"definition_graph": {"state": {"k\ud8be": {}}}}, ensure_ascii=False)
    response = await client.post(
        "/v1/workflows/validate",
        headers=tenant.designer | {"content-type": "application/json"},
        content=body.encode("utf-8", "surrogatepass"),
    )
    assert_problem(response, 422, "definition_graph.state.k\ufffd")


async def test_proper_surrogate_pair_is_accepted(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    body = json.dumps({"name": "smile \ud83d\ude00", "definition_graph": REVIEWED_DRAFT}).encode()
    assert b"\\ud83d\\ude00" in body
    response = await client.post(
        "/v1/workflows", headers=tenant.designer | {"content-type": "application/json"}, content=body
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "smile \U0001f600"


async def test_run_input_and_thread_metadata_with_nul_are_422(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    run = await client.post(
        "/v1/runs",
        headers=tenant.operator | {"content-type": "application/json"},
        content=b'{"workflow_id": "w", "input": {"question": "\\u0000"}}',
    )
    assert_problem(run, 422, "input.question")
    thread = await client.post(
        "/threads",
        headers=tenant.operator | {"content-type": "application/json"},
        content=b'{"metadata": {"tag": "\\udc00"}}',
    )
    assert_problem(thread, 422, "metadata.tag")


async def test_cursor_and_path_with_nul_are_422(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    listed = await client.get("/v1/workflows", params={"cursor": "abc" + NUL}, headers=tenant.admin)
    assert_problem(listed, 422, "cursor")
    fetched = await client.get("/v1/workflows/abc%00def", headers=tenant.admin)
    assert_problem(fetched, 422, "path")
    bad_utf8 = await client.get("/v1/runs?cursor=%ED%A0%80", headers=tenant.admin)
    assert_problem(bad_utf8, 422, "query")


async def test_login_form_with_nul_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/token", data={"username": "a" + NUL + "@x.io", "password": "pw"})
    assert_problem(response, 422, "username")
    surrogate = await client.post(
        "/v1/auth/token",
        content=b"username=a%ED%A0%80%40x.io&password=pw",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(surrogate, 422, "body")


async def _request_on(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert status_line, "connection closed by the server"
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def test_unhandled_error_is_problem_500_and_keeps_connection(app: FastAPI, live_url: str) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/__test_boom", boom, methods=["GET"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the console's page fallback
    async with httpx.AsyncClient(base_url=live_url) as http:
        response = await http.get("/__test_boom")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text and body["title"] == "Internal error"

    parts = urlsplit(live_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        assert await _request_on(reader, writer, parts.netloc, "/__test_boom") == 500
        # Same socket: the server kept the connection open after the 500.
        assert await _request_on(reader, writer, parts.netloc, "/health") == 200
    finally:
        writer.close()


async def test_multipart_form_fields_with_nul_are_422(client: httpx.AsyncClient, api_tenant) -> None:
    tenant = await api_tenant()
    response = await client.post(
        "/v1/documents",
        headers=tenant.admin,
        files={"file": ("note.md", b"# hello\x00 binary bytes in a file are fine", "text/markdown")},
        data={"allowed_roles": "Staff\x00", "source_uri": "s3://x"},
    )
    assert_problem(response, 422, "allowed_roles")
    # httpx percent-encodes odd file names; a raw client can send the NUL byte itself.
    raw = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="no\x00te.md"\r\n'
        b"Content-Type: text/markdown\r\n\r\n# hello\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="allowed_roles"\r\n\r\nStaff\r\n'
        b"--b0undary--\r\n"
    )
    named = await client.post(
        "/v1/documents",
        headers=tenant.admin | {"content-type": "multipart/form-data; boundary=b0undary"},
        content=raw,
    )
    problem = assert_problem(named, 422, "file")
    assert "file name" in problem["detail"]
