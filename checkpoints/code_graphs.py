"""Code graphs: the graphs a ``langgraph.json`` names, served beside the compiled workflows.

``langgraph.json`` maps graph ids to ``path/to/file.py:attr`` or ``package.module:attr``; its
``dependencies`` folders go on ``sys.path`` (as ``langgraph dev`` does). ``attr`` is a compiled
graph, a ``StateGraph`` (compiled here), or a factory taking nothing, a ``RunnableConfig``, a
``langgraph_sdk.runtime.ServerRuntime``, or both (classified by its signature, as langgraph-api
does). Every graph runs on the engine's checkpointer and the run's tenant-scoped store: the
objects a module exports are never mutated, a copy carries them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import json
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from eawe.errors import EAWEError

__all__ = ["CodeGraph", "CodeGraphError", "CodeGraphRegistry", "load_code_graphs"]


class CodeGraphError(EAWEError):
    """A ``langgraph.json`` or one of its graphs could not be loaded."""

    status_code = 500


@dataclass(frozen=True)
class CodeGraph:
    """One graph of a ``langgraph.json``: a compiled graph, or a factory that returns one."""

    graph_id: str
    value: Any
    factory_kwargs: Callable[[RunnableConfig, Any], dict[str, Any]] | None = None

    @property
    def is_factory(self) -> bool:
        return self.factory_kwargs is not None


def _is_runtime_annotation(annotation: Any) -> bool:
    try:
        from langgraph_sdk.runtime import ServerRuntime, _ExecutionRuntime, _ReadRuntime
    except ImportError:  # pragma: no cover - langgraph-sdk is a dependency
        return False
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, (_ExecutionRuntime, _ReadRuntime))
    origin = get_origin(annotation)
    if origin is ServerRuntime:
        return True
    args = get_args(annotation)
    return bool(origin is not None and args and _is_runtime_annotation(args[0]))


def _factory_kwargs(fn: Callable[..., Any]) -> Callable[[RunnableConfig, Any], dict[str, Any]]:
    from langgraph_sdk.runtime import ServerRuntime

    params = list(inspect.signature(fn).parameters.values())
    try:
        hints = typing.get_type_hints(
            fn, localns={"ServerRuntime": ServerRuntime, "RunnableConfig": RunnableConfig}
        )
    except Exception:  # unresolvable annotations: fall back to the raw ones
        hints = {}
    runtime_at = [i for i, p in enumerate(params) if _is_runtime_annotation(hints.get(p.name, p.annotation))]
    if not params:
        return lambda config, runtime: {}
    if len(params) == 1:
        name = params[0].name
        if runtime_at:
            return lambda config, runtime: {name: runtime}
        return lambda config, runtime: {name: config}
    if len(params) == 2 and len(runtime_at) == 1:
        rt, cfg = params[runtime_at[0]].name, params[1 - runtime_at[0]].name
        return lambda config, runtime: {rt: runtime, cfg: config}
    raise CodeGraphError(
        f"graph factory {fn.__qualname__} must take nothing, a config, a ServerRuntime, or both"
    )


def _import(spec: str, base: Path, graph_id: str) -> Any:
    location, _, attr = spec.rpartition(":")
    if not location or not attr:
        raise CodeGraphError(f"graph {graph_id!r}: expected 'path/to/file.py:attr' or 'module:attr'")
    try:
        if location.endswith(".py") or "/" in location:
            path = (base / location).resolve()
            name = f"eawe_code_graph_{graph_id}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise CodeGraphError(f"graph {graph_id!r}: cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
    except CodeGraphError:
        raise
    except Exception as exc:
        raise CodeGraphError(f"graph {graph_id!r}: importing {location} failed: {exc!r}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CodeGraphError(f"graph {graph_id!r}: {location} has no attribute {attr!r}") from None


def _code_graph(graph_id: str, value: Any) -> CodeGraph:
    if isinstance(value, StateGraph):
        return CodeGraph(graph_id, value.compile())
    if isinstance(value, Pregel):
        return CodeGraph(graph_id, value)
    if callable(value):
        return CodeGraph(graph_id, value, _factory_kwargs(value))
    raise CodeGraphError(f"graph {graph_id!r} is neither a graph nor a graph factory")


class CodeGraphRegistry:
    """The loaded code graphs by graph id; ``instance`` gives one bound to a checkpointer and store."""

    def __init__(self, graphs: dict[str, CodeGraph] | None = None) -> None:
        self._graphs = dict(graphs or {})

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._graphs

    def names(self) -> list[str]:
        return sorted(self._graphs)

    async def instance(
        self,
        graph_id: str,
        *,
        checkpointer: Any,
        store: Any,
        config: RunnableConfig | None = None,
        access_context: str = "threads.create_run",
        context: Any = None,
    ) -> Pregel:
        """The graph ``graph_id`` on ``checkpointer`` and ``store`` (a factory is called each time).

        Raises:
            CodeGraphError: No such code graph (any more), or the factory failed or returned
                something that is not a graph.
        """
        graph = self._graphs.get(graph_id)
        if graph is None:
            raise CodeGraphError(f"graph {graph_id!r} is not loaded in this process (see --graphs)")
        value = graph.value
        if graph.factory_kwargs is not None:
            from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime

            runtime: Any
            if access_context == "threads.create_run":
                runtime = _ExecutionRuntime(access_context="threads.create_run", store=store, context=context)
            else:
                runtime = _ReadRuntime(access_context=access_context, store=store)  # type: ignore[arg-type]
            try:
                value = graph.value(**graph.factory_kwargs(config or {}, runtime))
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                raise CodeGraphError(f"graph factory {graph_id!r} failed: {exc!r}") from exc
            if isinstance(value, contextlib.AbstractAsyncContextManager):
                raise CodeGraphError(
                    f"graph factory {graph_id!r}: context-manager factories are not supported"
                )
            if isinstance(value, StateGraph):
                value = value.compile()
            if not isinstance(value, Pregel):
                raise CodeGraphError(
                    f"graph factory {graph_id!r} returned {type(value).__name__}, not a graph"
                )
        return value.copy(update={"checkpointer": checkpointer, "store": store})


def load_code_graphs(config_path: str | Path) -> CodeGraphRegistry:
    """Load every graph a ``langgraph.json`` names.

    Raises:
        CodeGraphError: The file is unreadable or a graph does not load (all-or-nothing).
    """
    path = Path(config_path).resolve()
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CodeGraphError(f"cannot read {path}: {exc}") from exc
    graphs = spec.get("graphs") if isinstance(spec, dict) else None
    if not isinstance(graphs, dict) or not graphs:
        raise CodeGraphError(f"{path}: 'graphs' must map graph ids to 'file.py:attr'")
    base = path.parent
    for dependency in spec.get("dependencies") or []:
        folder = (base / str(dependency)).resolve()
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    loaded: dict[str, CodeGraph] = {}
    for graph_id, target in graphs.items():
        location = target.get("path") if isinstance(target, dict) else target
        if not isinstance(location, str):
            raise CodeGraphError(f"graph {graph_id!r}: expected a 'file.py:attr' string")
        loaded[graph_id] = _code_graph(graph_id, _import(location, base, graph_id))
    return CodeGraphRegistry(loaded)


async def aload_code_graphs(config_path: str | Path) -> CodeGraphRegistry:
    """:func:`load_code_graphs` off the event loop (importing a graph module can be slow)."""
    return await asyncio.to_thread(load_code_graphs, config_path)
