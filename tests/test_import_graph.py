"""The package's import graph (issue 10, "thin front ends"), read from the source with ``ast``.

Every ``import`` / ``from ... import`` statement counts: at module level, inside functions and
under ``if TYPE_CHECKING:`` alike (a type-only import is still a dependency of the code). A
``from X import name`` counts as importing ``X`` and, when ``name`` is a submodule, ``X.name``;
relative imports are resolved against the importing module.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "flushwatch"


@cache
def _modules() -> dict[str, Path]:
    """Every module under ``src/flushwatch`` by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base.pop()  # a module's relative imports start at its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def _imports(module: str) -> frozenset[str]:
    """The dotted names ``module`` imports, from every import statement in its file."""
    path = _modules()[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(found)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _offenders(importers: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """``{module: [forbidden names it imports]}`` for the ``importers`` that break a rule."""
    out = {}
    for module in importers:
        bad = sorted(name for name in _imports(module) if any(_within(name, p) for p in forbidden))
        if bad:
            out[module] = bad
    return out


def _under(prefix: str) -> list[str]:
    return [m for m in _modules() if _within(m, prefix)]


def _outside(prefix: str) -> list[str]:
    return [m for m in _modules() if not _within(m, prefix)]


def test_the_graph_sees_the_package() -> None:
    """Guard against a vacuous pass: the walk finds the modules and their imports."""
    mods = _modules()
    assert {"flushwatch.cli.cmd_watch", "flushwatch.live.state", "flushwatch.live.monitor"} <= set(
        mods
    )
    assert "flushwatch.live.monitor.Monitor" in _imports("flushwatch.live.state")
    # imports inside functions and under TYPE_CHECKING count
    assert "flushwatch.live.state.LiveState" in _imports("flushwatch.cli.cmd_watch")
    assert "flushwatch.live.state.LiveSnapshot" in _imports("flushwatch.cli.cmd_watch")


def test_nothing_outside_cli_imports_cli() -> None:
    """(a) The CLI is a front end: no other module imports ``flushwatch.cli``."""
    assert _offenders(_outside("flushwatch.cli"), ("flushwatch.cli",)) == {}


def test_cli_commands_do_not_import_each_other() -> None:
    """(b) A ``cli/cmd_*.py`` command module imports no other ``cli/cmd_*`` module."""
    commands = [m for m in _under("flushwatch.cli") if m.split(".")[-1].startswith("cmd_")]
    assert commands
    out = {}
    for module in commands:
        bad = sorted(
            name
            for name in _imports(module)
            if _within(name, "flushwatch.cli")
            and len(name.split(".")) > 2
            and name.split(".")[2].startswith("cmd_")
            and not _within(name, module)
        )
        if bad:
            out[module] = bad
    assert out == {}


def test_product_code_does_not_import_testing() -> None:
    """(c) Only ``flushwatch.testing`` itself imports ``flushwatch.testing``."""
    assert _offenders(_outside("flushwatch.testing"), ("flushwatch.testing",)) == {}


def test_no_two_live_modules_import_each_other() -> None:
    """(d) Within ``flushwatch.live`` dependencies run one way (e.g. state → monitor only)."""
    live = _under("flushwatch.live")
    edges = {
        (a, b)
        for a in live
        for b in live
        if a != b and b != "flushwatch.live" and any(_within(n, b) for n in _imports(a))
    }
    both = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert both == []
    assert ("flushwatch.live.state", "flushwatch.live.monitor") in edges  # the one way


def test_live_does_not_import_cli() -> None:
    """(e) ``live/`` reaches kernels through the API or the analytics layer, never the CLI."""
    assert _offenders(_under("flushwatch.live"), ("flushwatch.cli",)) == {}


def test_analytics_imports_no_outer_layer() -> None:
    """(f) The kernels import neither the store, the connectors, the CLI nor the API."""
    outer = ("flushwatch.store", "flushwatch.connectors", "flushwatch.cli", "flushwatch.api")
    assert _offenders(_under("flushwatch.analytics"), outer) == {}
