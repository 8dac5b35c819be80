"""`flushwatch report` on the real data: its findings must be the ones visible in the files.

Every expected number is read from the CSV here with the ``csv`` module (an independent
path from the importers) or taken from the folder's PROVENANCE.md, as noted at each assert.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain.time import parse_iso
from flushwatch.report.build import report_json
from flushwatch.testing.real import report_as_of, store_for

H = 3600 * 10**9
#: A day after the 2026-02-05/06 flush: it has ended (and its funding flip printed) by then.
FEB_AT = "2026-02-07T00:00"
COINGLASS_1H = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
FUNDING_WINDOWS = "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
XRP = (
    "freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-8h-mark.csv",
    "freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-8h-funding_rate.csv",
)
OKX = "okx-btc-spot-perp-basis-hourly-2025/okx_btc_spot_vs_swap_hourly_utc.csv"


def _rows(shared: Path, rel: str) -> list[dict[str, str]]:
    with (shared / rel).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def feb_report(shared_data: Path):  # type: ignore[no-untyped-def]
    store = store_for((COINGLASS_1H, FUNDING_WINDOWS))
    return report_as_of(store, "BTC", FEB_AT)


def test_feb_2026_flush_is_the_focus_with_the_files_numbers(feb_report, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    report, _ = feb_report
    ev = report.focus
    assert ev is not None
    assert ev.kind == "long_flush"
    # PROVENANCE.md: the largest hour is 2026-02-05 20:00 UTC (long liq ≈ $134M).
    assert ev.peak_ts == parse_iso("2026-02-05T20:00")
    assert ev.start_ts <= parse_iso("2026-02-06T00:00") <= ev.end_ts
    rows = {int(r["timestamp"]) * 10**6: r for r in _rows(shared_data, COINGLASS_1H)}
    hours = range(ev.start_ts, ev.end_ts + 1, H)
    longs = sum(float(rows[t]["liquidation_long_usd"]) for t in hours)
    shorts = sum(float(rows[t]["liquidation_short_usd"]) for t in hours)
    assert ev.liq_long_usd == pytest.approx(longs, rel=1e-12)
    assert ev.liq_short_usd == pytest.approx(shorts, rel=1e-12)
    # PROVENANCE.md: 2026-02-06 00:00 low 60,000.
    assert ev.price_low == 60_000.0
    assert ev.price_low == min(float(rows[t]["price_low"]) for t in hours)
    # OI: last close before the start vs the lowest close from the start to 6 h after the end.
    before = float(rows[ev.start_ts - H]["oi_close"])
    after = min(float(rows[t]["oi_close"]) for t in range(ev.start_ts, ev.end_ts + 7 * H, H))
    assert ev.oi_before_quote == pytest.approx(before)
    assert ev.oi_after_quote == pytest.approx(after)
    assert ev.oi_drop_quote_pct == pytest.approx((before - after) / before * 100)
    assert not ev.liq_lower_bound  # a vendor aggregate, not throttled venue prints


def test_feb_2026_checklist_uses_binance_funding_and_sees_the_flip(
    feb_report, shared_data: Path
) -> None:  # type: ignore[no-untyped-def]
    report, _ = feb_report
    assert report.sources["funding"].startswith("binanceusdm perp BTCUSDT")
    items = {c.name: c for c in report.checklist}
    funding = items["funding"]
    assert funding.state == "flipped_negative"
    # The real Binance file has negative settled rates after the flush started (PROVENANCE of
    # the coinglass folder: Binance printed −0.0137 % on 2026-02-06 16:00).
    focus = report.focus
    assert focus is not None
    rates = [
        float(r["funding_rate"])
        for r in _rows(shared_data, FUNDING_WINDOWS)
        if focus.start_ts <= int(r["funding_time"]) * 10**6 <= report.as_of_ts  # knowable
    ]
    assert min(rates) < 0
    assert f"{min(rates) * 100:.4f}%" in funding.sentence
    for name in ("basis", "spot_vs_perp", "book", "levels_eth"):
        assert items[name].state == "not_available"
        assert items[name].signal == "unknown"
    assert report.verdict is not None
    assert set(report.verdict.missing_inputs) >= {"basis", "spot_vs_perp", "book", "levels_eth"}


def test_feb_2026_json_is_the_documented_schema(feb_report) -> None:  # type: ignore[no-untyped-def]
    report, _ = feb_report
    doc = json.loads(report_json(report))
    assert doc["schema"] == "flushwatch.report/2"
    assert doc["as_of_ts"] == parse_iso(FEB_AT)
    assert doc["asset"] == "BTC"
    assert doc["focus"]["peak_ts"] == parse_iso("2026-02-05T20:00")
    assert {c["name"] for c in doc["checklist"]} == {
        "oi_rebuild",
        "funding",
        "basis",
        "spot_vs_perp",
        "spot_held",
        "levels_asset",
        "levels_btc",
        "levels_eth",
        "book",
    }
    assert {r["name"] for r in doc["risk_box"]} == {
        "oi_reloaded_into_weakness",
        "funding_without_spot_demand",
        "btc_support_lost",
    }
    assert doc["verdict"]["name"] in {
        "clean_reset",
        "re_leveraging_into_weakness",
        "flush_turning_into_trend",
        "inconclusive",
    }
    assert 0.0 <= doc["verdict"]["confidence"] <= 1.0


def test_xrp_2021_12_04_flush_without_liquidation_data(shared_data: Path) -> None:
    report, _ = report_as_of(store_for(XRP), "XRP", "2021-12-06T00:00")
    ev = report.focus
    assert ev is not None
    # PROVENANCE.md: 8h candle 2021-12-04 00:00–08:00 has L 0.5764; found without liquidations.
    assert (ev.kind, ev.detected_by) == ("long_flush", "price_volume")
    assert ev.start_ts <= parse_iso("2021-12-04T00:00") <= ev.end_ts
    assert ev.price_low == 0.5764
    assert ev.liq_long_usd is None
    assert ev.oi_drop_quote_pct is None
    assert "liq_long: not available in the store for this window" in report.notes
    items = {c.name: c for c in report.checklist}
    # PROVENANCE.md: funding at 2021-12-04 08:00 = −0.00219334, the only negative print.
    assert items["funding"].state == "flipped_negative"
    assert "-0.2193%" in items["funding"].sentence
    assert items["oi_rebuild"].state == "not_available"
    assert report.verdict is not None
    assert report.verdict.confidence < 0.5  # no liquidations, no OI: low confidence


def test_okx_2025_10_10_cascade(shared_data: Path) -> None:
    report, _ = report_as_of(store_for((OKX,)), "BTC", "2025-10-12T00:00")
    ev = report.focus
    assert ev is not None
    # The sample at 2025-10-10T21:18:44Z is the crash print: perp 108,539 (PROVENANCE.md).
    assert ev.kind == "long_flush"
    assert ev.start_ts <= parse_iso("2025-10-10T21:00") <= ev.end_ts
    assert ev.price_low == 108_539.0
    items = {c.name: c for c in report.checklist}
    # Spot and perp exist in the file, so basis and "spot held" are computed, not guessed.
    assert items["basis"].state != "not_available"
    assert items["spot_held"].state != "not_available"
    # Funding: the next samples print −0.115 % and −0.134 % (PROVENANCE.md / the CSV).
    assert items["funding"].state == "flipped_negative"
    lows = [
        float(r["funding_rate"])
        for r in _rows(shared_data, OKX)
        if "2025-10-10T21" <= r["sample_time_utc_approx"] <= "2025-10-11T23"
    ]
    assert f"{min(lows) * 100:.4f}%" in items["funding"].sentence
    assert report.sources["spot"].startswith("okx spot BTC-USDT")


def test_each_missing_series_lowers_confidence(shared_data: Path) -> None:
    """Remove each optional series in turn from a real market: never a guess, less confidence."""
    import msgspec

    from flushwatch.config import ReportConfig
    from flushwatch.report.build import analyse

    store = store_for((COINGLASS_1H, FUNDING_WINDOWS))
    full, m = report_as_of(store, "BTC", FEB_AT)
    assert full.verdict is not None
    cfg = ReportConfig()
    for fields in (("funding",), ("oi_quote", "oi_base")):
        reduced = msgspec.structs.replace(m, **dict.fromkeys(fields))
        _, _, sections = analyse(reduced, {"BTC": reduced}, cfg, as_of_ts=full.as_of_ts)
        verdict = sections["verdict"]
        items = {c.name: c for c in sections["checklist"]}  # type: ignore[attr-defined]
        name = "funding" if fields == ("funding",) else "oi_rebuild"
        assert items[name].state == "not_available"
        assert items[name].value is None
        assert verdict.confidence < full.verdict.confidence  # type: ignore[attr-defined]


def test_cli_report_and_events(tmp_path: Path, shared_data: Path) -> None:
    runner = CliRunner()
    store = tmp_path / "store"
    r = runner.invoke(app, ["import", "--store", str(store), str(shared_data / COINGLASS_1H)])
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["events", "BTC", "--store", str(store), "--json"])
    assert r.exit_code == 0, r.stderr
    events = json.loads(r.stdout)["events"]
    peaks = {e["peak_ts"] for e in events}
    assert parse_iso("2026-02-05T20:00") in peaks
    html = tmp_path / "r.html"
    r = runner.invoke(
        app,
        ["report", "BTC", "--store", str(store), "--at", "2026-02-07", "--html", str(html)],
    )
    assert r.exit_code == 0, r.stderr
    assert "as of 2026-02-07T00:00:00Z" in r.stdout
    assert "Verdict:" in r.stdout
    assert "Post-flush checklist" in r.stdout
    assert html.stat().st_size > 1_000_000  # Plotly's JavaScript is inlined: opens offline
    r = runner.invoke(app, ["report", "DOGE", "--store", str(store)])
    assert r.exit_code == 2
    assert "holds no DOGE prices (it holds BTC)" in r.stderr
    r = runner.invoke(app, ["report", "BTC", "--store", str(store), "--step", "7x"])
    assert r.exit_code == 2
    assert "--step" in r.stderr
