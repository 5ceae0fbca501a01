"""The node registry: decorator, config models, duplicates, unknown names, entry-point plugins."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agents
from agents import (
    DuplicateNodeTypeError,
    NodeConfig,
    NodeContext,
    NodeRegistry,
    PluginLoadError,
    StateKey,
    UnknownNodeTypeError,
    create_registry,
    node_type,
)
from graphs.validation import check_definition
from tests.engine.conftest import GraphRunner, linear


class ShoutConfig(NodeConfig):
    field: StateKey
    suffix: str = "!"


def test_builtins_are_registered() -> None:
    assert create_registry(plugins=False).names() == [
        "approval", "fan_out", "join", "llm", "mcp_tool", "retrieve", "router", "subworkflow", "tool",
        "transform",
    ]  # fmt: skip


async def test_custom_node_from_zero_to_running(run_context: agents.RunContext) -> None:
    registry = create_registry(plugins=False)

    @registry.node("shout", config=ShoutConfig, description="Upper-cases a field")
    async def shout(state: Any, config: ShoutConfig, ctx: NodeContext) -> dict[str, Any]:
        return {config.field: f"{state[config.field].upper()}{config.suffix} ({ctx.tenant_id}/{ctx.node_id})"}

    assert registry.get("shout").description == "Upper-cases a field"
    definition = linear(
        {"text": {"type": "string"}}, [{"id": "loud", "type": "shout", "config": {"field": "text"}}]
    )
    result = await GraphRunner(definition, registry, run_context).run({"text": "hello"})
    assert result["text"] == "HELLO! (tenant-a/loud)"


def test_custom_config_is_validated_with_its_model(registry: NodeRegistry) -> None:
    @registry.node("shout", config=ShoutConfig)
    async def shout(state: Any, config: ShoutConfig, ctx: NodeContext) -> None:
        return None

    undeclared = linear({"text": {}}, [{"id": "loud", "type": "shout", "config": {"field": "missing"}}])
    problems = {p.field: p.message for p in check_definition(undeclared, registry)}
    assert problems == {"nodes[0].config.field": "state field 'missing' is not declared in 'state'"}
    extra = linear({"text": {}}, [{"id": "loud", "type": "shout", "config": {"field": "text", "x": 1}}])
    problems = {p.field: p.message for p in check_definition(extra, registry)}
    assert problems == {"nodes[0].config.x": "Extra inputs are not permitted"}


def test_duplicate_names_are_refused(registry: NodeRegistry) -> None:
    with pytest.raises(DuplicateNodeTypeError, match="'llm' is already registered"):

        @registry.node("llm", config=ShoutConfig)
        async def llm(state: Any, config: ShoutConfig, ctx: NodeContext) -> None:
            return None


def test_unknown_name_lists_the_valid_ones(registry: NodeRegistry) -> None:
    with pytest.raises(UnknownNodeTypeError) as caught:
        registry.get("gpt")
    assert caught.value.valid == registry.names()
    assert "valid types: approval, fan_out, join, llm" in str(caught.value)


def test_bad_node_type_definitions() -> None:
    with pytest.raises(ValueError, match="must match"):
        node_type("Bad Name", config=ShoutConfig)(lambda s, c, x: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="pydantic model"):
        node_type("ok", config=dict)(lambda s, c, x: None)  # type: ignore[arg-type,return-value]


def test_registries_are_independent(registry: NodeRegistry) -> None:
    other = registry.copy()

    @other.node("extra", config=ShoutConfig)
    async def extra(state: Any, config: ShoutConfig, ctx: NodeContext) -> None:
        return None

    assert "extra" in other and "extra" not in registry


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    """A real installed distribution (dist-info + module) exposing ``eawe.nodes`` entry points."""
    (tmp_path / "eawe_demo_plugin.py").write_text(
        textwrap.dedent(
            """
            from agents import NodeConfig, StateKey, node_type

            class Cfg(NodeConfig):
                field: StateKey

            @node_type("demo.reverse", config=Cfg, description="Reverses a string field")
            async def reverse(state, config, ctx):
                return {config.field: state[config.field][::-1]}

            def register(registry):
                @registry.node("demo.twice", config=Cfg)
                async def twice(state, config, ctx):
                    return {config.field: state[config.field] * 2}

            NOT_A_NODE = 42
            """
        )
    )
    info = tmp_path / "eawe_demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eawe-demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[eawe.nodes]\nreverse = eawe_demo_plugin:reverse\ntwice = eawe_demo_plugin:register\n"
        "[eawe.nodes.broken]\nbad = eawe_demo_plugin:NOT_A_NODE\nmissing = eawe_demo_plugin:nope\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("eawe_demo_plugin", None)


async def test_entry_point_plugins(plugin_path: Path, run_context: agents.RunContext) -> None:
    registry = create_registry(plugins=True)
    assert {"demo.reverse", "demo.twice"} <= set(registry.names())
    definition = linear(
        {"text": {}},
        [
            {"id": "r", "type": "demo.reverse", "config": {"field": "text"}},
            {"id": "t", "type": "demo.twice", "config": {"field": "text"}},
        ],
    )
    assert (await GraphRunner(definition, registry, run_context).run({"text": "ab"}))["text"] == "baba"
    with pytest.raises(DuplicateNodeTypeError):
        registry.load_entry_points()


def test_broken_plugins_fail_loudly(plugin_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="'bad' must give a NodeType"):
        NodeRegistry().load_entry_points("eawe.nodes.broken")


def test_each_builtin_describes_itself_for_editors() -> None:
    described = {d["name"]: d for d in create_registry(plugins=False).describe()}
    assert {name: (d["title"], d["category"]) for name, d in described.items()} == {
        "approval": ("Approval", "Human"), "fan_out": ("Fan-out", "Control flow"),
        "join": ("Join", "Control flow"), "llm": ("LLM", "AI"), "retrieve": ("Retrieve", "Knowledge"),
        "router": ("Router", "Control flow"), "subworkflow": ("Subworkflow", "Control flow"),
        "tool": ("HTTP tool", "Integrations"), "transform": ("Transform", "Data"),
        "mcp_tool": ("MCP tool", "Integrations"),
    }  # fmt: skip
    assert {n for n, d in described.items() if d["routing"] == "config"} == {"router", "fan_out"}
    assert described["approval"]["routing"] == "dynamic"
    assert described["approval"]["interrupts"] == ["approval"]
    assert described["approval"]["reserved_state"] == [agents.APPROVALS_FIELD]
    assert [n for n, d in described.items() if d["interrupts"]] == ["approval"]
    assert described["join"]["waits_for_all"] is True
    router = described["router"]["config_schema"]
    assert router["properties"]["default"]["x-eawe"] == "node_ref"
    assert router["$defs"]["Route"]["properties"]["to"]["x-eawe"] == "node_ref"
    assert router["$defs"]["Route"]["properties"]["when"]["x-eawe"] == "condition"
    assert described["llm"]["config_schema"]["properties"]["output"]["x-eawe"] == "state_key"
    assert described["llm"]["config_schema"]["required"] == ["prompt", "output"]


def test_reserved_state_comes_from_the_registered_types() -> None:
    class MarkConfig(NodeConfig):
        label: str

    async def mark(state: Any, config: MarkConfig, ctx: NodeContext) -> dict[str, Any]:
        return {"eawe_marks": {ctx.node_id: config.label}}

    definition = linear(
        {"out": {"type": "string"}},
        [
            {"id": "m", "type": "mark", "config": {"label": "seen"}},
            {"id": "t", "type": "transform", "config": {"set": {"out": "{eawe_marks.m}"}}},
        ],
    )
    without = create_registry(plugins=False)
    without.register(node_type("mark", config=MarkConfig, category="Test")(mark))
    assert any("eawe_marks" in p.message for p in check_definition(definition, without))
    with_reserved = create_registry(plugins=False)
    described = with_reserved.register(
        node_type("mark", config=MarkConfig, category="Test", reserved_state=("eawe_marks",))(mark)
    ).describe()
    assert described["title"] == "Mark" and described["category"] == "Test"
    assert check_definition(definition, with_reserved) == []
    assert with_reserved.reserved_state() == ["eawe_approvals", "eawe_marks"]


def test_public_names() -> None:
    assert set(agents.__all__) == {name for name in dir(agents) if not name.startswith("_")} - {
        "builtins", "config_types", "context", "expressions", "keyword_retriever", "models", "registry",
        "templates", "http_calls",
    }  # fmt: skip
