"""`flushwatch liq-price` through CliRunner: text, JSON, tiers files and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flushwatch.cli.cmd_mechanics import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep "liq-price" a sub-command
        """Test root."""

    return app


def _invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(_app(), ["liq-price", *args])
    return r.exit_code, r.stdout, r.stderr


BASE = ("--side", "long", "--entry", "50000", "--notional", "260000", "--leverage", "20")


def test_binance_text_reports_the_tier_change() -> None:
    code, out, _ = _invoke("--venue", "binance", *BASE)
    assert code == 0
    assert "47,729.03" in out
    assert "differs from the entry tier 3" in out
    assert "-4.54% from entry" in out
    assert "binance.com/en/support/faq" in out
    assert "estimated" in out


def test_binance_json() -> None:
    code, out, _ = _invoke("--venue", "binance", *BASE, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["liquidation_price"] == pytest.approx(47_729.0298, abs=1e-4)
    assert doc["bankruptcy_price"] == pytest.approx(47_500.0)
    assert doc["tier"]["number"] == 2
    assert doc["entry_tier"]["number"] == 3
    assert doc["tier_changed"] is True
    assert doc["estimate"] is True
    assert doc["distance_pct"] == pytest.approx(-4.5419, abs=1e-4)


def test_faq_example_via_size_and_margin() -> None:
    code, out, _ = _invoke(
        "--venue", "binance", "--side", "long", "--entry", "32481.98",
        "--size", "109.488", "--margin", "1535443.01", "--json",
    )  # fmt: skip
    assert code == 0
    assert round(json.loads(out)["liquidation_price"], 2) == 18_778.73


def test_bybit_with_mmr_and_cross_refused() -> None:
    code, out, _ = _invoke(
        "--venue", "bybit", "--side", "long", "--entry", "20000", "--size", "1",
        "--leverage", "50", "--mmr", "0.005", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["liquidation_price"] == pytest.approx(19_700.0)
    code, _, err = _invoke("--venue", "bybit", *BASE, "--mmr", "0.005", "--mode", "cross")
    assert code == 2
    assert "cross mode is implemented for binance, hyperliquid only" in err


def test_hyperliquid_and_okx() -> None:
    code, out, _ = _invoke(
        "--venue", "hyperliquid", "--side", "long", "--entry", "2459.5", "--size", "0.0199",
        "--margin", "24.454895", "--mmr", "0.01", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["liquidation_price"] == pytest.approx(1_243.0411908, rel=2e-4)
    code, out, _ = _invoke(
        "--venue", "okx", "--side", "short", "--entry", "20000", "--size", "1",
        "--margin", "400", "--mmr", "0.004", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["liquidation_price"] == pytest.approx(20_400 / 1.0045)


def test_cross_with_wallet() -> None:
    code, out, _ = _invoke(
        "--venue", "binance", "--side", "short", "--entry", "100", "--size", "10",
        "--mode", "cross", "--wallet", "500", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["mode"] == "cross"
    assert doc["liquidation_price"] == pytest.approx(1500 / (10 * 1.004))


def test_tiers_files(tmp_path: Path) -> None:
    ccxt = tmp_path / "tiers.json"
    ccxt.write_text(
        json.dumps(
            {
                "BTC/USDT:USDT": [
                    {"tier": 1, "currency": "USDT", "minNotional": 0, "maxNotional": 100000,
                     "maintenanceMarginRate": 0.005, "maxLeverage": 100, "info": {"cum": "0"}},
                    {"tier": 2, "currency": "USDT", "minNotional": 100000, "maxNotional": 1e7,
                     "maintenanceMarginRate": 0.01, "maxLeverage": 50, "info": {"cum": "500"}},
                ]
            }
        )
    )  # fmt: skip
    code, out, _ = _invoke("--venue", "bybit", *BASE, "--tiers", str(ccxt), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["tier"]["mmr"] == 0.01
    assert doc["tiers_source"] == str(ccxt)
    toml = tmp_path / "tiers.toml"
    toml.write_text("[[tiers]]\nfloor = 0\ncap = 1e9\nmmr = 0.004\nmax_leverage = 125\n")
    code, out, _ = _invoke("--venue", "okx", *BASE, "--tiers", str(toml))
    assert code == 0
    assert "OKX" in out
    bad = tmp_path / "bad.json"
    bad.write_text('[{"tier": 1, "minNotional": 5, "maxNotional": 9, '
                   '"maintenanceMarginRate": 0.1, "maxLeverage": 2}]')  # fmt: skip
    code, _, err = _invoke("--venue", "binance", *BASE, "--tiers", str(bad))
    assert code == 2
    assert "start at notional 0" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--venue", "ftx", *BASE), "--venue 'ftx' is not one of"),
        (("--venue", "binance", "--side", "long", "--entry", "1", "--leverage", "2"),
         "exactly one of --size"),
        (("--venue", "binance", "--side", "long", "--entry", "1", "--size", "1"),
         "exactly one of --leverage or --margin"),
        (("--venue", "binance", *BASE, "--wallet", "5"), "in isolated mode use --margin"),
        (("--venue", "binance", *BASE, "--tiers", "/nonexistent.json"), "no such file"),
        (("--venue", "okx", *BASE), "pass --tiers FILE"),
        (("--venue", "binance", *BASE, "--fee-rate", "0.001"), "applies to okx only"),
    ],
)  # fmt: skip
def test_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = _invoke(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err
    assert err.count("\n") == 1


def test_warns_above_max_leverage() -> None:
    code, out, _ = _invoke("--venue", "binance", *BASE[:-1], "75", "--json")
    assert code == 0
    assert any("exceeds the entry tier's maximum 50x" in w for w in json.loads(out)["warnings"])
