"""Graph factories for LangGraph Studio (``langgraph dev``), one per example workflow.

``langgraph.json`` names ``./graphs/studio.py:<example>`` for every ``examples/<example>.json``;
each factory compiles the example without a checkpointer
(the LangGraph server brings its own) and with a Studio run context: the chat model from the
environment's settings (the labelled local model when no key is set) and a keyword retriever
over ``examples/corpus`` — sample documents, never tenant data.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from agents.context import Principal, RunContext
from agents.keyword_retriever import KeywordRetriever
from agents.models.factory import chat_model_factory_from_settings
from agents.registry import create_registry

__all__ = [
    "EXAMPLES_DIR",
    "example_names",
    "grounded_answer",
    "invoice_triage",
    "make_example_graph",
    "parallel_research",
    "studio_context",
]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def example_names() -> list[str]:
    """Names of the example workflows (``examples/*.json``)."""
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.json"))


def _corpus() -> list[Document]:
    documents = []
    for path in sorted((EXAMPLES_DIR / "corpus").glob("*.md")):
        for number, paragraph in enumerate(p.strip() for p in path.read_text(encoding="utf-8").split("\n")):
            if paragraph and not paragraph.startswith("#"):
                documents.append(
                    Document(paragraph, metadata={"file_name": path.name, "chunk_index": number})
                )
    return documents


def studio_context() -> RunContext:
    """The run context for graphs served by ``langgraph dev`` (built when a graph is requested)."""
    from eawe.settings import Settings

    return RunContext(
        tenant_id="studio",
        principal=Principal(user_id=None, email="studio@localhost", role="DESIGNER"),
        chat_models=chat_model_factory_from_settings(Settings()),
        retriever=KeywordRetriever(_corpus()),
    )


def make_example_graph(name: str, config: RunnableConfig | None = None) -> CompiledStateGraph:
    """Compile ``examples/<name>.json`` for Studio."""
    if name not in example_names():
        raise LookupError(f"no example named {name!r}; examples: {', '.join(example_names())}")
    definition = json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return _compile(definition, name)


def _compile(definition: dict[str, Any], name: str) -> CompiledStateGraph:
    from graphs.compiler import compile_workflow

    return compile_workflow(definition, create_registry(), default_context=studio_context(), name=name)


# One factory per example, named as in langgraph.json (the LangGraph server looks the names up
# among the module's attributes, so they are spelled out; a test checks that none is missing).
# They compile in a worker thread: reading the example files would block the server's loop.
async def grounded_answer(config: RunnableConfig) -> CompiledStateGraph:
    """Studio factory for ``examples/grounded_answer.json``."""
    return await asyncio.to_thread(make_example_graph, "grounded_answer", config)


async def invoice_triage(config: RunnableConfig) -> CompiledStateGraph:
    """Studio factory for ``examples/invoice_triage.json``."""
    return await asyncio.to_thread(make_example_graph, "invoice_triage", config)


async def parallel_research(config: RunnableConfig) -> CompiledStateGraph:
    """Studio factory for ``examples/parallel_research.json``."""
    return await asyncio.to_thread(make_example_graph, "parallel_research", config)
