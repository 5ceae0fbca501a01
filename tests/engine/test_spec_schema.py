"""The committed JSON Schema stays in sync with the code; examples satisfy it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from agents import create_registry
from graphs.schema_export import SCHEMA_PATH, render_schema
from graphs.spec import WorkflowDefinition, definition_hash
from graphs.validation import validate_definition

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.json"))


def test_committed_schema_is_in_sync() -> None:
    expected = render_schema(create_registry(plugins=False))
    assert SCHEMA_PATH.read_text(encoding="utf-8") == expected, "run: python -m graphs.schema_export"


def test_schema_exports_each_node_config() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for name in create_registry(plugins=False).names():
        model = "".join(part.capitalize() for part in name.split("_"))
        assert f"{model}Node" in schema["$defs"]
    assert schema["$defs"]["RouterConfig"]["required"] == ["routes", "default"]


def test_examples_pass_both_the_json_schema_and_validation() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    registry = create_registry(plugins=False)
    assert len(EXAMPLES) >= 3
    for path in EXAMPLES:
        definition = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(definition, schema)
        validate_definition(definition, registry)


def test_json_schema_rejects_a_bad_node_config() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    bad = {"nodes": [{"id": "r", "type": "retrieve", "config": {"query": "q", "output": "o", "k": "four"}}]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert errors


def test_hash_is_canonical() -> None:
    a = {"nodes": [{"id": "x", "type": "llm"}], "edges": []}
    b = {"edges": [], "nodes": [{"type": "llm", "id": "x"}]}
    assert definition_hash(a) == definition_hash(b)
    assert definition_hash(a) != definition_hash({**a, "name": "other"})
    assert definition_hash(WorkflowDefinition.model_validate(a)) == definition_hash(
        WorkflowDefinition.model_validate(b)
    )
