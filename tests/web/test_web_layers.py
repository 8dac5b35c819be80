"""The dashboard is a front end: it composes the API and the report layer's figures.

Read from the source with ``ast`` (every import statement counts, type-only ones too), like
``tests/test_import_graph.py`` does for the other layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
WEB = SRC / "flushwatch" / "web"
#: What the dashboard reaches only through ``flushwatch.api`` (or never).
FORBIDDEN = (
    "flushwatch.store", "flushwatch.connectors", "flushwatch.ingest", "flushwatch.cli",
    "flushwatch.live", "flushwatch.sim", "flushwatch.venues", "flushwatch.testing", "duckdb",
    "pyarrow", "httpx", "websockets", "ccxt",
)  # fmt: skip


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _hits(names: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


def test_web_imports_no_lower_layer_directly() -> None:
    files = sorted(WEB.rglob("*.py"))
    assert len(files) >= 8  # not vacuous
    bad = {str(p.relative_to(SRC)): _hits(_imports(p), FORBIDDEN) for p in files}
    assert {k: v for k, v in bad.items() if v} == {}
    assert "flushwatch.api" in " ".join(sorted(_imports(WEB / "app.py")))


def test_only_serve_and_the_test_kit_import_web() -> None:
    users = {
        str(p.relative_to(SRC))
        for p in (SRC / "flushwatch").rglob("*.py")
        if WEB not in p.parents and _hits(_imports(p), ("flushwatch.web",))
    }
    assert users == {"flushwatch/cli/cmd_serve.py"}
