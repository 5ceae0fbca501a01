"""A small code graph for the thread-protocol tests: a progress event, a step, an interrupt that
asks a question, a subgraph, and the answer in the final state."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import StateGraph
from langgraph.stream.transformers import CustomTransformer
from langgraph.types import interrupt


class State(TypedDict):
    items: Annotated[list[str], operator.add]


def prepare(state: State) -> dict[str, Any]:
    get_stream_writer()({"name": "progress", "step": "prepare"})
    return {"items": ["prepared"]}


def ask(state: State) -> dict[str, Any]:
    get_stream_writer()({"name": "progress", "step": "ask"})
    answer = interrupt({"question": "go on?"})
    return {"items": [f"answer:{answer}"]}


class Inner(TypedDict):
    note: str


def _inner(state: Inner) -> dict[str, Any]:
    return {"note": "inner"}


_sub = StateGraph(Inner)
_sub.add_node("inner", _inner)
_sub.set_entry_point("inner")
_sub.set_finish_point("inner")
_inner_graph = _sub.compile()


def nested(state: State) -> dict[str, Any]:
    return {"items": [_inner_graph.invoke({"note": ""})["note"]]}


_builder = StateGraph(State)
_builder.add_node("prepare", prepare)
_builder.add_node("ask", ask)
_builder.add_node("nested", nested)
_builder.set_entry_point("prepare")
_builder.add_edge("prepare", "ask")
_builder.add_edge("ask", "nested")
_builder.set_finish_point("nested")
graph = _builder.compile(transformers=[CustomTransformer])
