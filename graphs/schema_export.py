"""The JSON Schema of workflow definitions, with every node type's config schema.

The committed file ``graphs/workflow_definition.schema.json`` is generated from the built-in
registry; a test keeps it in sync. Regenerate with ``python -m graphs.schema_export``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model

from agents.registry import NodeRegistry
from graphs.spec import EdgeSpec, NodeSpec, WorkflowDefinition

__all__ = ["SCHEMA_PATH", "definition_json_schema", "render_schema"]

SCHEMA_PATH = Path(__file__).with_name("workflow_definition.schema.json")
SCHEMA_ID = "urn:eawe:workflow-definition:1"


def definition_json_schema(registry: NodeRegistry) -> dict[str, Any]:
    """JSON Schema (2020-12) of a definition whose nodes use the types in ``registry``."""
    variants = []
    for node_type in registry:
        model_name = (
            "".join(part.capitalize() for part in node_type.name.replace(".", "_").split("_")) + "Node"
        )
        variants.append(
            create_model(
                model_name,
                __base__=NodeSpec,
                __doc__=node_type.description or f"A {node_type.name} node.",
                type=(Literal[node_type.name], ...),  # type: ignore[valid-type,arg-type]
                config=(node_type.config_model, ...),
            )
        )
    node_union = Annotated[Union[tuple(variants)], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    document = create_model(
        "WorkflowDefinitionDocument",
        __base__=WorkflowDefinition,
        __doc__=WorkflowDefinition.__doc__,
        nodes=(list[node_union], Field(min_length=1)),  # type: ignore[valid-type]
        edges=(list[EdgeSpec], Field(default_factory=list)),
    )
    schema = document.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_schema(registry: NodeRegistry) -> str:
    """The schema as committed: 2-space indented, keys sorted, trailing newline."""
    return json.dumps(definition_json_schema(registry), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    from agents.registry import create_registry

    SCHEMA_PATH.write_text(render_schema(create_registry(plugins=False)), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
