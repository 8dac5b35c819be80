"""``flushwatch config report|venue|alerts``: each printed template loads through the real
loader as printed, with every key at the class's default, so it cannot drift; and the live
commands' help names the real endpoints and shows an example (issue 15)."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest
from typer.testing import CliRunner

from flushwatch.alerts.config import Rule, TerminalSink, WebhookSink, parse_alerts
from flushwatch.cli.app import app
from flushwatch.config import ReportConfig, load_config
from flushwatch.connectors.bybit import BybitConfig
from flushwatch.connectors.config import (
    DEFAULT_ENDPOINTS,
    ConnectorConfig,
    VisionConfig,
    load_vision_config,
)
from flushwatch.connectors.config import load_config as load_connector_config
from flushwatch.connectors.factory import build_connector, load_venue_config, read_config
from flushwatch.connectors.okx import OkxConfig
from flushwatch.live.backfill import BackfillConfig

runner = CliRunner()


def _printed(kind: str, tmp_path: Path) -> Path:
    result = runner.invoke(app, ["config", kind])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{kind}.toml"
    path.write_text(result.stdout)
    return path


def _keys(text: str) -> set[str]:
    """Keys set or shown commented out (``key = ...``, ``# key = ...``)."""
    return set(re.findall(r"^(?:# )*([A-Za-z_]\w*) =", text, re.M))


def test_report_template_is_the_default_config(tmp_path: Path) -> None:
    path = _printed("report", tmp_path)
    assert load_config(path) == ReportConfig()
    assert runner.invoke(app, ["config"]).stdout == path.read_text()  # report by default


def test_venue_template_loads_for_every_venue_at_its_public_endpoints(tmp_path: Path) -> None:
    path = _printed("venue", tmp_path)
    text = path.read_text()
    for venue in ("binanceusdm", "binancecoinm", "binance"):
        section = load_venue_config(path, venue)
        expected = ConnectorConfig(endpoints=DEFAULT_ENDPOINTS[venue])
        assert load_connector_config(section) == expected
        assert build_connector(venue, ["BTCUSDT"], None, section).exchange == venue
    bybit = build_connector("bybit", ["BTCUSDT"], None, load_venue_config(path, "bybit"))
    assert bybit.exchange == "bybit"
    assert msgspec.convert(load_venue_config(path, "bybit"), BybitConfig) == BybitConfig()
    assert msgspec.convert(load_venue_config(path, "okx"), OkxConfig) == OkxConfig()
    build_connector("okx", ["BTC-USDT-SWAP"], None, load_venue_config(path, "okx"))
    ccxt = load_venue_config(path, "ccxt:kucoinfutures")
    assert build_connector("ccxt:kucoinfutures", ["BTC/USDT:USDT"], ["trades"], ccxt) is not None
    assert load_vision_config(read_config(path)) == VisionConfig()
    # The commented [<venue>.backfill] example loads as backfill/update read it.
    block = text[text.index("# [binanceusdm.backfill]") :]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    raw = tomllib.loads(uncommented)["binanceusdm"]["backfill"]
    assert msgspec.convert(raw, BackfillConfig) == BackfillConfig()
    shown = _keys(text)
    for cls in (ConnectorConfig, BybitConfig, OkxConfig, VisionConfig, BackfillConfig):
        skip = {"symbols", "channels", "inst_ids", "liquidation_inst_types"}
        fields = {f.encode_name for f in msgspec.structs.fields(cls)} - skip
        assert fields - {"endpoints", "backoff", "session", "expected_interval"} <= shown, cls


def test_alerts_template_loads_with_every_rule_and_sink(tmp_path: Path) -> None:
    text = _printed("alerts", tmp_path).read_text()
    cfg = parse_alerts(text, "template")
    kinds = [type(r).__struct_config__.tag for r in cfg.rules]
    assert kinds == [cls.__struct_config__.tag for cls in typing.get_args(Rule)]
    assert [type(s) for s in cfg.sinks] == [WebhookSink, TerminalSink]
    for rule in cfg.rules:  # every value shown is the class's default (or a required example)
        required = {f.name for f in msgspec.structs.fields(rule) if f.required}
        example = {name: getattr(rule, name) for name in required}
        assert rule == type(rule)(**example)
        fields = {f.encode_name for f in msgspec.structs.fields(rule)}
        assert fields <= _keys(text)
    assert {f.encode_name for f in msgspec.structs.fields(WebhookSink)} <= _keys(text)
    assert "# One of: long | short | total" in text


def test_an_unknown_config_kind_is_one_line() -> None:
    result = runner.invoke(app, ["config", "venues"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: config 'venues': use one of report, venue, alerts"


@pytest.mark.parametrize("command", ["watch", "record"])
def test_live_help_shows_a_real_example_and_the_public_defaults(command: str) -> None:
    out = " ".join(runner.invoke(app, [command, "--help"], terminal_width=100).output.split())
    assert "The defaults are the venues' public production endpoints" in out
    assert f"flushwatch {command} --venue binanceusdm --symbols BTCUSDT" in out
    for url in (
        DEFAULT_ENDPOINTS["binanceusdm"].public_ws,
        DEFAULT_ENDPOINTS["binance"].public_ws,
        BybitConfig().ws_base,
        OkxConfig().ws_url,
    ):
        host = urlsplit(url)
        assert f"{host.scheme}://{host.netloc}" in out, url
    assert "flushwatch config venue" in out


def _readme_toml(after: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = text.index("```toml", text.index(after)) + len("```toml")
    return text[start : text.index("```", start)]


def test_readme_venue_and_alert_examples_load(tmp_path: Path) -> None:
    venue = tmp_path / "venue.toml"
    venue.write_text(_readme_toml("**Venue TOML**"))
    section = load_venue_config(venue, "binanceusdm")
    assert load_connector_config(section).endpoints == DEFAULT_ENDPOINTS["binanceusdm"]
    assert msgspec.convert(load_venue_config(venue, "okx"), OkxConfig) == OkxConfig()
    alerts = parse_alerts(_readme_toml("**Alerts TOML**"), "README")
    assert [type(r).__struct_config__.tag for r in alerts.rules] == ["liquidations_over"]
    assert isinstance(alerts.sinks[0], WebhookSink)
