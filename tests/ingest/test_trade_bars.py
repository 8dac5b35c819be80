"""Bars, taker flow and CVD built from real trades, and the report's use of them.

Data: ``shared/data/hftbacktest-binance-ws-2024-08-08`` (PROVENANCE.md: the same six minutes
of Binance USD-M and spot BTCUSDT, 21,313 and 9,757 trades; no klines). Expected bars are
recomputed here from the raw lines with ``gzip`` + ``json``, independently of the importer
and of :mod:`flushwatch.analytics.trade_bars`. Also the CVD files (taker flow) as the spot
volume of SOL, which has no spot bars.
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.feather as feather
import pytest

from flushwatch.analytics.trade_bars import trade_bars
from flushwatch.domain.records import Trade
from flushwatch.ingest.registry import parse
from flushwatch.report.assemble import assemble
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore

HFT = "hftbacktest-binance-ws-2024-08-08"
MIN = 60 * 10**9
# 2024-08-08 23:56:00 UTC, a whole minute inside both recordings
T_2356 = 1723161360 * 10**9


def raw_trades(path: Path) -> list[tuple[int, float, float, bool]]:
    """(trade time ns, price, qty, taker bought) per trade line, in file order."""
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            msg = json.loads(line.partition(" ")[2])
            if msg.get("stream", "").endswith("@trade"):
                d = msg["data"]
                # m: the buyer was the maker, so the taker sold
                out.append((d["T"] * 10**6, float(d["p"]), float(d["q"]), not d["m"]))
    return out


def raw_bar(trades: list[tuple[int, float, float, bool]], start: int) -> dict[str, float]:
    rows = sorted((t for t in trades if start <= t[0] < start + MIN), key=lambda t: t[0])
    prices = [t[1] for t in rows]
    return {
        "open": prices[0],
        "high": max(prices),
        "low": min(prices),
        "close": prices[-1],
        "volume": math.fsum(t[2] for t in rows),
        "quote": math.fsum(t[1] * t[2] for t in rows),
        "buy": math.fsum(t[2] for t in rows if t[3]),
        "count": len(rows),
    }


@pytest.fixture(scope="module")
def hft_store(shared_data: Path) -> Iterator[Store]:
    """USD-M and spot BTCUSDT trades (and their books and quotes), imported once."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "store")
        names = ("usdm_btcusdt_20240808.gz", "spot_btcusdt_20240808.gz")
        store.write([parse(shared_data / HFT / n) for n in names])
        yield store


@pytest.fixture(scope="module")
def usdm_raw(shared_data: Path) -> list[tuple[int, float, float, bool]]:
    return raw_trades(shared_data / HFT / "usdm_btcusdt_20240808.gz")


def test_every_minute_bar_equals_the_raw_trades(
    hft_store: Store, usdm_raw: list[tuple[int, float, float, bool]]
) -> None:
    df = hft_store.read(Trade, market="perp")
    assert df.height == len(usdm_raw) == 21_313  # PROVENANCE.md
    tb = trade_bars(
        df.get_column("ts_event").to_numpy(),
        df.get_column("price").to_numpy(),
        df.get_column("qty").to_numpy(),
        (df.get_column("taker_side") == "buy").to_numpy(),
        60,
    )
    assert int(tb.trade_count.sum()) == 21_313
    assert tb.ts.tolist() == [T_2356 + k * MIN for k in range(-2, 4)]  # 23:54 … 23:59
    for i, start in enumerate(tb.ts.tolist()):
        want = raw_bar(usdm_raw, start)
        got = (tb.open[i], tb.high[i], tb.low[i], tb.close[i], int(tb.trade_count[i]))
        assert got == (want["open"], want["high"], want["low"], want["close"], want["count"])
        assert tb.volume_base[i] == pytest.approx(want["volume"], rel=1e-12)
        assert tb.volume_quote[i] == pytest.approx(want["quote"], rel=1e-12)
        assert tb.taker_buy_base[i] == pytest.approx(want["buy"], rel=1e-12)
        sell = want["volume"] - want["buy"]
        assert tb.taker_sell_base[i] == pytest.approx(sell, rel=1e-9)
    buy = math.fsum(t[2] for t in usdm_raw if t[3])
    sell = math.fsum(t[2] for t in usdm_raw if not t[3])
    assert tb.cvd[-1] == pytest.approx(buy - sell, rel=1e-9)
    # one bar written out in full, from the raw lines above (23:56 UTC)
    i = 2
    assert (tb.open[i], tb.high[i], tb.low[i], tb.close[i]) == (61760.4, 61760.4, 61700.0, 61701.2)
    assert (int(tb.trade_count[i]), tb.volume_base[i]) == (1992, pytest.approx(203.143))
    assert tb.taker_buy_base[i] == pytest.approx(106.193)


def test_a_bar_is_known_only_after_it_closes() -> None:
    ts = np.array([0, 30, 59, 60, 61], dtype=np.int64) * 10**9
    px = np.array([10.0, 12.0, 9.0, 11.0, 11.5])
    qty = np.ones(5)
    buy = np.array([True, False, True, True, False])
    full = trade_bars(ts, px, qty, buy, 60)
    assert full.ts.tolist() == [0, MIN]
    cut = trade_bars(ts, px, qty, buy, 60, known_at_ns=MIN + 59 * 10**9)
    assert cut.ts.tolist() == [0]  # the bar starting at 60 s closes at 120 s
    assert (cut.open[0], cut.high[0], cut.low[0], cut.close[0]) == (10.0, 12.0, 9.0, 9.0)
    assert (cut.taker_buy_base[0], cut.taker_sell_base[0], cut.cvd[0]) == (2.0, 1.0, 1.0)
    assert trade_bars(ts, px, qty, buy, 60, known_at_ns=MIN - 1).n == 0


def test_report_prices_spot_volume_and_basis_from_trades(
    hft_store: Store, shared_data: Path, usdm_raw: list[tuple[int, float, float, bool]]
) -> None:
    """No klines in the store: the perp grid, spot close, spot volume and basis come from the
    trades, and the sources say so."""
    m = assemble(hft_store, "BTC")
    assert m.sources["price"] == "binanceusdm perp BTCUSDT 1m bars built from 21313 trades"
    assert m.sources["spot"].startswith("binance spot BTCUSDT 1m bars built from ")
    assert "estimate" not in m.sources["spot"]  # quote volume traded, not base × close
    assert m.spot_close is not None
    assert m.spot_volume_quote is not None
    assert m.basis is not None
    assert m.volume_quote is not None
    i = int(np.flatnonzero(m.ts == T_2356)[0])
    spot = raw_bar(raw_trades(shared_data / HFT / "spot_btcusdt_20240808.gz"), T_2356)
    perp = raw_bar(usdm_raw, T_2356)
    assert m.close[i] == perp["close"]
    assert m.volume_quote[i] == pytest.approx(perp["quote"], rel=1e-12)
    assert m.spot_close[i] == spot["close"]
    assert m.spot_volume_quote[i] == pytest.approx(spot["quote"], rel=1e-12)
    assert m.basis[i] == pytest.approx(perp["close"] / spot["close"] - 1, rel=1e-12)
    # no depth bands: the book item reads the recorded USD-M book, rebuilt at each close
    assert m.sources["depth_1pct"] == (
        "binanceusdm perp BTCUSDT bid depth within 1%: book rebuilt at each bar's close "
        "(6 bars; sequence verified)"
    )
    assert m.depth_1pct is not None
    assert bool((m.depth_1pct > 0).all())


def test_bars_from_trades_as_of_t_equal_those_of_the_whole_store(hft_store: Store) -> None:
    full = assemble(hft_store, "BTC")
    at = T_2356 + MIN + 30 * 10**9  # 23:57:30: the 23:57 bar is half built
    asof = assemble(AsOfStore(hft_store, at), "BTC")
    assert asof.ts[-1] == T_2356  # the last bar is the one closed at 23:57
    n = asof.n
    names = ("open", "high", "low", "close", "volume_quote", "spot_close", "basis", "depth_1pct")
    for name in names:
        a, b = getattr(asof, name), getattr(full, name)
        assert np.array_equal(a, b[:n], equal_nan=True), name


def test_spot_taker_flow_gives_sol_its_spot_volume(shared_data: Path, tmp_path: Path) -> None:
    """SOL has perp bars and a CVD file but no spot bars: spot-vs-perp volume has an input,
    labelled as base volume × the perp close."""
    ft = shared_data / "freqtrade-binance-perp-spot-mark-funding-2018-2026"
    store = Store.open(tmp_path / "store")
    store.write(
        [
            parse(ft / "futures" / "SOL_USDT_USDT-1h-futures.feather"),
            parse(ft / "cvd" / "SOLUSDT_cvd_1h.feather"),
        ]
    )
    start = 1776643200 * 10**9  # 2026-04-20 00:00 UTC, the CVD file's first hour
    m = assemble(store, "SOL", start_ns=start - 86_400 * 10**9, end_ns=start + 86_400 * 10**9)
    assert m.sources["spot_volume"] == (
        "binance spot SOLUSDT taker flow: base volume × perp close (estimate)"
    )
    assert m.spot_volume_quote is not None
    raw = pl.from_arrow(feather.read_table(ft / "cvd" / "SOLUSDT_cvd_1h.feather"))
    assert isinstance(raw, pl.DataFrame)
    i = int(np.flatnonzero(m.ts == start)[0])
    assert m.spot_volume_quote[i] == raw.get_column("volume")[0] * m.close[i]
    assert np.isnan(m.spot_volume_quote[:i]).all()  # before the file: not available, not 0
