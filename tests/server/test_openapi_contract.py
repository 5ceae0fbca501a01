"""The OpenAPI contract holds: schemathesis over every operation, as each role, over real HTTP.

The app runs under uvicorn in its own thread (schemathesis' client is synchronous), on the
module's real PostgreSQL. A bounded number of examples per operation keeps the run short; every
response must be no 5xx, carry a documented status and content type, and match its schema.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.openapi import from_url
from schemathesis.specs.openapi import checks as openapi_checks  # the same path in every 4.x

from eawe.db.database import open_database
from eawe.db.models import Role
from eawe.db.repositories.tenants import create_tenant
from eawe.db.repositories.users import create_user
from eawe.db.tenant_scope import system_scope
from eawe.settings import Settings
from server.app import create_app
from tests.server.sample_workflows import REVIEWED_DRAFT

MAX_EXAMPLES = 4
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, run_worker=False), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    give_up = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < give_up, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def role_headers(live_server: str, database_conninfo: str, settings: Settings) -> dict[Role, dict[str, str]]:
    """A tenant with one user per role, logged in; plus a published workflow so ids exist."""
    tag = secrets.token_hex(4)
    passwords = {role: f"pw-{secrets.token_hex(8)}" for role in Role}

    async def make() -> dict[Role, str]:
        database = await open_database(settings, conninfo=database_conninfo)
        try:
            with system_scope():  # test setup/inspection as the operator
                async with database.transaction() as session:
                    tenant = await create_tenant(session, f"contract-{tag}")
                    emails = {}
                    for role in Role:
                        email = f"{role.value.lower()}-{tag}@contract.test"
                        await create_user(
                            session, tenant_id=tenant.id, email=email, password=passwords[role], role=role
                        )
                        emails[role] = email
            return emails
        finally:
            await database.dispose()

    emails = asyncio.run(make())
    headers = {}
    with httpx.Client(base_url=live_server, timeout=30) as http:
        for role, email in emails.items():
            token = http.post("/v1/auth/token", data={"username": email, "password": passwords[role]})
            assert token.status_code == 200, token.text
            headers[role] = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = http.post(
            "/v1/workflows",
            headers=headers[Role.ADMINISTRATOR],
            json={"name": "contract", "definition_graph": REVIEWED_DRAFT},
        )
        assert created.status_code == 201, created.text
    return headers


def _failures_for(schema: schemathesis.BaseSchema, headers: dict[str, str]) -> dict[str, str]:
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            label = case.operation.label
            if label in failures:
                return
            try:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup, or transport
                failures[label] = f"{type(exc).__name__}: {str(exc).strip()[:600]}"

        exercise()
    assert operations >= 50, f"only {operations} operations in the document"
    return failures


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.DESIGNER, Role.OPERATOR])
def test_every_operation_conforms(
    live_server: str, role_headers: dict[Role, dict[str, str]], role: Role
) -> None:
    schema = from_url(f"{live_server}/openapi.json")
    failures = _failures_for(schema, role_headers[role])
    report = "\n\n".join(f"{label}\n{text}" for label, text in sorted(failures.items()))
    assert not failures, f"{len(failures)} operations break the contract as {role.value}:\n{report}"


def test_document_states_errors_and_real_constraints(live_server: str) -> None:
    spec = httpx.get(f"{live_server}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == 8
    graph = spec["paths"]["/v1/workflows"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = schemas[graph["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["definition_graph"]["$ref"] == "#/components/schemas/WorkflowDefinitionGraph"
    assert "nodes" in schemas["WorkflowDefinitionGraph"]["required"]
    assert schemas["WorkflowOut"]["properties"]["status"]["$ref"].endswith("/WorkflowStatus")
    assert "ARCHIVED" in schemas["WorkflowStatus"]["enum"]
    assert "HTTPValidationError" not in schemas
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("422", "500", "503"):
                assert "application/problem+json" in responses[status]["content"], (method, path, status)
            if path not in ("/health", "/v1/auth/token", "/ok", "/info"):
                assert {"401", "403", "404"} <= set(responses), (method, path)
    login = spec["paths"]["/v1/auth/token"]["post"]["responses"]
    assert "Retry-After" in login["429"]["headers"]
    assert "Retry-After" in spec["paths"]["/v1/runs"]["post"]["responses"]["429"]["headers"]
