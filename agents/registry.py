"""The node registry: node type name → (config model, async run function, optional routing).

A registry is an *instance*. :func:`create_registry` returns one holding the built-in node types
plus whatever third-party packages register through the ``eawe.nodes`` entry-point group. An
agent developer adds a node type with one decorator::

    registry = create_registry()

    class Shout(NodeConfig):
        field: StateKey

    @registry.node("shout", config=Shout, description="Upper-cases one state field")
    async def shout(state, config: Shout, ctx: NodeContext) -> dict:
        return {config.field: str(state.get(config.field, "")).upper()}

Duplicate names are refused; an unknown name is answered with the list of valid ones.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from agents.context import NodeContext

__all__ = [
    "APPROVAL_INTERRUPT",
    "ENTRY_POINT_GROUP",
    "BuildContext",
    "CheckContext",
    "DefiniteNodeError",
    "DuplicateNodeTypeError",
    "NodeRegistry",
    "NodeType",
    "PluginLoadError",
    "RouteInfo",
    "UnknownNodeTypeError",
    "create_registry",
    "node_type",
]

ENTRY_POINT_GROUP = "eawe.nodes"
APPROVAL_INTERRUPT = "approval"
"""Interrupt kind that asks a human for a decision: the engine turns it into a HITL task. A node
type raising it lists it in ``interrupts``; its payload is ``{"kind": "approval", "node_id", ...}``."""
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

NodeRunFn = Callable[[Mapping[str, Any], Any, NodeContext], Awaitable[Mapping[str, Any] | None]]
"""``async def run(state, config, ctx) -> state update`` (a dict of changed fields, or None)."""


class DefiniteNodeError(RuntimeError):
    """A node's definite answer (e.g. a reviewer's rejection): the run fails, nothing is retried."""


@dataclass(frozen=True)
class RouteInfo:
    """What a routing function knows besides state and config."""

    node_id: str
    static_targets: tuple[str, ...]
    """Targets of the node's outgoing edges in the definition (``END`` included as ``"END"``)."""


RouteFn = Callable[[Mapping[str, Any], Any, RouteInfo], Any]
"""Chooses the next step(s): a node id, ``"END"``, a list of them, or a list of ``Send``."""


class BuildContext(Protocol):
    """What the compiler offers a node type's ``prepare`` hook."""

    @property
    def node_id(self) -> str: ...

    def compile_subworkflow(
        self, *, workflow_id: str | None, version: int | None, definition: Mapping[str, Any] | None
    ) -> Any: ...


PrepareFn = Callable[[Any, BuildContext], Any]


class CheckContext(Protocol):
    """What definition validation offers a node type's ``check`` hook (see ``graphs.validation``)."""

    @property
    def node_id(self) -> str: ...

    def state_reducer(self, name: str) -> str | None:
        """The declared field's reducer (``replace``, ``append``, ``merge``), or None if undeclared."""
        ...

    def config_of(self, node_id: str) -> BaseModel | None:
        """Another node's parsed config (None when the node does not exist or its config is invalid)."""
        ...

    def check_child(
        self,
        field: str,
        *,
        workflow_id: str | None,
        version: int | None,
        definition: Mapping[str, Any] | None,
    ) -> Mapping[str, Any] | None:
        """Validate a nested workflow (inline, or by id with cycle detection); its problems are
        reported under ``config.<field>``. Returns the child definition, or None if unavailable."""
        ...


CheckFn = Callable[[Any, CheckContext], Iterable[tuple[str, str]]]
"""``check(config, ctx)`` yields ``(field under config, message)`` for rules across nodes or workflows."""


@dataclass(frozen=True)
class NodeType:
    """One node type.

    Attributes:
        name: The ``type`` used in workflow JSON.
        config_model: Pydantic model that validates the node's ``config``.
        run: ``async def run(state, config, ctx)`` returning a state update.
        description: One line for listings and the JSON Schema.
        route: Optional routing function; when set, the node's next steps are chosen at run time.
        routes_from_config: True when all next steps come from the config (router, fan-out); the
            definition's edges from such a node may only repeat targets named in its config.
        default_max_attempts: Attempts (including the first) when the node spec sets no retry.
        prepare: Optional compile-time hook ``(config, build) -> resource`` (e.g. a subgraph);
            the resource reaches ``run`` as ``ctx.prepared``.
        waits_for_all: The node starts only after every incoming edge has fired (a join).
        title: Human name for palettes (default: the name, capitalised).
        category: Palette group (e.g. ``"AI"``, ``"Control flow"``, ``"Human"``).
        interrupts: Kinds of interrupt the node raises (``"approval"`` pauses the run for a
            HITL task); empty for nodes that never pause.
        reserved_state: State fields the node type writes besides its config's outputs; each is
            an object merged shallowly (the compiler adds them to the state schema and
            validation lets conditions read them).
        check: Optional validation hook for rules its config model cannot see alone (other
            nodes, state reducers, nested workflows).
    """

    name: str
    config_model: type[BaseModel]
    run: NodeRunFn
    description: str = ""
    route: RouteFn | None = None
    routes_from_config: bool = False
    default_max_attempts: int = 1
    prepare: PrepareFn | None = None
    waits_for_all: bool = False
    title: str = ""
    category: str = "Other"
    interrupts: tuple[str, ...] = ()
    reserved_state: tuple[str, ...] = field(default=())
    check: CheckFn | None = None

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", " ").capitalize())
        if not _NAME.match(self.name):
            raise ValueError(f"node type name {self.name!r} must match {_NAME.pattern}")
        if not (isinstance(self.config_model, type) and issubclass(self.config_model, BaseModel)):
            raise TypeError(f"node type {self.name!r}: config must be a pydantic model class")
        if self.routes_from_config and self.route is None:
            raise ValueError(f"node type {self.name!r}: routes_from_config needs a route function")
        if self.default_max_attempts < 1:
            raise ValueError(f"node type {self.name!r}: default_max_attempts must be >= 1")

    @property
    def routing(self) -> str:
        """How the next steps are chosen: ``"edges"``, ``"config"`` (router, fan-out) or ``"dynamic"``."""
        if self.route is None:
            return "edges"
        return "config" if self.routes_from_config else "dynamic"

    def describe(self) -> dict[str, Any]:
        """What editors need to know about this type: names, palette group, config JSON Schema, routing.

        Config fields that name nodes, state fields, templates or conditions carry an ``x-eawe``
        keyword in the schema (``node_ref``, ``state_key``, ``template``, ``condition``).
        """
        return {
            "name": self.name,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "config_schema": self.config_model.model_json_schema(),
            "routing": self.routing,
            "interrupts": list(self.interrupts),
            "waits_for_all": self.waits_for_all,
            "default_max_attempts": self.default_max_attempts,
            "reserved_state": list(self.reserved_state),
        }


def node_type(
    name: str,
    *,
    config: type[BaseModel],
    description: str = "",
    route: RouteFn | None = None,
    routes_from_config: bool = False,
    default_max_attempts: int = 1,
    prepare: PrepareFn | None = None,
    waits_for_all: bool = False,
    title: str = "",
    category: str = "Other",
    interrupts: tuple[str, ...] = (),
    reserved_state: tuple[str, ...] = (),
    check: CheckFn | None = None,
) -> Callable[[NodeRunFn], NodeType]:
    """Decorator turning an async function into a :class:`NodeType` (not yet registered).

    Useful for packages that expose node types through the ``eawe.nodes`` entry-point group.
    """

    def wrap(run: NodeRunFn) -> NodeType:
        return NodeType(
            name=name,
            config_model=config,
            run=run,
            description=description or (run.__doc__ or "").strip().split("\n")[0],
            route=route,
            routes_from_config=routes_from_config,
            default_max_attempts=default_max_attempts,
            prepare=prepare,
            waits_for_all=waits_for_all,
            title=title,
            category=category,
            interrupts=interrupts,
            reserved_state=reserved_state,
            check=check,
        )

    return wrap


class DuplicateNodeTypeError(ValueError):
    """A node type with this name is already registered."""


class UnknownNodeTypeError(LookupError):
    """No node type has this name; ``valid`` lists the names that exist."""

    def __init__(self, name: str, valid: Sequence[str]) -> None:
        self.name = name
        self.valid = list(valid)
        super().__init__(f"unknown node type {name!r}; valid types: {', '.join(self.valid)}")


class PluginLoadError(RuntimeError):
    """An ``eawe.nodes`` entry point could not be loaded or did not provide node types."""


class NodeRegistry:
    """A set of node types, looked up by name."""

    def __init__(self, node_types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for item in node_types:
            self.register(item)

    def register(self, item: NodeType) -> NodeType:
        """Add a node type.

        Raises:
            DuplicateNodeTypeError: The name is taken.
        """
        if not isinstance(item, NodeType):
            raise TypeError(f"expected a NodeType, got {type(item).__name__}")
        if item.name in self._types:
            raise DuplicateNodeTypeError(f"node type {item.name!r} is already registered")
        self._types[item.name] = item
        return item

    def node(self, name: str, *, config: type[BaseModel], **options: Any) -> Callable[[NodeRunFn], NodeType]:
        """Decorator: define a node type from an async function and register it here."""

        def wrap(run: NodeRunFn) -> NodeType:
            return self.register(node_type(name, config=config, **options)(run))

        return wrap

    def get(self, name: str) -> NodeType:
        """The node type called ``name``.

        Raises:
            UnknownNodeTypeError: No such type (the error lists the valid ones).
        """
        try:
            return self._types[name]
        except KeyError:
            raise UnknownNodeTypeError(name, self.names()) from None

    def names(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._types)

    def reserved_state(self) -> list[str]:
        """Every reserved state field written by a registered type, sorted."""
        return sorted({key for item in self._types.values() for key in item.reserved_state})

    def describe(self) -> list[dict[str, Any]]:
        """:meth:`NodeType.describe` of every type, sorted by category then name."""
        return [t.describe() for t in sorted(self._types.values(), key=lambda t: (t.category, t.name))]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[NodeType]:
        return iter([self._types[name] for name in self.names()])

    def __len__(self) -> int:
        return len(self._types)

    def copy(self) -> NodeRegistry:
        """A new registry with the same node types (add more without touching this one)."""
        return NodeRegistry(self)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register node types published by installed packages.

        An entry point may name a :class:`NodeType`, an iterable of them, or a callable that takes
        this registry and registers its own. Returns the names added.

        Raises:
            PluginLoadError: An entry point failed to import or gave something else.
            DuplicateNodeTypeError: A plugin reused a registered name.
        """
        before = set(self._types)
        for entry in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            try:
                target = entry.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"entry point {entry.name!r} ({entry.value}) failed to load: {exc}"
                ) from exc
            if isinstance(target, NodeType):
                self.register(target)
            elif isinstance(target, Iterable) and not isinstance(target, (str, bytes)):
                for item in target:
                    self.register(item)
            elif callable(target):
                target(self)
            else:
                raise PluginLoadError(
                    f"entry point {entry.name!r} must give a NodeType, a list of them or a "
                    f"register(registry) function, not {type(target).__name__}"
                )
        return sorted(set(self._types) - before)


def create_registry(*, plugins: bool = True) -> NodeRegistry:
    """A new registry with the built-in node types and, if ``plugins``, the installed plugins."""
    from agents.builtins import BUILTIN_NODE_TYPES

    registry = NodeRegistry(BUILTIN_NODE_TYPES)
    if plugins:
        registry.load_entry_points()
    return registry
