"""Test-side view of an API tenant: users per role with login headers, and problem+json asserts."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from eawe.db.models import Role, User


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class ApiTenant:
    tenant_id: str
    users: dict[Role, User]
    passwords: dict[Role, str]
    headers: dict[Role, dict[str, str]] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return self.headers[Role.ADMINISTRATOR]

    @property
    def designer(self) -> dict[str, str]:
        return self.headers[Role.DESIGNER]

    @property
    def operator(self) -> dict[str, str]:
        return self.headers[Role.OPERATOR]


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """Assert a problem+json response with ``status`` (and an error naming ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, f"{field!r} not in {fields}"
    return body
