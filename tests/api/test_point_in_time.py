"""`at` means "as of": a call at T gives the same answer, field for field, whether or not the
store holds data after T.

Two stores of the same real files: one with the files whole, one with copies cut at T (every
row stamped after T dropped, as a download made at T would be, so an hour that started before
T and closes after it is still in the cut copy). Each answer as of T must be identical.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import flushwatch
from flushwatch.api import Workspace
from flushwatch.cli.app import app
from flushwatch.domain.time import parse_iso
from flushwatch.errors import ConfigError, InputError
from flushwatch.testing.cut_copy import CutImport

FOLDER = "coinglass-btc-liq-oi-funding-2025-2026"
FUNDING = "binance-btcusdt-funding-event-windows"
FREQTRADE = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
#: (folder, file, its time column): every CSV of the CoinGlass BTC folder, Binance funding, and
#: the Binance BTC perp and spot klines with volume (so the cascade has a depth model) and
#: 8-hour funding from freqtrade (kept from 2025-11-20 in both stores, to stay small).
FILES = (
    (FOLDER, "btc_regime_1h_2025-12-04_2026-06-02.csv", "timestamp"),
    (FOLDER, "btc_liquidation_1h_2025-11-23_2026-05-22.csv", "timestamp"),
    (FOLDER, "btc_liquidation_30m_2026-02-27_2026-05-28.csv", "timestamp"),
    (FUNDING, "BTCUSDT-funding-event-windows.csv", "funding_time"),
    (FREQTRADE, "futures/BTC_USDT_USDT-1h-futures.feather", "date"),
    (FREQTRADE, "futures/BTC_USDT_USDT-8h-funding_rate.feather", "date"),
    (FREQTRADE, "spot/BTC_USDT-1h.feather", "date"),
)
FEATHER_FROM_MS = 1_763_596_800_000  # 2025-11-20T00:00Z
#: In the 2026-02-05 flush (still running), a day after it, and inside the 30-minute file.
TIMES = ("2026-02-06T00:00Z", "2026-02-07T00:00Z", "2026-03-15T12:30Z")


@pytest.fixture(scope="module")
def full(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("full")
    return flushwatch.open(cut_import(base, FILES, None, keep_from_ms=FEATHER_FROM_MS))


@pytest.fixture(scope="module")
def cut(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    out = {}
    for t in TIMES:
        base = tmp_path_factory.mktemp("cut")
        cut_ms = parse_iso(t) // 10**6
        out[t] = flushwatch.open(cut_import(base, FILES, cut_ms, keep_from_ms=FEATHER_FROM_MS))
    return out


@pytest.mark.parametrize("at", TIMES)
def test_report_is_the_same_with_or_without_later_data(
    full: Workspace, cut: dict[str, Workspace], at: str
) -> None:
    a, b = full.report("BTC", at=at).to_dict(), cut[at].report("BTC", at=at).to_dict()
    assert a == b
    assert a["schema"] == "flushwatch.report/2"
    assert a["as_of_ts"] == parse_iso(at)
    assert a["window"]["end_ts"] <= parse_iso(at)  # no bar that closes after T


@pytest.mark.parametrize("at", TIMES)
def test_map_cascade_fragility_events_are_the_same(
    full: Workspace, cut: dict[str, Workspace], at: str
) -> None:
    other = cut[at]
    assert full.map("BTC", at=at, bins=400).to_dict() == other.map("BTC", at=at, bins=400).to_dict()
    assert (
        full.cascade("BTC", shock="-3%", at=at, runs=200).to_dict()
        == other.cascade("BTC", shock="-3%", at=at, runs=200).to_dict()
    )
    assert full.fragility(at=at).to_dict() == other.fragility(at=at).to_dict()
    assert full.events("BTC", end=at).to_dict() == other.events("BTC", end=at).to_dict()


def test_a_running_flush_is_in_progress_and_not_judged(full: Workspace) -> None:
    """At 02-06 00:00 the 02-05 cascade is still printing: reported, not judged; a day later
    it is the judged flush, with the hour of its peak in the CSV."""
    running = full.report("BTC", at="2026-02-06T00:00Z").report
    assert running.in_progress is not None
    assert running.in_progress.peak_ts == parse_iso("2026-02-05T20:00")
    assert running.focus != running.in_progress
    assert any("still running" in n for n in running.notes)
    judged = full.report("BTC", at="2026-02-07T00:00Z").report
    assert judged.in_progress is None
    assert judged.focus is not None
    assert judged.focus.peak_ts == parse_iso("2026-02-05T20:00")
    assert judged.verdict is not None
    # Confirmed ended: more than merge_gap_hours (3) of quiet hours closed after its last hour.
    assert judged.focus.end_ts + 5 * 3600 * 10**9 <= judged.as_of_ts
    # At 02-06 00:00 it had not yet grown to its real end (the 00:00 hour joined it later):
    assert running.in_progress.end_ts < judged.focus.end_ts


def test_oi_is_paired_with_the_bar_close(full: Workspace, shared_data: Path) -> None:
    """The last bar's OI is the value printed at its close (the next hour's ``oi_open``)."""
    at = "2026-02-07T00:00Z"
    m = full.report("BTC", at=at).market
    assert m.oi_quote is not None
    with (shared_data / FOLDER / FILES[0][1]).open(newline="") as fh:
        rows = {int(r["timestamp"]) * 10**6: r for r in csv.DictReader(fh)}
    assert m.ts[-1] == parse_iso(at) - 3600 * 10**9
    assert m.oi_quote[-1] == float(rows[parse_iso(at)]["oi_open"])


def test_times_accept_datetimes_iso_and_ns(full: Workspace) -> None:
    from datetime import UTC, datetime

    ns = parse_iso("2026-02-07T00:00Z")
    docs = [
        full.report("BTC", at=t).to_dict()
        for t in (ns, "2026-02-07T00:00Z", "2026-02-07", datetime(2026, 2, 7, tzinfo=UTC))
    ]
    assert all(d == docs[0] for d in docs)


def test_windows_outside_the_data_are_one_line_errors(full: Workspace) -> None:
    with pytest.raises(
        InputError, match=r"outside the store's data: the store's BTC prices cover 2025-1"
    ):
        full.report("BTC", at="2024-01-01")
    with pytest.raises(ConfigError, match="later than at"):
        full.report("BTC", at="2026-02-07", end="2026-02-08")
    with pytest.raises(ConfigError, match="is not before the end"):
        full.events("BTC", start="2026-02-07", end="2026-02-06")
    with pytest.raises(InputError, match="holds no ETH prices"):
        full.map("ETH")


def test_cli_json_is_the_api_to_dict(full: Workspace) -> None:
    runner = CliRunner()
    store = str(full.path)
    at = "2026-02-07T00:00Z"
    cases = {
        ("report", "BTC", "--at", at): full.report("BTC", at=at),
        ("map", "BTC", "--at", at, "--bins", "400"): full.map("BTC", at=at, bins=400),
        ("cascade", "BTC", "--shock=-3%", "--at", at): full.cascade("BTC", shock="-3%", at=at),
        ("fragility", "--at", at): full.fragility(at=at),
        ("events", "BTC", "--end", at): full.events("BTC", end=at),
        ("info",): full.info(),
    }
    for args, result in cases.items():
        r = runner.invoke(app, [*args, "--store", store, "--json"])
        assert r.exit_code == 0, (args, r.stderr)
        assert json.loads(r.stdout) == result.to_dict(), args
    r = runner.invoke(app, ["report", "BTC", "--at", at, "--end", "2026-02-08", "--store", store])
    assert r.exit_code == 2
    assert "later than at" in r.stderr


def test_frames_are_polars_tables(full: Workspace) -> None:
    import polars as pl

    rep = full.report("BTC", at="2026-02-07T00:00Z")
    frames = rep.frames()
    assert set(frames) >= {"market", "events", "checklist", "levels"}
    assert all(isinstance(f, pl.DataFrame) for f in frames.values())
    assert frames["market"].height == rep.report.window.bars
    assert frames["events"].height == len(rep.report.events)
    m = full.map("BTC", at="2026-02-07T00:00Z", bins=400).frames()
    assert m["bins"].height == len(full.map("BTC", at="2026-02-07T00:00Z", bins=400).doc["bins"])
