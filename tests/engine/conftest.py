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

    async def read_secret(self, name_or_id: str) -> str:
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
