"""Fixtures of the engine tests: registry, run contexts, stub HTTP servers, graph runner."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from agents import (
    KeywordRetriever,
    LocalChatModelFactory,
    NodeRegistry,
    Principal,
    RunContext,
    create_registry,
)
from eawe.db.tenant_scope import system_scope
from graphs.compiler import compile_workflow
from tests.engine.stub_http import RecordedRequest, StubHTTPServer

CORPUS = [
    Document("Employees may expense travel up to 500 EUR per trip.", metadata={"file_name": "travel.md"}),
    Document("Invoices of 10,000 EUR or more need finance review.", metadata={"file_name": "ap.md"}),
    Document("Laptops must use full-disk encryption.", metadata={"file_name": "security.md"}),
]


class SecretsInMemory:
    """A credential reader over a dict (the engine's reader uses the encrypted Credential table)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    async def read_secret(self, name_or_id: str, *, url: str | None = None, method: str | None = None) -> str:
        from eawe.errors import NotFoundError

        if name_or_id not in self.secrets:
            raise NotFoundError("credential", name_or_id)
        return self.secrets[name_or_id]


@pytest.fixture
def registry() -> NodeRegistry:
    return create_registry(plugins=False)


@pytest.fixture
def run_context() -> RunContext:
    return RunContext(
        tenant_id="tenant-a",
        principal=Principal(user_id="user-1", email="a@x.io", role="OPERATOR", groups=("Finance",)),
        chat_models=LocalChatModelFactory(),
        retriever=KeywordRetriever(CORPUS),
        credentials=SecretsInMemory({"erp-api": "s3cr3t-erp-token"}),
    )


class GraphRunner:
    """Compile a definition with InMemorySaver and run it on one thread."""

    def __init__(
        self, definition: dict[str, Any], registry: NodeRegistry, context: RunContext, **kw: Any
    ) -> None:
        self.graph: CompiledStateGraph = compile_workflow(
            definition, registry, checkpointer=InMemorySaver(), **kw
        )
        self.context = context
        self.config: dict[str, Any] = {"configurable": {"thread_id": "t1"}}

    async def run(self, value: Any) -> dict[str, Any]:
        return await self.graph.ainvoke(value, self.config, context=self.context)

    async def state(self) -> Any:
        return await self.graph.aget_state(self.config)


@pytest.fixture
def runner(registry: NodeRegistry, run_context: RunContext):
    def make(definition: dict[str, Any], **kw: Any) -> GraphRunner:
        return GraphRunner(definition, registry, run_context, **kw)

    return make


@pytest.fixture
def http_stub() -> Iterator[StubHTTPServer]:
    """A JSON endpoint; set ``stub.responder`` per test. Default: echo the request."""

    def echo(request: RecordedRequest) -> tuple[int, Any]:
        return 200, {"method": request.method, "path": request.path, "body": request.body}

    server = StubHTTPServer(echo).start()
    try:
        yield server
    finally:
        server.stop()


def linear(state: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A definition running ``nodes`` in order from START to END."""
    ids = ["START", *(n["id"] for n in nodes), "END"]
    return {
        "state": state,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
    }


# --- durable runs (real PostgreSQL from tests/conftest.py) ------------------------------------


@pytest.fixture(scope="module")
async def engine(settings: Any, database: Any) -> Any:
    """A RunEngine on the module's database: local chat model, keyword retriever, short leases."""
    from checkpoints import open_engine

    opened = await open_engine(
        settings,
        database,
        registry=create_registry(plugins=False),
        chat_models=LocalChatModelFactory(),
        retriever_factory=lambda tenant_id, principal: KeywordRetriever(CORPUS),
        lease_seconds=5.0,
        worker_id="test-worker",
    )
    try:
        yield opened
    finally:
        await opened.close()


async def publish_workflow(
    engine: Any, tenant_id: str, definition: dict[str, Any], actor_id: str | None = None
) -> str:
    """Store ``definition`` as a workflow of ``tenant_id`` and publish it; returns the workflow id."""
    from eawe.db.repositories.workflows import create_workflow

    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.transaction() as session:
            workflow = await create_workflow(
                session,
                tenant_id=tenant_id,
                name=definition.get("name") or "test",
                definition_graph=definition,
            )
    await engine.publish(tenant_id, workflow.id, actor_id=actor_id)
    return workflow.id


async def audit_actions(engine: Any, tenant_id: str, run_id: str) -> list[tuple[str, str]]:
    from eawe.db.repositories.runs import list_run_audit

    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.session() as session:
            return [(row.action, row.actor_type) for row in await list_run_audit(session, tenant_id, run_id)]


async def load_run(engine: Any, tenant_id: str, run_id: str) -> Any:
    from eawe.db.repositories.runs import get_run

    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.session() as session:
            return await get_run(session, tenant_id, run_id)


async def run_tasks(engine: Any, tenant_id: str, run_id: str) -> list[Any]:
    from eawe.db.repositories.hitl import tasks_for_run

    with system_scope():  # test setup/inspection as the operator
        async with engine.resources.database.session() as session:
            return await tasks_for_run(session, tenant_id, run_id)
