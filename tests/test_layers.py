"""The packages are layered; no module imports a package above its own.

Bottom up: ``eawe`` → ``agents``, ``graphs``, ``retrieval`` → ``checkpoints`` → ``server`` → ``cli``.
Inside the middle layer the imports found are pinned too: ``graphs`` (the compiler) builds on
``agents`` (the node SDK); ``agents`` and ``retrieval`` import neither of the other two.

Every module's imports are read with :mod:`ast` (module-level, inside functions and under
``TYPE_CHECKING`` alike), so a lazy import inside a command body counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MAY_IMPORT: dict[str, set[str]] = {
    "eawe": set(),
    "agents": {"eawe"},
    "retrieval": {"eawe"},
    "graphs": {"eawe", "agents"},
    "checkpoints": {"eawe", "agents", "graphs", "retrieval"},
    "server": {"eawe", "agents", "graphs", "retrieval", "checkpoints"},
    "cli": {"eawe", "agents", "graphs", "retrieval", "checkpoints", "server"},
}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every absolute import of one of our packages in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.extend((node.lineno, name) for name in names if name.split(".")[0] in MAY_IMPORT)
    return found


def _violations(package: str) -> list[str]:
    allowed = MAY_IMPORT[package] | {package}
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in _imported_packages(path)
        if name.split(".")[0] not in allowed
    ]


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_module_imports_a_higher_layer(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert _violations(package) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "upward.py"
    module.write_text("def f():\n    from cli.main import app\n    import server.app\n", encoding="utf-8")
    assert _imported_packages(module) == [(2, "cli.main"), (3, "server.app")]
