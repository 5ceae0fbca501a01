"""LangGraph Studio: langgraph.json serves every example through the graph factory."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from graphs import studio

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_lists_every_example() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    assert sorted(config["graphs"]) == studio.example_names()
    for name, target in config["graphs"].items():
        assert target == f"./graphs/studio.py:{name}"
        assert callable(getattr(studio, name)), f"graphs/studio.py has no factory named {name}"


async def test_each_factory_loads_its_graph() -> None:
    for name in studio.example_names():
        graph = await getattr(studio, name)({"configurable": {}})
        assert isinstance(graph, CompiledStateGraph)
        assert graph.name == name
        definition = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        assert {n["id"] for n in definition["nodes"]} <= set(graph.get_graph().nodes)


async def test_a_studio_graph_runs_with_the_studio_context() -> None:
    graph = await studio.grounded_answer({"configurable": {}})
    # LangGraph's server attaches its own checkpointer; give this copy one so the approval can pause.
    graph = graph.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "studio-1"}}
    result = await graph.ainvoke({"question": "How much can employees expense for travel per trip?"}, config)
    assert result["answer"].startswith("[local model] Employees may expense travel up to 500 EUR per trip")
    assert result["__interrupt__"][0].value["kind"] == "approval"
