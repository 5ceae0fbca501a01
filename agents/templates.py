"""Prompt and value templates over the graph state.

``{field}`` and ``{field.path.0}`` are replaced by values from the state; ``{{`` and ``}}`` are
literal braces. No attribute access, calls or format specs — a template can only read state.
A string that is exactly one placeholder (``"{items}"``) renders to the raw value, so a
``transform`` or ``tool`` body keeps lists and numbers as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TemplateError", "format_for_prompt", "render_template", "render_value", "template_fields"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}")
_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}$")


class TemplateError(ValueError):
    """A template names something the state does not have."""


def template_fields(template: str) -> set[str]:
    """The root state fields a template reads (``{vendor.name}`` → ``vendor``)."""
    return {m.group(1).split(".", 1)[0] for m in _PLACEHOLDER.finditer(template) if m.group(1)}


def _resolve(path: str, variables: Mapping[str, Any], *, strict: bool) -> Any:
    parts = path.split(".")
    if parts[0] not in variables:
        if strict:
            raise TemplateError(f"unknown field {parts[0]!r} in template")
        return None
    value: Any = variables[parts[0]]
    for part in parts[1:]:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            value = None
        if value is None:
            break
    return value


def format_for_prompt(value: Any) -> str:
    """Text form of a state value inside a prompt.

    Retrieved chunks (dicts with ``content``) become numbered passages with their source, so an
    LLM (or the local extractive model) sees them as context; other containers become JSON.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "content" in v for v in value):
        passages = []
        for index, chunk in enumerate(value, start=1):
            source = chunk.get("source") or (chunk.get("metadata") or {}).get("file_name") or "unknown"
            passages.append(f"[{index}] ({source}) {chunk['content']}")
        return "\n".join(passages)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def render_template(template: str, variables: Mapping[str, Any], *, strict: bool = False) -> str:
    """Render ``template`` to text. Missing fields render empty unless ``strict``."""

    def substitute(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece == "{{":
            return "{"
        if piece == "}}":
            return "}"
        return format_for_prompt(_resolve(match.group(1), variables, strict=strict))

    return _PLACEHOLDER.sub(substitute, template)


def render_value(value: Any, variables: Mapping[str, Any], *, strict: bool = False) -> Any:
    """Render every string inside ``value``; a lone placeholder keeps the referenced value's type."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return _resolve(whole.group(1), variables, strict=strict)
        return render_template(value, variables, strict=strict)
    if isinstance(value, Mapping):
        return {key: render_value(item, variables, strict=strict) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(item, variables, strict=strict) for item in value]
    return value
