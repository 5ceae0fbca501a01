"""Router conditions: a small, safe expression language over the graph state.

Conditions are parsed with :mod:`ast` and interpreted here — never ``eval``. What is allowed:
state field names (``amount``), dotted and indexed access (``vendor.country``, ``items[0]``),
literals (numbers, strings, ``true``/``false``/``null`` and Python spellings, lists),
comparisons (``== != < <= > >= in not in``), ``and``/``or``/``not``, ``+ - * /`` on numbers and
the functions ``len lower upper str int float abs contains startswith endswith exists``.
A comparison with a missing value (``None``) is false rather than an error.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["ConditionError", "condition_names", "evaluate_condition", "parse_condition"]

MAX_LENGTH = 500
_CONSTANTS = {
    "true": True,
    "false": False,
    "null": None,
    "none": None,
    "True": True,
    "False": False,
    "None": None,
}


class ConditionError(ValueError):
    """A condition could not be evaluated against the current state."""


def _contains(container: Any, item: Any) -> bool:
    return container is not None and item in container


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda v: 0 if v is None else len(v),
    "lower": lambda v: "" if v is None else str(v).lower(),
    "upper": lambda v: "" if v is None else str(v).upper(),
    "str": lambda v: "" if v is None else str(v),
    "int": int,
    "float": float,
    "abs": abs,
    "contains": _contains,
    "startswith": lambda v, p: v is not None and str(v).startswith(p),
    "endswith": lambda v, p: v is not None and str(v).endswith(p),
    "exists": lambda v: v is not None,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is None or a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.BinOp,
    ast.Name, ast.Load, ast.Constant, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Call,
    *_COMPARE, *_ARITH,
)  # fmt: skip


@lru_cache(maxsize=2048)
def parse_condition(source: str) -> ast.Expression:
    """Parse and check a condition.

    Raises:
        ValueError: The text is not a valid condition; the message says why.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError("condition must be a non-empty expression")
    if len(source) > MAX_LENGTH:
        raise ValueError(f"condition is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"invalid condition syntax: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{type(node).__name__} is not allowed in a condition")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                allowed = ", ".join(sorted(_FUNCTIONS))
                raise ValueError(f"only these functions may be called: {allowed}")
            if node.keywords:
                raise ValueError("keyword arguments are not allowed in a condition")
    return tree


def condition_names(source: str) -> set[str]:
    """The state fields a condition reads (its free names, minus literals and functions)."""
    tree = parse_condition(source)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id not in _CONSTANTS and n.id not in called
    }


def evaluate_condition(source: str, state: Mapping[str, Any]) -> bool:
    """Evaluate ``source`` over ``state``.

    Raises:
        ConditionError: The expression fails on this state (e.g. ``len`` of a number).
    """
    tree = parse_condition(source)
    try:
        return bool(_eval(tree.body, state))
    except ConditionError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise ConditionError(f"condition {source!r} failed: {exc}") from None


def _lookup(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        return container.get(key)
    if (
        isinstance(container, (list, tuple))
        and isinstance(key, int)
        and -len(container) <= key < len(container)
    ):
        return container[key]
    return None


def _eval(node: ast.AST, state: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _CONSTANTS[node.id] if node.id in _CONSTANTS else state.get(node.id)
    if isinstance(node, ast.Attribute):
        return _lookup(_eval(node.value, state), node.attr)
    if isinstance(node, ast.Subscript):
        return _lookup(_eval(node.value, state), _eval(node.slice, state))
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, state) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, state) for v in node.values)
        return any(_eval(v, state) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, state)
        return (not operand) if isinstance(node.op, ast.Not) else -_number(operand)
    if isinstance(node, ast.BinOp):
        left, right = _number(_eval(node.left, state)), _number(_eval(node.right, state))
        return _ARITH[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, state)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, state)
            ordering = not isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot))
            if ordering and (left is None or right is None):
                return False
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_eval(a, state) for a in node.args))
    raise ConditionError(f"unsupported expression element {type(node).__name__}")


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConditionError(f"arithmetic needs numbers, got {type(value).__name__}")
    return value
