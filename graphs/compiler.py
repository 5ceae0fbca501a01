"""Definition → LangGraph ``StateGraph`` → compiled graph (with the caller's checkpointer).

Each node becomes an async function that builds a :class:`~agents.context.NodeContext` from the
LangGraph ``Runtime`` context and calls the node type's ``run``; routing node types become
conditional edges; ``join`` nodes wait for all their incoming edges; node retry specs become
LangGraph ``RetryPolicy``. Compiled graphs are cached by (definition id, version, hash).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END as LG_END
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy, Send
from pydantic import BaseModel

from agents.config_types import find_marked
from agents.context import NodeContext, RunContext
from agents.expressions import ConditionError
from agents.http_calls import ToolCallError
from agents.registry import DefiniteNodeError, NodeRegistry, NodeType, RouteInfo
from agents.templates import TemplateError
from eawe.errors import EAWEError, Problem, ValidationError
from graphs.node_observer import observe_node
from graphs.spec import END, START, NodeSpec
from graphs.state import build_state_schema
from graphs.validation import ValidatedWorkflow, validate_definition

__all__ = [
    "CompiledGraphCache",
    "ResolvedWorkflow",
    "SubworkflowSource",
    "build_state_graph",
    "compile_workflow",
    "is_retryable",
]


@dataclass(frozen=True)
class ResolvedWorkflow:
    """A definition found by id: the JSON and the version it came from."""

    workflow_id: str
    version: int
    definition: Mapping[str, Any]


class SubworkflowSource(Protocol):
    """Resolves ``subworkflow`` references at compile time (synchronously: prefetch if needed)."""

    def __call__(self, workflow_id: str, version: int | None) -> ResolvedWorkflow | None: ...


def is_retryable(exc: Exception) -> bool:
    """Whether a failed node attempt is worth repeating (transient) or not (a definite answer)."""
    if isinstance(exc, ToolCallError):
        return exc.retryable
    if isinstance(exc, (EAWEError, DefiniteNodeError, ConditionError, TemplateError)):
        return False
    return not isinstance(exc, (ValueError, TypeError, LookupError, AttributeError, NotImplementedError))


def _lg(target: str) -> str:
    return LG_END if target == END else (LG_START if target == START else target)


def _retry_policy(spec: NodeSpec, node_type: NodeType) -> RetryPolicy | None:
    attempts = spec.retry.max_attempts if spec.retry else node_type.default_max_attempts
    if attempts <= 1:
        return None
    retry = spec.retry
    return RetryPolicy(
        initial_interval=retry.initial_interval_s if retry else 0.5,
        backoff_factor=retry.backoff_factor if retry else 2.0,
        max_interval=retry.max_interval_s if retry else 30.0,
        max_attempts=attempts,
        jitter=False,
        retry_on=is_retryable,
    )


def _resolve_context(runtime: Runtime[Any], default: RunContext | None, node_id: str) -> RunContext:
    context = runtime.context
    if isinstance(context, RunContext):
        return context
    if default is not None:
        return default
    raise RuntimeError(f"node {node_id!r}: run the graph with context=RunContext(...)")


def _node_function(
    node_id: str, node_type: NodeType, config: BaseModel, prepared: Any, default: RunContext | None
) -> Callable[..., Any]:
    async def run_node(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
        ctx = NodeContext(
            node_id, _resolve_context(runtime, default, node_id), prepared, runtime.stream_writer
        )
        update = await observe_node(node_type.name, ctx, lambda: node_type.run(state, config, ctx))
        return dict(update) if update else {}

    run_node.__name__ = f"{node_type.name}_{node_id}"
    return run_node


def _route_function(
    node_id: str, node_type: NodeType, config: BaseModel, static: tuple[str, ...]
) -> Callable[..., Any]:
    info = RouteInfo(node_id=node_id, static_targets=static)
    route = node_type.route
    assert route is not None

    def choose(state: dict[str, Any]) -> Any:
        choice = route(state, config, info)
        if isinstance(choice, (list, tuple)):
            return [c if isinstance(c, Send) else _lg(c) for c in choice]
        return choice if isinstance(choice, Send) else _lg(choice)

    choose.__name__ = f"route_{node_id}"
    return choose


class _Build:
    """The :class:`agents.registry.BuildContext` handed to ``prepare`` hooks."""

    def __init__(
        self,
        node_id: str,
        registry: NodeRegistry,
        subworkflows: SubworkflowSource | None,
        default: RunContext | None,
        stack: tuple[str, ...],
    ) -> None:
        self.node_id = node_id
        self._registry = registry
        self._subworkflows = subworkflows
        self._default = default
        self._stack = stack

    def compile_subworkflow(
        self, *, workflow_id: str | None, version: int | None, definition: Mapping[str, Any] | None
    ) -> Any:
        stack = self._stack
        if workflow_id is not None:
            if workflow_id in stack:
                loop = " → ".join([*stack, workflow_id])
                raise ValidationError(
                    Problem("config.workflow_id", f"subworkflow cycle: {loop}", self.node_id)
                )
            resolved = self._subworkflows(workflow_id, version) if self._subworkflows else None
            if resolved is None:
                raise ValidationError(
                    Problem(
                        "config.workflow_id", "workflow not found or has no published version", self.node_id
                    )
                )
            definition, stack = resolved.definition, (*stack, workflow_id)
        assert definition is not None
        return compile_workflow(
            definition,
            self._registry,
            subworkflows=self._subworkflows,
            default_context=self._default,
            name=f"{self.node_id}",
            _stack=stack,
        )


def build_state_graph(
    workflow: ValidatedWorkflow,
    registry: NodeRegistry,
    *,
    subworkflows: SubworkflowSource | None = None,
    default_context: RunContext | None = None,
    _stack: tuple[str, ...] = (),
) -> StateGraph:
    """The uncompiled ``StateGraph`` of a validated workflow."""
    definition = workflow.definition
    builder: StateGraph = StateGraph(build_state_schema(definition, reserved=registry.reserved_state()))
    static: dict[str, list[str]] = {node.id: [] for node in definition.nodes}
    incoming: dict[str, list[str]] = {node.id: [] for node in definition.nodes}
    start_targets: list[str] = []
    for edge in definition.edges:
        if edge.source == START:
            start_targets.append(edge.target)
        else:
            static[edge.source].append(edge.target)
        if edge.target in incoming and edge.source != START:
            incoming[edge.target].append(edge.source)
    for node in definition.nodes:
        node_type, config = workflow.node_types[node.id], workflow.configs[node.id]
        build = _Build(node.id, registry, subworkflows, default_context, _stack)
        prepared = node_type.prepare(config, build) if node_type.prepare else None
        builder.add_node(
            node.id,
            _node_function(node.id, node_type, config, prepared, default_context),
            retry_policy=_retry_policy(node, node_type),
            metadata={"eawe_type": node_type.name},
        )
    for target in start_targets:
        builder.add_edge(LG_START, _lg(target))
    # A join waits for all of its plain incoming edges (routing nodes reach it directly).
    join_sources = {
        n.id: [s for s in incoming[n.id] if workflow.node_types[s].route is None]
        for n in definition.nodes
        if workflow.node_types[n.id].waits_for_all
    }
    joins = {join for join, sources in join_sources.items() if len(sources) > 1}
    for join in sorted(joins):
        builder.add_edge(join_sources[join], join)
    for node in definition.nodes:
        node_type = workflow.node_types[node.id]
        if node_type.route is None:
            for target in static[node.id]:
                if target not in joins:
                    builder.add_edge(node.id, _lg(target))
            continue
        config = workflow.configs[node.id]
        refs = [v for _, v, _ in find_marked(config, "node_ref")]
        destinations = sorted({*static[node.id], *refs, END})
        builder.add_conditional_edges(
            node.id,
            _route_function(node.id, node_type, config, tuple(static[node.id])),
            [_lg(d) for d in destinations],
        )
    return builder


def compile_workflow(
    workflow: ValidatedWorkflow | Mapping[str, Any],
    registry: NodeRegistry,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    subworkflows: SubworkflowSource | None = None,
    default_context: RunContext | None = None,
    name: str | None = None,
    _stack: tuple[str, ...] = (),
) -> CompiledStateGraph:
    """Validate (if needed), build and compile a workflow.

    Args:
        workflow: A :class:`ValidatedWorkflow` or the definition JSON.
        registry: Node types.
        checkpointer: Durable state (the engine passes its Postgres saver); None for
            subgraphs (they inherit the parent's) and for LangGraph Studio.
        subworkflows: Resolves ``subworkflow`` references by id.
        default_context: Used when the graph is invoked without a ``RunContext`` (Studio).
        name: Graph name shown in traces and Studio.

    Raises:
        eawe.errors.ValidationError: The definition is invalid.
    """
    if not isinstance(workflow, ValidatedWorkflow):

        def lookup(workflow_id: str, version: int | None) -> Mapping[str, Any] | None:
            resolved = subworkflows(workflow_id, version) if subworkflows else None
            return resolved.definition if resolved else None

        workflow = validate_definition(
            workflow, registry, lookup_subworkflow=lookup if subworkflows else None
        )
    builder = build_state_graph(
        workflow, registry, subworkflows=subworkflows, default_context=default_context, _stack=_stack
    )
    return builder.compile(checkpointer=checkpointer, name=name or workflow.definition.name or "workflow")


CacheKey = tuple[str, int, str]
T = TypeVar("T")


class CompiledGraphCache:
    """LRU cache of compiled graphs keyed by (definition id, version, graph hash).

    Values are whatever the compile callback returns (a compiled graph, or a graph together with
    its validated definition).
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._graphs: OrderedDict[CacheKey, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Any:
        """The cached value for ``key`` (a hit), or None without compiling anything."""
        if key not in self._graphs:
            return None
        self.hits += 1
        self._graphs.move_to_end(key)
        return self._graphs[key]

    def get_or_compile(self, key: CacheKey, compile: Callable[[], T]) -> T:
        """The cached value for ``key``, compiling (and caching) it on a miss."""
        if key in self._graphs:
            self.hits += 1
            self._graphs.move_to_end(key)
            return self._graphs[key]  # type: ignore[no-any-return]
        self.misses += 1
        value = compile()
        self._graphs[key] = value
        while len(self._graphs) > self.maxsize:
            self._graphs.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._graphs)
