"""The OpenAPI document, completed in one place: error responses and the workflow graph schema.

FastAPI documents only success responses and its own 422 body. Every EAWE error is a
``application/problem+json`` body (:mod:`server.problems`), so :func:`install_openapi_contract`
adds, to every operation, the problem responses it can give:

- every operation: 422 (a bad parameter or body, NUL or a lone surrogate), 500, 503 (database
  unreachable, with ``Retry-After``);
- authenticated operations: 401, 403 (role) and 404 (an id that does not exist or belongs to
  another tenant — ids also travel in bodies and queries);
- operations with a body: 413 (over ``max_request_bytes``); writes: 409 (state conflicts);
- routes may declare more (429 on login and run creation) with ``responses=`` as usual.

It also puts the committed JSON Schema of workflow definitions
(``graphs/workflow_definition.schema.json``) into the components, so ``definition_graph`` in
requests documents the real node and edge shape instead of "any object".
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import WithJsonSchema

from graphs.schema_export import SCHEMA_PATH
from server.problems import PROBLEM_CONTENT_TYPE

__all__ = ["DefinitionGraphIn", "install_openapi_contract"]

_GRAPH_COMPONENT = "WorkflowDefinitionGraph"
_GRAPH_PREFIX = "WorkflowGraph"
_GRAPH_MARK = "x-eawe-definition-graph"

DefinitionGraphIn = Annotated[dict[str, Any], WithJsonSchema({"type": "object", _GRAPH_MARK: True})]
"""A ``definition_graph`` in a request body: documented by the committed definition schema
(pydantic cannot emit a ``$ref`` to a schema it does not know; the mark is replaced below)."""

_PROBLEM_SCHEMAS: dict[str, Any] = {
    "ProblemFieldError": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "Where: 'nodes[2].config.url', 'cursor', ..."},
            "message": {"type": "string", "description": "Why"},
            "location": {"type": "string", "description": "body, query, path, header or cookie"},
            "node_id": {"type": "string", "description": "The workflow node concerned, if any"},
        },
    },
    "Problem": {
        "type": "object",
        "description": "An error, as RFC 9457 problem details.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "Problem type URI ('about:blank': see the status)"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
        },
    },
}

_STATUS_TEXT = {
    401: "Missing, malformed, expired or revoked credentials",
    403: "The caller's role may not do this",
    404: "No such object in the caller's tenant (another tenant's ids look the same)",
    409: "Conflicts with the object's current state",
    413: "Request body over the server's limit",
    422: "Invalid parameter or body; `errors` names each field",
    429: "Too many requests; retry after `Retry-After` seconds",
    500: "Unexpected server error (details are logged, never returned)",
    503: "A dependency (the database) is unreachable; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_PUBLIC_PATHS = {"/health", "/v1/auth/token", "/ok", "/info"}
# Statuses particular to one operation, for routes that do not declare them themselves.
_EXTRA_STATUSES = {("post", "/v1/runs"): {429}, ("post", "/v1/auth/token"): {401, 429}}


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or _STATUS_TEXT[status],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def _graph_components() -> dict[str, Any]:
    """The definition schema and its ``$defs`` as components, with refs rewritten to match."""
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    text = json.dumps(document).replace('"#/$defs/', f'"#/components/schemas/{_GRAPH_PREFIX}')
    document = json.loads(text)
    components = {f"{_GRAPH_PREFIX}{name}": schema for name, schema in document.pop("$defs", {}).items()}
    for key in ("$schema", "$id"):
        document.pop(key, None)
    components[_GRAPH_COMPONENT] = document
    return components


def _point_graphs_at_component(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(_GRAPH_MARK):
            kept = {k: v for k, v in node.items() if k in ("description", "title")}
            return {**kept, "$ref": f"#/components/schemas/{_GRAPH_COMPONENT}"}
        return {key: _point_graphs_at_component(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_point_graphs_at_component(item) for item in node]
    return node


def _complete(spec: dict[str, Any]) -> dict[str, Any]:
    spec = _point_graphs_at_component(spec)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(_PROBLEM_SCHEMAS)
    schemas.update(_graph_components())
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            statuses = {422, 500, 503}
            if path not in _PUBLIC_PATHS:
                statuses |= {401, 403, 404}
            if "requestBody" in operation:
                statuses.add(413)
            if method in ("post", "put", "patch", "delete") and path not in _PUBLIC_PATHS:
                statuses.add(409)
            statuses |= _EXTRA_STATUSES.get((method, path), set())
            for status in sorted(statuses | {int(s) for s in responses if s.isdigit() and int(s) >= 400}):
                declared = responses.get(str(status), {})
                responses[str(status)] = _problem(status, declared.get("description"))
    return spec


def install_openapi_contract(app: FastAPI) -> None:
    """Serve the completed OpenAPI document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
