"""The market simulator: determinism, exact accounting, each scenario's signature in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from flushwatch.analytics.flushes import detect_flushes
from flushwatch.cli.cmd_simulate import register
from flushwatch.domain.records import MARKET_RECORDS
from flushwatch.errors import ConfigError
from flushwatch.report.build import build_report
from flushwatch.sim import EXCHANGE, SimResult, scenario_params, simulate, write_result
from flushwatch.store import Store

SHORT = {"baseline_days": 1, "shock_hour_utc": 2.0, "hours_after": 3.0}


@pytest.fixture(scope="module")
def short_run() -> SimResult:
    return simulate(scenario_params("reset", **SHORT))


def test_same_seed_same_run_other_seed_differs(short_run: SimResult) -> None:
    again = simulate(scenario_params("reset", **SHORT))
    for name in ("perp", "spot", "oi_long", "liq_ts", "liq_qty", "liq_fill", "settle_rate"):
        np.testing.assert_array_equal(getattr(short_run, name), getattr(again, name))
    other = simulate(scenario_params("reset", seed=8, **SHORT))
    assert not np.array_equal(short_run.perp, other.perp)


def test_open_interest_two_sided_equal_every_minute(short_run: SimResult) -> None:
    np.testing.assert_allclose(short_run.oi_long, short_run.oi_short, rtol=1e-9)
    assert (short_run.oi_long > 0).all()


def test_cash_ledger_balances_through_liquidations(short_run: SimResult) -> None:
    led = short_run.ledger
    assert abs(led.balance()) <= 1e-9 * led.deposited
    assert led.liq_margin > 0  # liquidations happened
    # the insurance fund's entries (fill − bankruptcy) equal margin + PnL at the fill
    assert led.liq_to_fund == pytest.approx(led.liq_margin + led.liq_pnl, rel=1e-9)
    assert led.insurance - led.insurance0 == pytest.approx(
        led.liq_to_fund + led.close_deficit, rel=1e-9, abs=1e-3
    )


def test_unknown_scenario_and_typo_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown scenario"):
        scenario_params("crash")
    with pytest.raises(ConfigError):
        scenario_params("reset", shock_pct="big")


def _store(tmp: Path, name: str) -> Store:
    st = Store.open(tmp / name)
    write_result(simulate(scenario_params(name)), st, name)
    return st


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Store]:
    tmp = tmp_path_factory.mktemp("sim")
    return {name: _store(tmp, name) for name in ("reset", "trend", "squeeze", "calm")}


def test_every_row_is_simulated(stores: dict[str, Store]) -> None:
    st = stores["reset"]
    for cls in MARKET_RECORDS:
        df = st.read(cls)
        if df.height:
            assert set(df.get_column("exchange").unique().to_list()) == {EXCHANGE}


def test_reset_is_a_clean_reset(stores: dict[str, Store]) -> None:
    report, _ = build_report(stores["reset"], "BTC", step_s=3600)
    assert report.focus is not None
    assert report.focus.kind == "long_flush"
    items = {i.name: i for i in report.checklist}
    assert items["oi_rebuild"].state == "slow"
    assert items["funding"].state in ("cooled_to_neutral", "flipped_negative")
    assert report.verdict is not None
    assert report.verdict.name == "clean_reset"


def test_trend_loses_support(stores: dict[str, Store]) -> None:
    report, _ = build_report(stores["trend"], "BTC", step_s=3600)
    items = {i.name: i for i in report.checklist}
    assert items["levels_asset"].state in ("lost", "flush_low_lost")
    assert report.verdict is not None
    assert report.verdict.name == "flush_turning_into_trend"


def test_squeeze_is_a_short_squeeze(stores: dict[str, Store]) -> None:
    report, _ = build_report(stores["squeeze"], "BTC", step_s=3600)
    assert report.focus is not None
    assert report.focus.kind == "short_squeeze"


def test_calm_has_no_flush(stores: dict[str, Store]) -> None:
    from flushwatch.report.assemble import assemble

    assert detect_flushes(assemble(stores["calm"], "BTC", step_s=3600)) == []


def test_cli_writes_where_asked(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps `simulate` a sub-command
        """Unused."""

    args = ["simulate", "--scenario", "calm", "--store", str(tmp_path / "s"), "--json"]
    res = CliRunner().invoke(app, [*args, "--shock", "0"])
    assert res.exit_code == 0, res.output
    assert '"simulated": true' in res.output
    bad = CliRunner().invoke(app, ["simulate", "--scenario", "nope"])
    assert bad.exit_code == 2
    assert "unknown scenario" in bad.output


def test_squeeze_that_holds_is_not_a_trend(stores: dict[str, Store]) -> None:
    # The squeeze holds above the levels it broke: for a squeeze those are broken
    # resistances, not supports, so the verdict is not "flush turning into trend".
    report, _ = build_report(stores["squeeze"], "BTC", exchange="simulated", step_s=3600)
    assert report.focus is not None
    assert report.focus.kind == "short_squeeze"
    last_close = float(report.focus.price_close)
    assert last_close > report.focus.price_low  # kept its base
    items = {i.name: i for i in report.checklist}
    assert items["levels_asset"].state in ("held", "squeeze_faded")
    assert report.verdict is not None
    assert report.verdict.name != "flush_turning_into_trend"
