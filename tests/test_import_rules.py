"""The layout's import rules, checked by walking every module's AST (lazy imports included).

- ``tuning`` never imports ``bot``;
- ``bot/views/`` imports no admin, listener, store or model code;
- the pure dataset builders and the metrics import no store;
- the modules at the top of ``tuning/`` (config, errors, records, ...) import only each other;
- no two packages import each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "tuning")
PURE = (
    "tuning.datasets.assemble",
    "tuning.datasets.classifier",
    "tuning.datasets.examples",
    "tuning.datasets.formats",
    "tuning.datasets.generator",
    "tuning.datasets.ratings",
    "tuning.datasets.reinforcement",
    "tuning.evaluation.metrics",
)
VIEWS_MAY_NOT = ("bot.admin", "bot.listeners", "tuning.store", "tuning.models")


def module_name(path: Path) -> str:
    """Return the dotted name of a source file under ROOT."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Yield every module ``path`` imports, at any depth (functions and TYPE_CHECKING too)."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or module_name(path)).split(".")
                base = ".".join([*anchor[: len(anchor) - node.level + 1], base]).strip(".")
            yield base
            # `from tuning.store import sqlite` imports the module tuning.store.sqlite.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def owner(name: str) -> str:
    """Return the package a module belongs to: ``tuning.store.sqlite.engine`` -> ``tuning.store``.

    A module at the top of ``tuning`` or ``bot`` (``bot.app``, ``tuning.records``) is its own.
    """
    parts = name.split(".")
    if len(parts) >= 2 and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return name


def is_core(name: str) -> bool:
    """Return whether ``name`` is one of the modules at the top of ``tuning`` (not __main__)."""
    parts = name.split(".")
    if parts[0] != "tuning" or len(parts) != 2 or name == "tuning.__main__":
        return False
    return not (ROOT / parts[0] / parts[1]).is_dir()


def graph() -> dict[str, set[str]]:
    """Return each of our modules with the modules of ours that it imports."""
    ours = {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    known = set(ours)
    return {
        name: {dep for dep in imported(path) if dep in known and dep != name}
        for name, path in ours.items()
    }


GRAPH = graph()


def violations(rule: str) -> list[str]:
    """Return ``module -> import`` lines breaking ``rule``."""
    found = []
    for name, deps in sorted(GRAPH.items()):
        for dep in sorted(deps):
            if breaks(rule, name, dep):
                found.append(f"{name} -> {dep}")
    return found


def breaks(rule: str, name: str, dep: str) -> bool:
    """Return whether ``name`` importing ``dep`` breaks ``rule``."""
    if rule == "tuning never imports bot":
        return name.startswith("tuning") and dep.startswith("bot")
    if rule == "views are pure":
        return name.startswith("bot.views") and dep.startswith(VIEWS_MAY_NOT)
    if rule == "pure builders and metrics import no store":
        return name in PURE and dep.startswith("tuning.store")
    if rule == "core modules import only core modules":
        return is_core(name) and not is_core(dep)
    raise AssertionError(rule)


@pytest.mark.parametrize(
    "rule",
    [
        "tuning never imports bot",
        "views are pure",
        "pure builders and metrics import no store",
        "core modules import only core modules",
    ],
)
def test_import_rule(rule: str) -> None:
    assert violations(rule) == []


def test_no_two_packages_import_each_other() -> None:
    edges = {
        (owner(name), owner(dep))
        for name, deps in GRAPH.items()
        for dep in deps
        if owner(name) != owner(dep)
    }
    both_ways = sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b)
    assert both_ways == []


def test_the_walk_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    # The rules are only as good as the walk: a rule checked against nothing passes vacuously.
    assert "tuning.store.sqlite.store" in GRAPH["tuning.store"]  # imported inside a function
    assert len(GRAPH) > 100
    source = ROOT / "tuning" / "store" / "__init__.py"
    assert any(dep.startswith("tuning.store.firestore") for dep in imported(source))


@pytest.mark.parametrize(
    ("rule", "name", "dep"),
    [
        ("tuning never imports bot", "tuning.lifecycle.builder", "bot.services"),
        ("views are pure", "bot.views.home", "bot.admin.commands"),
        ("pure builders and metrics import no store", "tuning.evaluation.metrics", "tuning.store"),
        ("core modules import only core modules", "tuning.records", "tuning.models.base"),
    ],
)
def test_each_rule_catches_its_violation(rule: str, name: str, dep: str) -> None:
    assert breaks(rule, name, dep)
