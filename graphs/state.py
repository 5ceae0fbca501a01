"""The LangGraph state schema of a workflow, its reducers, and run-input validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from typing_extensions import TypedDict  # LangGraph's server rejects typing.TypedDict before Python 3.12

from eawe.errors import Problem, ValidationError
from graphs.spec import RESERVED_STATE_PREFIX, StateField, WorkflowDefinition

__all__ = ["append_reducer", "build_state_schema", "initial_state", "merge_reducer"]

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "any": Any,
}


def append_reducer(current: list[Any] | None, update: Any) -> list[Any]:
    """List field: a list update is appended item by item, anything else as one item; None clears."""
    if update is None:
        return []
    base = list(current or [])
    return base + list(update) if isinstance(update, list) else [*base, update]


def merge_reducer(current: Mapping[str, Any] | None, update: Any) -> dict[str, Any]:
    """Dict field: shallow update; None clears."""
    if update is None:
        return {}
    if not isinstance(update, Mapping):
        raise TypeError(f"a 'merge' field takes an object, got {type(update).__name__}")
    return {**(current or {}), **update}


def _annotation(field: StateField) -> Any:
    base = _PYTHON_TYPES[field.type]
    if field.reducer == "append":
        return Annotated[list, append_reducer]
    if field.reducer == "merge":
        return Annotated[dict, merge_reducer]
    return base


def build_state_schema(
    definition: WorkflowDefinition, name: str = "WorkflowState", *, reserved: Iterable[str] = ()
) -> type:
    """A ``TypedDict`` with one key per declared field, plus the node types' reserved fields.

    ``reserved`` comes from the registry (:meth:`agents.NodeRegistry.reserved_state`): each is an
    object merged shallowly, e.g. the approval records.
    """
    fields: dict[str, Any] = {key: _annotation(spec) for key, spec in definition.state.items()}
    for key in reserved:
        fields[key] = Annotated[dict, merge_reducer]
    return TypedDict(name, fields, total=False)  # type: ignore[operator]


def _type_ok(kind: str, value: Any) -> bool:
    if value is None or kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, Mapping)
    return isinstance(value, list)


def initial_state(definition: WorkflowDefinition, run_input: Any) -> dict[str, Any]:
    """Declared defaults overlaid with the run input, after checking the input.

    Raises:
        eawe.errors.ValidationError: Unknown, mistyped or missing (``required``) input fields.
    """
    if run_input is None:
        run_input = {}
    if not isinstance(run_input, Mapping):
        raise ValidationError([Problem(field="input", message="must be a JSON object")])
    problems = []
    for key, value in run_input.items():
        spec = definition.state.get(key)
        if spec is None:
            reason = (
                "is reserved"
                if str(key).startswith(RESERVED_STATE_PREFIX)
                else "is not a declared state field"
            )
            problems.append(Problem(field=f"input.{key}", message=reason))
        elif not _type_ok(spec.type, value):
            problems.append(Problem(field=f"input.{key}", message=f"must be of type {spec.type}"))
    for key, spec in definition.state.items():
        if spec.required and run_input.get(key) is None:
            problems.append(Problem(field=f"input.{key}", message="is required"))
    if problems:
        raise ValidationError(problems)
    state = {key: spec.default for key, spec in definition.state.items() if spec.default is not None}
    state.update(run_input)
    return state
