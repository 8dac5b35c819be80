"""Report thresholds are range-checked: a negative, NaN or infinite value is a ConfigError.

TOML spells ``nan`` and ``inf``; before issue 14 ``z_threshold = -3.5``, ``z_threshold = nan``
and ``merge_gap_hours = inf`` all loaded and silently changed (or switched off) the detector.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest

from flushwatch.alerts.config import parse_alerts
from flushwatch.config import ReportConfig, default_toml, load_config, non_finite
from flushwatch.errors import ConfigError


def _load(tmp_path: Path, text: str) -> ReportConfig:
    path = tmp_path / "report.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("section", "line", "says"),
    [
        ("flush", "z_threshold = -3.5", "flush.z_threshold = -3.5: Expected `float` > 0"),
        ("flush", "z_threshold = nan", "flush.z_threshold = nan: Expected `float` > 0"),
        ("flush", "merge_gap_hours = inf", "flush.merge_gap_hours = inf: must be a finite"),
        ("flush", "merge_gap_hours = -1.0", "flush.merge_gap_hours = -1.0: Expected `float` >= 0"),
        ("flush", "baseline_hours = -inf", "flush.baseline_hours = -inf: Expected `float` > 0"),
        ("trap", "oi_pct = 150", "trap.oi_pct = 150: Expected `float` <= 100"),
        ("checklist", "window_hours = 0", "checklist.window_hours = 0: Expected `float` > 0"),
        ("checklist", "interest_floor_pct_8h = nan", "checklist.interest_floor_pct_8h = nan"),
        ("levels", "pivot_bars = 0", "levels.pivot_bars = 0: Expected `int` >= 1"),
        ("verdict", "w_funding = -3.0", "verdict.w_funding = -3.0: Expected `float` >= 0"),
        ("verdict", "min_coverage = 1.5", "verdict.min_coverage = 1.5: Expected `float` <= 1"),
        ("accounting", "top_n = -1", "accounting.top_n = -1: Expected `int` >= 0"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_key(
    tmp_path: Path, section: str, line: str, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"[{section}]\n{line}\n")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'report.toml'}: ")
    assert says in message
    assert "\n" not in message


def test_in_range_edges_and_defaults_still_load(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "[flush]\nmerge_gap_hours = 0\nelevated_z = 0\n"
        "[checklist]\ninterest_floor_pct_8h = -0.01\n"  # a signed value: only finiteness
        "[verdict]\nw_book = 0\nmin_coverage = 1\n",
    )
    assert (cfg.flush.merge_gap_hours, cfg.verdict.w_book) == (0.0, 0.0)
    assert cfg.checklist.interest_floor_pct_8h == -0.01
    assert msgspec.convert(tomllib.loads(default_toml()), ReportConfig) == ReportConfig()


def test_every_float_key_refuses_nan_and_inf(tmp_path: Path) -> None:
    """No float key is left unchecked: each one, set to nan or inf alone, is refused by name."""
    defaults = tomllib.loads(default_toml())
    keys = [
        (section, key)
        for section, table in defaults.items()
        for key, value in table.items()
        if isinstance(value, float)
    ]
    assert len(keys) > 50
    for section, key in keys:
        for bad in ("nan", "inf", "-inf"):
            with pytest.raises(ConfigError, match=rf"{section}\.{key} = -?(nan|inf)"):
                _load(tmp_path, f"[{section}]\n{key} = {bad}\n")


def test_non_finite_walks_structs_and_names_the_path() -> None:
    assert non_finite(ReportConfig()) == []
    bad = non_finite({"flush": {"z": float("nan")}, "x": (1.0, float("-inf"))})
    assert [k for k, _ in bad] == ["flush.z", "x[1]"]


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[[rules]]\nkind = "liquidations_over"\nname = "l"\nusd = inf\nminutes = 5\n',
            "usd = inf: must be a finite number (at .rules[0])",
        ),
        (
            '[[rules]]\nkind = "flush_detected"\nname = "f"\nmin_score = nan\n',
            "min_score = nan: must be a finite number (at .rules[0])",
        ),
        (
            '[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1/"\ntimeout_s = inf\n',
            "timeout_s = inf: must be a finite number (at .sinks[0])",
        ),
        (
            '[[rules]]\nkind = "liquidations_over"\nname = "l"\nusd = -5.0\nminutes = 5\n',
            "Expected `float` > 0.0 (at .rules[0].usd)",
        ),
    ],
)
def test_alert_thresholds_are_range_checked_too(toml: str, says: str) -> None:
    """An ``usd = inf`` rule never fires and a ``timeout_s = inf`` webhook hangs: refused."""
    with pytest.raises(ConfigError) as info:
        parse_alerts(toml, "alerts.toml")
    assert str(info.value) == f"alerts.toml: {says}"
