"""The report configuration: documented defaults, unknown keys rejected, errors name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.config import ReportConfig, default_toml, load_config
from flushwatch.errors import ConfigError


def test_default_toml_round_trips_and_documents_every_key() -> None:
    text = default_toml()
    parsed = tomllib.loads(text)
    assert msgspec.convert(parsed, ReportConfig) == ReportConfig()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), f"key without a rationale: {line}"


def test_missing_keys_take_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[flush]\nz_threshold = 4.0\n")
    cfg = load_config(path)
    assert cfg.flush.z_threshold == 4.0
    assert cfg.flush.baseline_hours == ReportConfig().flush.baseline_hours
    assert cfg.checklist == ReportConfig().checklist


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[flush]\nz_treshold = 4.0\n", "z_treshold"),  # a typo is refused, not ignored
        ("[flsh]\nz_threshold = 4.0\n", "flsh"),
        ("[flush]\nz_threshold = 'high'\n", "z_threshold"),
        ("[flush\n", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_shared_definitions_must_agree(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[levels]\nround_major_pct = 5.0\n")
    with pytest.raises(ConfigError, match="round_major_pct"):
        load_config(path)


def test_cli_config_and_bad_config(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["config"])
    assert r.exit_code == 0
    assert msgspec.convert(tomllib.loads(r.stdout), ReportConfig) == ReportConfig()
    bad = tmp_path / "bad.toml"
    bad.write_text("[verdict]\nconfidense = 1\n")
    r = runner.invoke(app, ["report", "BTC", "--store", str(tmp_path), "--config", str(bad)])
    assert r.exit_code == 2
    assert "confidense" in r.stderr
