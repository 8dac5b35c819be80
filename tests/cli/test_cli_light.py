"""The CLI stays light: --help must not pull in DuckDB, Polars or Arrow."""

from __future__ import annotations

import subprocess
import sys


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from flushwatch.cli.app import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'import' in r.output\n"
        "heavy = [m for m in ('duckdb', 'polars', 'pyarrow') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
