"""Router conditions and templates: what they read, what they refuse."""

from __future__ import annotations

import pytest

from agents.expressions import ConditionError, condition_names, evaluate_condition, parse_condition
from agents.templates import render_template, render_value, template_fields

STATE = {"amount": 12000, "vendor": {"country": "US", "risk": "high"}, "tags": ["urgent"], "name": "ACME"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("amount > 10000", True),
        ("amount >= 10000 and vendor.risk == 'low'", False),
        ("vendor.country in ['US', 'CA'] or false", True),
        ("'urgent' in tags", True),
        ("not exists(missing)", True),
        ("missing > 3", False),  # a comparison with a missing value is false, not an error
        ("len(tags) == 1 and lower(name) == 'acme'", True),
        ("amount * 2 - 1000 > 20000", True),
        ("tags[0] == 'urgent'", True),
        ("contains(name, 'CM')", True),
    ],
)
def test_conditions(expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, STATE) is expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os').system('id')", "only these functions"),
        ("vendor.__class__", "attribute '__class__' is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[x for x in tags]", "ListComp is not allowed"),
        ("amount ** 99999", "Pow is not allowed"),
        ("amount >", "invalid condition syntax"),
        ("len(x=1)", "keyword arguments"),
        ("", "non-empty"),
    ],
)
def test_unsafe_or_broken_conditions_are_refused(expression: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_condition(expression)


def test_condition_runtime_errors_are_clear() -> None:
    with pytest.raises(ConditionError, match="arithmetic needs numbers"):
        evaluate_condition("name + 1 > 2", STATE)
    with pytest.raises(ConditionError, match="failed"):
        evaluate_condition("len(amount) > 1", STATE)


def test_condition_names() -> None:
    assert condition_names("len(tags) > 0 and vendor.risk == 'high' and true") == {"tags", "vendor"}


def test_templates() -> None:
    assert (
        render_template("{name} owes {amount} ({vendor.country}) {{literal}}", STATE)
        == "ACME owes 12000 (US) {literal}"
    )
    assert render_template("{missing}|{vendor.nothing}|{tags.0}", STATE) == "||urgent"
    assert render_value({"a": "{tags}", "b": ["{amount}", "x{amount}"]}, STATE) == {
        "a": ["urgent"],
        "b": [12000, "x12000"],
    }
    assert template_fields("{a.b} {c} {{d}}") == {"a", "c"}


def test_retrieved_chunks_render_as_numbered_passages() -> None:
    chunks = [{"content": "One.", "source": "a.pdf"}, {"content": "Two.", "source": "b.md"}]
    assert render_template("{ctx}", {"ctx": chunks}) == "[1] (a.pdf) One.\n[2] (b.md) Two."


def test_templates_cannot_reach_attributes() -> None:
    # Python's str.format would allow {x.__class__}; our renderer only reads mapping keys and indexes.
    assert render_template("{name.__class__}|{vendor.__class__}", STATE) == "|"
