"""Definition validation: each kind of problem, named by field and node id, all reported at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agents import NodeRegistry
from eawe.errors import Problem, ValidationError
from graphs.validation import check_definition, validate_definition

BASE: dict[str, Any] = {
    "schema_version": 1,
    "state": {"question": {"type": "string"}, "context": {"type": "array"}, "answer": {"type": "string"}},
    "nodes": [
        {"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 4, "output": "context"}},
        {
            "id": "draft",
            "type": "llm",
            "config": {"prompt": "Answer from {context}: {question}", "output": "answer"},
        },
        {"id": "review", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "answer"}},
    ],
    "edges": [
        {"source": "START", "target": "find"},
        {"source": "find", "target": "draft"},
        {"source": "draft", "target": "review"},
        {"source": "review", "target": "END"},
    ],
}


def problems_of(definition: Any, registry: NodeRegistry) -> list[Problem]:
    return check_definition(definition, registry)


def only(problems: list[Problem], field: str) -> Problem:
    matching = [p for p in problems if p.field == field]
    assert len(matching) == 1, problems
    return matching[0]


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def test_the_design_example_is_valid(registry: NodeRegistry) -> None:
    validated = validate_definition(base(), registry)
    assert set(validated.configs) == {"find", "draft", "review"}
    assert len(validated.graph_hash) == 64


def test_unknown_node_type_lists_valid_types(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"][1]["type"] = "gpt"
    problem = only(problems_of(definition, registry), "nodes[1].type")
    assert problem.node_id == "draft"
    assert "unknown node type 'gpt'" in problem.message
    for name in (
        "approval",
        "llm",
        "retrieve",
        "router",
        "tool",
        "transform",
        "subworkflow",
        "fan_out",
        "join",
    ):
        assert name in problem.message


def test_bad_config_names_the_config_field(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"][0]["config"] = {"query": "{question}", "k": 0, "output": "context", "colour": "red"}
    problems = problems_of(definition, registry)
    assert only(problems, "nodes[0].config.k").node_id == "find"
    assert "greater than or equal to 1" in only(problems, "nodes[0].config.k").message
    assert "Extra inputs are not permitted" in only(problems, "nodes[0].config.colour").message


def test_missing_required_config_field(registry: NodeRegistry) -> None:
    definition = base()
    del definition["nodes"][1]["config"]["prompt"]
    assert only(problems_of(definition, registry), "nodes[1].config.prompt").message == "Field required"


def test_dangling_edges(registry: NodeRegistry) -> None:
    definition = base()
    definition["edges"].append({"source": "ghost", "target": "draft"})
    definition["edges"].append({"source": "draft", "target": "nowhere"})
    problems = problems_of(definition, registry)
    assert "source 'ghost' is not a node" in only(problems, "edges[4].source").message
    target = only(problems, "edges[5].target")
    assert "target 'nowhere' is not a node" in target.message and target.node_id == "draft"


def test_edges_into_start_and_out_of_end(registry: NodeRegistry) -> None:
    definition = base()
    definition["edges"] += [{"source": "draft", "target": "START"}, {"source": "END", "target": "find"}]
    problems = problems_of(definition, registry)
    assert "START cannot be the target" in only(problems, "edges[4].target").message
    assert "END has no outgoing edges" in only(problems, "edges[5].source").message


def test_unreachable_node(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append({"id": "orphan", "type": "transform", "config": {"set": {"answer": "x"}}})
    definition["edges"].append({"source": "orphan", "target": "END"})
    problem = only(problems_of(definition, registry), "nodes[3]")
    assert problem.node_id == "orphan" and "unreachable" in problem.message


def test_no_path_to_end(registry: NodeRegistry) -> None:
    definition = base()
    definition["edges"] = [e for e in definition["edges"] if e["target"] != "END"]
    problem = only(problems_of(definition, registry), "nodes[2]")
    assert problem.node_id == "review" and problem.message == "no path to END from this node"


def test_cycle_without_exit(registry: NodeRegistry) -> None:
    definition = base()
    definition["edges"] = [
        {"source": "START", "target": "find"},
        {"source": "find", "target": "draft"},
        {"source": "draft", "target": "review"},
        {"source": "review", "target": "draft"},
    ]
    problems = problems_of(definition, registry)
    cycle = only(problems, "nodes[1]")
    assert cycle.node_id == "draft"
    assert cycle.message == "cycle without exit: draft → review → draft never reaches END"
    assert only(problems, "nodes[0]").message == "no path to END from this node"


def test_a_cycle_with_a_router_exit_is_valid(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append(
        {
            "id": "check",
            "type": "router",
            "config": {"routes": [{"when": "len(answer) > 10", "to": "END"}], "default": "draft"},
        }
    )
    definition["edges"][-1] = {"source": "review", "target": "check"}
    assert problems_of(definition, registry) == []


def test_duplicate_node_ids(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append({"id": "draft", "type": "transform", "config": {"set": {"answer": "x"}}})
    problem = only(problems_of(definition, registry), "nodes[3].id")
    assert problem.node_id == "draft" and "duplicate node id 'draft' (also nodes[1])" in problem.message


def test_router_target_that_does_not_exist(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append(
        {
            "id": "route",
            "type": "router",
            "config": {"routes": [{"when": "answer == 'x'", "to": "publish"}], "default": "archive"},
        }
    )
    definition["edges"][-1] = {"source": "review", "target": "route"}
    problems = problems_of(definition, registry)
    assert only(problems, "nodes[3].config.routes[0].to").message == "target node 'publish' does not exist"
    assert only(problems, "nodes[3].config.default").message == "target node 'archive' does not exist"
    assert all(p.node_id == "route" for p in problems)


def test_router_edge_to_a_node_outside_its_routes(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append(
        {
            "id": "route",
            "type": "router",
            "config": {"routes": [{"when": "true", "to": "END"}], "default": "END"},
        }
    )
    definition["edges"][-1] = {"source": "review", "target": "route"}
    definition["edges"].append({"source": "route", "target": "draft"})
    problem = only(problems_of(definition, registry), "edges[4].target")
    assert "chooses its next node from its config" in problem.message


def test_bad_condition_is_reported_at_validation(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"].append(
        {
            "id": "route",
            "type": "router",
            "config": {"routes": [{"when": "__import__('os').system('x')", "to": "END"}], "default": "END"},
        }
    )
    definition["edges"][-1] = {"source": "review", "target": "route"}
    problem = only(problems_of(definition, registry), "nodes[3].config.routes[0].when")
    assert "only these functions may be called" in problem.message


def test_undeclared_state_fields(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"][1]["config"]["prompt"] = "Use {context} and {notes}"
    definition["nodes"][1]["config"]["output"] = "reply"
    problems = problems_of(definition, registry)
    assert "{notes}" in only(problems, "nodes[1].config.prompt").message
    assert "'reply' is not declared" in only(problems, "nodes[1].config.output").message


def test_structure_errors(registry: NodeRegistry) -> None:
    problems = problems_of({"nodes": [], "edges": "x", "colour": 1, "schema_version": 2}, registry)
    fields = {p.field for p in problems}
    assert {"nodes", "edges", "colour", "schema_version"} <= fields
    assert problems_of([1, 2], registry) == [Problem(field="definition", message="must be a JSON object")]


def test_reserved_ids_and_state_names(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"][0]["id"] = "END"
    definition["state"]["eawe_secret"] = {"type": "string"}
    problems = problems_of(definition, registry)
    assert "'END' is reserved" in only(problems, "nodes[0].id").message
    assert any("prefix 'eawe_' is reserved" in p.message for p in problems if p.field.startswith("state"))


def test_fan_out_target_must_append(registry: NodeRegistry) -> None:
    definition = {
        "state": {"items": {"type": "array"}, "item": {}, "result": {}},
        "nodes": [
            {
                "id": "fan",
                "type": "fan_out",
                "config": {"items": "items", "target": "work", "item_field": "item"},
            },
            {"id": "work", "type": "llm", "config": {"prompt": "{item}", "output": "result"}},
        ],
        "edges": [{"source": "START", "target": "fan"}, {"source": "work", "target": "END"}],
    }
    problem = only(problems_of(definition, registry), "nodes[0].config.target")
    assert "declare it with reducer 'append'" in problem.message


def test_every_problem_is_reported_at_once(registry: NodeRegistry) -> None:
    definition = base()
    definition["nodes"][0]["type"] = "search"  # unknown type
    definition["nodes"][1]["config"]["temperature"] = 9  # bad config
    definition["nodes"].append(
        {"id": "review", "type": "transform", "config": {"set": {"answer": "x"}}}
    )  # dup
    definition["edges"].append({"source": "draft", "target": "ghost"})  # dangling
    with pytest.raises(ValidationError) as caught:
        validate_definition(definition, registry)
    fields = {p.field for p in caught.value.problems}
    assert {"nodes[0].type", "nodes[1].config.temperature", "nodes[3].id", "edges[4].target"} <= fields
    assert "nodes[0].type" in str(caught.value)


def test_subworkflow_inline_problems_are_prefixed(registry: NodeRegistry) -> None:
    definition = {
        "state": {"q": {}, "a": {}},
        "nodes": [
            {
                "id": "sub",
                "type": "subworkflow",
                "config": {
                    "definition": {"state": {"x": {}}, "nodes": [{"id": "n", "type": "nope"}], "edges": []},
                    "input": {"y": "{q}"},
                    "output": {"a": "x"},
                },
            }
        ],
        "edges": [{"source": "START", "target": "sub"}, {"source": "sub", "target": "END"}],
    }
    problems = problems_of(definition, registry)
    assert any(p.field == "nodes[0].config.definition.nodes[0].type" and p.node_id == "sub" for p in problems)
    assert only(problems, "nodes[0].config.input.y").message == "the subworkflow declares no state field 'y'"


def test_subworkflow_reference_cycle(registry: NodeRegistry) -> None:
    def child(target: str) -> dict[str, Any]:
        return {
            "state": {},
            "nodes": [{"id": "call", "type": "subworkflow", "config": {"workflow_id": target}}],
            "edges": [{"source": "START", "target": "call"}, {"source": "call", "target": "END"}],
        }

    library = {"wf-a": child("wf-b"), "wf-b": child("wf-a")}
    problems = check_definition(child("wf-a"), registry, lookup_subworkflow=lambda wid, _v: library.get(wid))
    assert any("subworkflow cycle: wf-a → wf-b → wf-a" in p.message for p in problems)
    missing = check_definition(child("wf-zzz"), registry, lookup_subworkflow=lambda wid, _v: None)
    assert missing[0].message == "workflow not found or has no published version"
