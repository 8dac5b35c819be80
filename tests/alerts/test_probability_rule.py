"""Probability alert rules on real CoinGlass BTC hourly data, through the real dispatcher.

The rule reads the report API on a store, point in time at each closed hour, and fires only
where the estimate has beaten its base rate on earlier flushes (else it says why not).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.alerts.config import ConfigError, ProbabilityAbove, parse_alerts
from flushwatch.alerts.dispatch import Dispatcher
from flushwatch.alerts.hourly import HourlyOdds, store_reports
from flushwatch.alerts.jsonl import JsonlFile
from flushwatch.cli.app import app
from flushwatch.domain.time import parse_iso
from flushwatch.testing.cut_copy import CutImport

FOLDER = "coinglass-btc-liq-oi-funding-2025-2026"
FILES = (
    (FOLDER, "btc_regime_1h_2025-12-04_2026-06-02.csv", "timestamp"),
    (FOLDER, "btc_liquidation_1h_2025-11-23_2026-05-22.csv", "timestamp"),
)
EXTENDS = ProbabilityAbove(name="extends", outcome="new_extreme_1d", above=0.6)
UP = ProbabilityAbove(name="up", outcome="up_1d", above=0.5)


@pytest.fixture(scope="module")
def store(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_import(tmp_path_factory.mktemp("prob_rule"), FILES, None)


def test_config_rejects_an_unknown_outcome_and_a_probability_out_of_range() -> None:
    ok = parse_alerts(
        b'[[rules]]\nkind = "probability"\nname = "x"\noutcome = "funding_reset_3d"\nabove = 0.7\n'
    )
    assert ok.probability_rules() == ok.rules
    for bad in ('outcome = "new_low_1d"\nabove = 0.6', 'outcome = "up_1d"\nabove = 1.5'):
        with pytest.raises(ConfigError):
            parse_alerts(f'[[rules]]\nkind = "probability"\nname = "x"\n{bad}\n'.encode())


def test_fires_once_per_flush_and_says_why_it_stays_silent(store: Path, tmp_path: Path) -> None:
    odds = HourlyOdds([EXTENDS, UP], ["BTCUSDT"], store_reports(store))
    sink = tmp_path / "alerts.jsonl"
    dispatcher = Dispatcher([JsonlFile(sink)])

    def hour(at: str) -> int:
        return len(asyncio.run(dispatcher.dispatch(odds.evaluate(parse_iso(at)))))

    # The two-sided re-flare of 2026-05-04 10:00, judged at 05-05 07:00: P(beyond its extreme
    # within 1d) = 98.7 %, and the procedure beat its base rate (54 %) on the 23 earlier
    # episodes it could be scored on.
    assert hour("2026-05-05T07:00Z") == 1
    assert odds.notes == [
        "extends: BTCUSDT new_extreme_1d: fired, P = 99% ≥ 60% as of 2026-05-05T07:00:00Z",
        "up: BTCUSDT up_1d: silent, the estimate has not beaten its base rate on 23 scored "
        "past flushes",
    ]
    # The next day the report still judges the same flush: one alert per flush
    assert hour("2026-05-06T05:00Z") == 0
    assert odds.notes[0].startswith("extends: BTCUSDT new_extreme_1d: fired, P = 98%")
    # Another flush, unlikely to extend: silent, and it says so
    assert hour("2026-05-14T20:00Z") == 0
    assert (
        odds.notes[0] == "extends: BTCUSDT new_extreme_1d: P = 7% < 60% as of 2026-05-14T20:00:00Z"
    )
    (line,) = sink.read_text(encoding="utf-8").splitlines()
    doc = json.loads(line)
    assert doc["key"] == "extends|BTCUSDT|new_extreme_1d|1777888800000000000"
    assert doc["time"] == "2026-05-05T07:00:00Z"
    assert doc["value"] == pytest.approx(0.9872676508542111)
    assert doc["text"].startswith(
        "BTCUSDT: P(price goes beyond the flush extreme within 1d) = 99% (rule: ≥ 60%) for the "
        "two-sided flush of 2026-05-04T10:00:00Z (re-flare 2 of the episode from "
        "2026-05-04T01:00:00Z), as of 2026-05-05T07:00:00Z; base rate 54% over 33 past flushes "
        "(own); it beat that base rate on 23 scored past flushes."
    )


def test_live_loop_polls_once_per_closed_hour_off_the_loop(store: Path) -> None:
    """``poll`` starts the hour's report in a thread and hands back its alerts when done."""
    odds = HourlyOdds([EXTENDS], ["BTCUSDT"], store_reports(store))
    now = parse_iso("2026-05-05T07:59Z")  # the 07:00 hour has closed; 08:00 has not

    async def loop() -> list[list[str]]:
        seen = []
        for _ in range(400):
            got = await odds.poll(now)
            seen.append([a.key for a in got])
            if got:
                break
            await asyncio.sleep(0.05)
        seen.append([a.key for a in await odds.poll(now)])  # the same hour: not again
        return seen

    seen = asyncio.run(loop())
    assert seen[0] == []  # started, not waited for
    assert seen[-2] == ["extends|BTCUSDT|new_extreme_1d|1777888800000000000"]
    assert seen[-1] == []
    assert odds.due(now) is None
    assert odds.due(now + 3600 * 10**9) == parse_iso("2026-05-05T08:00Z")


def test_a_symbol_the_store_does_not_cover_is_silent_with_the_reason(store: Path) -> None:
    odds = HourlyOdds([EXTENDS], ["ETHUSDT"], store_reports(store))
    assert odds.evaluate(parse_iso("2026-05-16T18:00Z")) == []
    (note,) = odds.notes
    assert note.startswith("ETHUSDT: probability rules silent as of 2026-05-16T18:00:00Z: ")


def test_watch_store_evaluates_the_rule_each_closed_hour(
    store: Path, tmp_path: Path, shared_data: Path
) -> None:
    """Through the CLI against a loopback exchange (127.0.0.1, a real 2024 recording): the
    store ends in 2026-06, so at the current hour the rule is silent and says why."""
    from flushwatch.testing.loopback import LoopbackExchange
    from flushwatch.testing.loopback_replay import load_recording
    from flushwatch.testing.threaded import served_in_thread

    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rules]]\nkind = "probability"\nname = "ext"\noutcome = "new_extreme_1d"\n'
                     "above = 0.6\n")  # fmt: skip
    no_store = CliRunner().invoke(app, ["watch", "--alerts", str(rules), "--duration", "1"])
    assert no_store.exit_code == 2
    assert "probability alert rules need --store" in no_store.output
    rec = shared_data / "hftbacktest-binance-ws-2024-08-08" / "usdm_btcusdt_20240808.gz"
    with served_in_thread(lambda: LoopbackExchange(load_recording(rec))) as ex:
        config = tmp_path / "endpoints.toml"
        config.write_text(
            "[binanceusdm.endpoints]\n"
            f'public_ws = "{ex.ws_base}/public"\n'
            f'market_ws = "{ex.ws_base}/market"\n'
            f'rest = "{ex.http_base}"\n'
        )
        args = ["watch", "--no-spot", "--store", str(store), "--prime-hours", "0"]
        args += ["--duration", "5", "--config", str(config), "--alerts", str(rules)]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "BTCUSDT: probability rules silent as of " in result.output
    assert "outside the store's data" in result.output
