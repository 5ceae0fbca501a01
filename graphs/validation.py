"""Workflow definition validation that reports every problem at once.

Each problem names its field (``nodes[2].config.routes[0].to``) and, where there is one, the node
id. Checked: the document shape, duplicate node ids, unknown node types (with the valid ones
listed), each node's config against its type's model, references to undeclared state fields in
configs, templates and conditions, references to nodes that do not exist (router targets,
reject routes, fan-out targets), dangling edges, unreachable nodes, nodes with no path to END,
cycles without an exit, paths longer than a run may take (LangGraph's recursion limit), and
subworkflows (inline, or resolved by id, with cycle detection).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from agents.config_types import find_marked
from agents.expressions import condition_names
from agents.registry import NodeRegistry, NodeType, UnknownNodeTypeError
from agents.templates import template_fields
from eawe.errors import Problem, ValidationError
from graphs.spec import END, START, EdgeSpec, NodeSpec, StateField, WorkflowDefinition, definition_hash
from graphs.topology import longest_path_steps, reachable_from, reaching, strongly_connected_components

__all__ = [
    "DEFAULT_RECURSION_LIMIT",
    "SubworkflowLookup",
    "ValidatedWorkflow",
    "check_definition",
    "validate_definition",
]

DEFAULT_RECURSION_LIMIT = 200
"""LangGraph super-steps one invocation of a run may take; the engine passes it as
``recursion_limit``, and validation refuses a graph whose path from START to END needs more."""

SubworkflowLookup = Callable[[str, int | None], Mapping[str, Any] | None]
"""``lookup(workflow_id, version)`` → the definition JSON, or None when it does not exist."""


@dataclass(frozen=True)
class ValidatedWorkflow:
    """A definition that passed validation, with each node's parsed config."""

    definition: WorkflowDefinition
    configs: Mapping[str, BaseModel]
    node_types: Mapping[str, NodeType]
    graph_hash: str


def _loc(parts: tuple[Any, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(prefix: str, rest: str) -> str:
    if not prefix:
        return rest
    if not rest:
        return prefix
    return f"{prefix}{rest}" if rest.startswith("[") else f"{prefix}.{rest}"


def _from_pydantic(exc: PydanticValidationError, prefix: str, node_id: str | None) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(
            Problem(field=_join(prefix, _loc(tuple(error["loc"]))), message=message, node_id=node_id)
        )
    return problems


class _Checker:
    def __init__(
        self,
        registry: NodeRegistry,
        lookup: SubworkflowLookup | None,
        stack: tuple[str, ...],
        recursion_limit: int = DEFAULT_RECURSION_LIMIT,
    ) -> None:
        self.recursion_limit = recursion_limit
        self.registry = registry
        self.lookup = lookup
        self.stack = stack
        self.problems: list[Problem] = []
        self.nodes: dict[str, tuple[int, NodeSpec]] = {}
        self.configs: dict[str, BaseModel] = {}
        self.types: dict[str, NodeType] = {}
        self.state: dict[str, StateField] = {}
        self.uncertain: set[str] = set()  # nodes whose next steps are unknown (problems reported)

    def add(self, field: str, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem(field=field, message=message, node_id=node_id))

    # --- shape -------------------------------------------------------------------------------
    def shape(self, raw: Mapping[str, Any]) -> list[tuple[int, EdgeSpec]]:
        allowed = set(WorkflowDefinition.model_fields)
        for key in raw:
            if key not in allowed:
                self.add(str(key), f"unknown key; allowed keys: {', '.join(sorted(allowed))}")
        if raw.get("schema_version", 1) != 1:
            self.add("schema_version", "unsupported schema_version; this engine reads version 1")
        for key in ("name", "description"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                self.add(key, "must be a string")
        state = raw.get("state", {})
        if not isinstance(state, Mapping):
            self.add("state", "must be an object mapping field names to field specs")
        else:
            try:
                self.state = WorkflowDefinition.model_validate(
                    {"state": state, "nodes": [{"id": "x", "type": "x"}]}
                ).state
            except PydanticValidationError as exc:
                self.problems.extend(_from_pydantic(exc, "", None))
        nodes = raw.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            self.add("nodes", "must be a non-empty list of nodes")
            nodes = []
        for index, item in enumerate(nodes):
            node_id = (
                item.get("id") if isinstance(item, Mapping) and isinstance(item.get("id"), str) else None
            )
            try:
                node = NodeSpec.model_validate(item)
            except PydanticValidationError as exc:
                self.problems.extend(_from_pydantic(exc, f"nodes[{index}]", node_id))
                continue
            if node.id in self.nodes:
                first = self.nodes[node.id][0]
                self.add(
                    f"nodes[{index}].id", f"duplicate node id {node.id!r} (also nodes[{first}])", node.id
                )
            else:
                self.nodes[node.id] = (index, node)
        edges_raw = raw.get("edges", [])
        if not isinstance(edges_raw, list):
            self.add("edges", "must be a list of {source, target}")
            edges_raw = []
        edges = []
        for index, item in enumerate(edges_raw):
            try:
                edges.append((index, EdgeSpec.model_validate(item)))
            except PydanticValidationError as exc:
                self.problems.extend(_from_pydantic(exc, f"edges[{index}]", None))
        return edges

    # --- node configs ------------------------------------------------------------------------
    def configs_and_references(self) -> None:
        declared = set(self.state) | set(self.registry.reserved_state())
        for node_id, (index, node) in self.nodes.items():
            where = f"nodes[{index}]"
            try:
                node_type = self.registry.get(node.type)
            except UnknownNodeTypeError as exc:
                self.add(f"{where}.type", str(exc), node_id)
                continue
            self.types[node_id] = node_type
            try:
                config = node_type.config_model.model_validate(node.config)
            except PydanticValidationError as exc:
                self.problems.extend(_from_pydantic(exc, f"{where}.config", node_id))
                continue
            self.configs[node_id] = config
            for loc, value, _ in find_marked(config, "state_key"):
                if value not in declared:
                    self.add(
                        f"{where}.config.{loc}", f"state field {value!r} is not declared in 'state'", node_id
                    )
            for loc, value, marker in find_marked(config, "template"):
                for name in sorted(template_fields(value)):
                    if name not in declared and name not in marker.extra_roots:
                        self.add(
                            f"{where}.config.{loc}",
                            f"template uses {{{name}}}, which is not declared in 'state'",
                            node_id,
                        )
            for loc, value, _ in find_marked(config, "condition"):
                for name in sorted(condition_names(value)):
                    if name not in declared:
                        self.add(
                            f"{where}.config.{loc}",
                            f"condition reads {name!r}, not declared in 'state'",
                            node_id,
                        )
            for loc, value, _ in find_marked(config, "node_ref"):
                if value != END and value not in self.nodes:
                    self.add(f"{where}.config.{loc}", f"target node {value!r} does not exist", node_id)
                    self.uncertain.add(node_id)

    def config_targets(self, node_id: str) -> set[str]:
        config = self.configs.get(node_id)
        if config is None:
            return set()
        return {v for _, v, _ in find_marked(config, "node_ref") if v == END or v in self.nodes}

    # --- edges and topology ------------------------------------------------------------------
    def edges_and_topology(self, edges: list[tuple[int, EdgeSpec]]) -> None:
        successors: dict[str, set[str]] = {START: set(), END: set(), **{n: set() for n in self.nodes}}
        seen: set[tuple[str, str]] = set()
        for index, edge in edges:
            where = f"edges[{index}]"
            source_id = edge.source if edge.source in self.nodes else None
            ok = True
            if edge.source == END:
                self.add(f"{where}.source", "END has no outgoing edges")
                ok = False
            elif edge.source != START and edge.source not in self.nodes:
                self.add(f"{where}.source", f"dangling edge: source {edge.source!r} is not a node")
                ok = False
            if edge.target == START:
                self.add(f"{where}.target", "START cannot be the target of an edge", source_id)
                ok = False
            elif edge.target != END and edge.target not in self.nodes:
                self.add(f"{where}.target", f"dangling edge: target {edge.target!r} is not a node", source_id)
                ok = False
            if (edge.source, edge.target) in seen:
                self.add(where, f"duplicate edge {edge.source} → {edge.target}", source_id)
            seen.add((edge.source, edge.target))
            node_type = self.types.get(edge.source)
            if ok and node_type is not None and node_type.routes_from_config:
                targets = self.config_targets(edge.source)
                if edge.source in self.configs and edge.target not in targets:
                    self.add(
                        f"{where}.target",
                        f"{node_type.name} {edge.source!r} chooses its next node from its config; "
                        f"{edge.target!r} is not one of its targets ({', '.join(sorted(targets))})",
                        source_id,
                    )
                    ok = False
            if ok:
                successors[edge.source].add(edge.target)
        if not successors[START]:
            self.add("edges", "no edge leaves START")
        for node_id in self.nodes:
            successors[node_id] |= self.config_targets(node_id)
            if node_id not in self.configs or node_id in self.uncertain:
                # Unknown type, bad config or missing targets (already reported): its next steps are
                # unknown, so assume it may lead anywhere rather than report follow-on problems.
                successors[node_id] |= {*self.nodes, END}
        self.topology(successors)

    def topology(self, successors: dict[str, set[str]]) -> None:
        reachable = reachable_from(START, successors)
        finishing = reaching(END, successors)
        stuck: list[str] = []
        for node_id, (index, _) in self.nodes.items():
            if node_id not in reachable:
                self.add(f"nodes[{index}]", "unreachable: no path from START leads to this node", node_id)
            elif node_id not in finishing:
                stuck.append(node_id)
        in_cycle: set[str] = set()
        for component in strongly_connected_components(stuck, successors):
            looping = len(component) > 1 or component[0] in successors[component[0]]
            if looping:
                in_cycle.update(component)
                loop = " → ".join([*component, component[0]])
                index = self.nodes[component[0]][0]
                self.add(f"nodes[{index}]", f"cycle without exit: {loop} never reaches END", component[0])
        for node_id in stuck:
            if node_id not in in_cycle:
                index = self.nodes[node_id][0]
                self.add(f"nodes[{index}]", "no path to END from this node", node_id)
        if not self.problems:
            self.path_length(successors)

    def path_length(self, successors: dict[str, set[str]]) -> None:
        # LangGraph counts one super-step per node on the path, plus one; a run whose path needs
        # more than recursion_limit steps fails at run time, so refuse it now.
        allowed = self.recursion_limit - 1
        steps, path = longest_path_steps(START, END, list(self.nodes), successors)
        if steps > allowed:
            first_over = path[allowed]
            self.add(
                f"nodes[{self.nodes[first_over][0]}]",
                f"the longest path from START to END passes {steps} nodes, but a run may take at most "
                f"{allowed} steps (recursion limit {self.recursion_limit}); {first_over!r} is the first "
                "node beyond it: move part of the chain into a subworkflow",
                first_over,
            )

    # --- node-type-specific rules (each type's ``check`` hook) ------------------------------
    def node_checks(self) -> None:
        for node_id, config in self.configs.items():
            node_type = self.types.get(node_id)
            if node_type is None or node_type.check is None:
                continue
            where = f"nodes[{self.nodes[node_id][0]}].config"
            for field, message in node_type.check(config, _NodeCheck(self, node_id, where)):
                self.add(_join(where, field), message, node_id)


class _NodeCheck:
    """The :class:`agents.registry.CheckContext` of one node."""

    def __init__(self, checker: _Checker, node_id: str, where: str) -> None:
        self._checker = checker
        self._node_id = node_id
        self._where = where

    @property
    def node_id(self) -> str:
        return self._node_id

    def state_reducer(self, name: str) -> str | None:
        field = self._checker.state.get(name)
        return field.reducer if field is not None else None

    def config_of(self, node_id: str) -> BaseModel | None:
        return self._checker.configs.get(node_id)

    def check_child(
        self,
        field: str,
        *,
        workflow_id: str | None,
        version: int | None,
        definition: Mapping[str, Any] | None,
    ) -> Mapping[str, Any] | None:
        checker, node_id = self._checker, self._node_id
        child = definition
        stack = checker.stack
        if workflow_id is not None:
            if workflow_id in checker.stack:
                loop = " → ".join([*checker.stack, workflow_id])
                checker.add(f"{self._where}.workflow_id", f"subworkflow cycle: {loop}", node_id)
                return None
            if checker.lookup is None:
                return None
            child = checker.lookup(workflow_id, version)
            if child is None:
                checker.add(
                    f"{self._where}.workflow_id", "workflow not found or has no published version", node_id
                )
                return None
            stack = (*checker.stack, workflow_id)
        prefix = _join(self._where, field)
        for problem in check_definition(
            child or {},
            checker.registry,
            lookup_subworkflow=checker.lookup,
            recursion_limit=checker.recursion_limit,
            _stack=stack,
        ):
            checker.add(_join(prefix, problem.field), problem.message, node_id)
        return child or {}


def check_definition(
    raw: Any,
    registry: NodeRegistry,
    *,
    lookup_subworkflow: SubworkflowLookup | None = None,
    recursion_limit: int = DEFAULT_RECURSION_LIMIT,
    _stack: tuple[str, ...] = (),
) -> list[Problem]:
    """Every problem of a definition (empty when it is valid)."""
    if not isinstance(raw, Mapping):
        return [Problem(field="definition", message="must be a JSON object")]
    checker = _Checker(registry, lookup_subworkflow, _stack, recursion_limit)
    edges = checker.shape(raw)
    checker.configs_and_references()
    checker.edges_and_topology(edges)
    checker.node_checks()
    return checker.problems


def validate_definition(
    raw: Any,
    registry: NodeRegistry,
    *,
    lookup_subworkflow: SubworkflowLookup | None = None,
    recursion_limit: int = DEFAULT_RECURSION_LIMIT,
) -> ValidatedWorkflow:
    """Validate a definition JSON.

    Args:
        raw: The definition (``definitionGraph``) as parsed JSON.
        registry: Node types to check against.
        lookup_subworkflow: Resolves ``subworkflow`` references by id; without it they are
            checked when the workflow is compiled.
        recursion_limit: The ``recursion_limit`` runs get; longer paths are refused.

    Raises:
        eawe.errors.ValidationError: With every problem found.
    """
    if isinstance(raw, WorkflowDefinition):
        raw = raw.model_dump(mode="json", exclude_none=True)
    problems = check_definition(
        raw, registry, lookup_subworkflow=lookup_subworkflow, recursion_limit=recursion_limit
    )
    if problems:
        raise ValidationError(problems)
    definition = WorkflowDefinition.model_validate(raw)
    configs = {n.id: registry.get(n.type).config_model.model_validate(n.config) for n in definition.nodes}
    types = {n.id: registry.get(n.type) for n in definition.nodes}
    return ValidatedWorkflow(definition, configs, types, definition_hash(raw))
