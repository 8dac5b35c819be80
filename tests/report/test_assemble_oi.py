"""Open interest comes from one series for the whole grid: the price venue's own, unless it
covers much less than another (three stray COIN-M samples must not beat a vendor series that
covers every bar: the map of the README's full store came out empty that way)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flushwatch.domain.records import Bar, OpenInterest
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.report.assemble import assemble
from flushwatch.store import Store

H = 3600 * 10**9
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z
BARS = 120


def _store(root: Path, own_rows: int) -> Store:
    store = Store.open(root)
    bars = [
        Bar(ts_event=T0 + i * H, exchange="binanceusdm", market="perp", symbol="BTCUSDT",
            price_kind="trade", interval_s=3600, open=100.0, high=101.0, low=99.0, close=100.0,
            volume_quote=1e6)
        for i in range(BARS)
    ]  # fmt: skip
    vendor = [
        OpenInterest(ts_event=T0 + i * H, exchange="vendor", market="perp", symbol="BTC",
                     oi_base=None, oi_quote=5e9)
        for i in range(BARS)
    ]  # fmt: skip
    own = [
        OpenInterest(ts_event=T0 + (BARS - own_rows + i) * H, exchange="binanceusdm",
                     market="perp", symbol="BTCUSDT", oi_base=1e5, oi_quote=None)
        for i in range(own_rows)
    ]  # fmt: skip
    src = root.parent / f"constructed-{own_rows}.txt"
    src.write_text("constructed bars and two open-interest series")
    p = Parsed(path=src, format="test")
    p.add(Bar, frame_from_records(Bar, bars, lines=range(1, BARS + 1)))
    rows = vendor + own
    p.add(OpenInterest, frame_from_records(OpenInterest, rows, lines=range(1, len(rows) + 1)))
    store.write([p])
    return store


@pytest.mark.parametrize(("own_rows", "winner"), [(3, "vendor"), (110, "binanceusdm")])
def test_oi_series_is_the_own_venue_unless_it_covers_much_less(
    tmp_path: Path, own_rows: int, winner: str
) -> None:
    m = assemble(_store(tmp_path / "store", own_rows), "BTC")
    assert m.sources["oi"].startswith(winner), m.sources["oi"]
    assert m.oi_quote is not None
    if winner == "vendor":
        assert np.isfinite(m.oi_quote).all()
        assert (m.oi_quote == 5e9).all()  # never stitched with the other venue's level
    else:
        # a sample stamped at a bar's close is that bar's state: one bar more than samples
        assert np.isfinite(m.oi_quote).sum() == own_rows + 1
