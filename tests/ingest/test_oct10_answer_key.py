"""The 2025-10-10 crash-window volume answer key against the volumes flushwatch computes.

The key (``shared/data/oct10-2025-crash-window-volume-by-market``, PROVENANCE.md) is USD volume
per market over 2025-10-10 21:09–22:00 UTC, Σ over 1-minute bars of (high+low)/2 × volume. It is
an answer key, not market data, so it stays out of the store (``import`` skips it) and is read
here with ``csv``. Only Binance linear USDT markets are compared (PROVENANCE: inverse and OKX
futures volumes may be contracts).

What flushwatch computes, on the freqtrade Binance files:

* the report's perp and spot volume of the 21:00 hour (``assemble``: base × close, labelled an
  estimate). The key's window is not that hour (it skips 21:00–21:08 and adds the 22:00
  minute) and prices at the bar mid, not the close, so levels differ by +9.5…+33 %; the
  **perp/spot ratio** the spot-vs-perp item reads agrees within 10 % (measured +1.6…+6.8 %).
* SOL and DOGE perps at 5 minutes (the 21:10…21:55 bars: 50 of the key's 52 minutes): the
  report's volume is within 6 % of the key (measured −1.2 % and −4.9 %; the close of a 5-minute
  bar in the crash is below its mid, and 21:09 and 22:00 are missing).
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from flushwatch.ingest.registry import parse
from flushwatch.report.assemble import assemble
from flushwatch.store import Store

KEY = "oct10-2025-crash-window-volume-by-market/all_exchanges_liq_window_volume_spot_futures.csv.gz"
FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
HOUR_21 = int(datetime(2025, 10, 10, 21, tzinfo=UTC).timestamp()) * 10**9
DAY = 86_400 * 10**9
BOTH = ("BTC", "ETH", "XRP", "LTC", "ADA", "BCH")  # perp and spot 1h files on 2025-10-10


def read_key(shared: Path) -> list[dict[str, str]]:
    with gzip.open(shared / KEY, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def binance_linear(rows: list[dict[str, str]]) -> dict[tuple[str, str], float]:
    """(ASSET, spot|futures) → USD volume of Binance's <asset>/USDT spot and USDT perpetual."""
    out = {}
    for r in rows:
        base = r["base"]
        if r["exchange"] == "Binance" and r["table"] in (
            f"binance_{base}_usdt_1m",
            f"binance_{base}_usdt:usdt_1m",
        ):
            out[(base.upper(), r["type"])] = float(r["usd_volume"])
    return out


@pytest.fixture(scope="module")
def store_1h(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("oct10") / "store")
    files = [shared_data / FT / "futures" / f"{a}_USDT_USDT-1h-futures.feather" for a in BOTH]
    files += [shared_data / FT / "spot" / f"{a}_USDT-1h.feather" for a in BOTH]
    store.write([parse(f) for f in files])
    return store


def test_the_key_reads_as_provenance_describes(shared_data: Path) -> None:
    rows = read_key(shared_data)
    assert len(rows) == 10_433
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["exchange"] == "Binance":
            totals[r["type"]] += float(r["usd_volume"])
    assert round(totals["futures"] / 1e9, 1) == 53.9  # "Binance futures $53.9 B vs spot $11.8 B"
    assert round(totals["spot"] / 1e9, 1) == 11.8
    key = binance_linear(rows)
    assert round(key[("BTC", "futures")] / 1e9, 1) == 13.2
    assert round(key[("BTC", "spot")] / 1e9, 2) == 2.38


@pytest.mark.parametrize("asset", BOTH)
def test_report_perp_spot_volume_ratio_matches_the_key(
    store_1h: Store, shared_data: Path, asset: str
) -> None:
    key = binance_linear(read_key(shared_data))
    m = assemble(store_1h, asset, start_ns=HOUR_21 - DAY, end_ns=HOUR_21 + DAY)
    assert m.volume_quote is not None
    assert m.spot_volume_quote is not None
    i = int(np.flatnonzero(m.ts == HOUR_21)[0])
    perp, spot = float(m.volume_quote[i]), float(m.spot_volume_quote[i])
    kperp, kspot = key[(asset, "futures")], key[(asset, "spot")]
    assert perp / spot == pytest.approx(kperp / kspot, rel=0.10)
    # the hour holds 51 of the window's 52 minutes plus 21:00–21:08: more, never much less
    assert 1.0 < perp / kperp < 1.35
    assert 1.0 < spot / kspot < 1.35


@pytest.mark.parametrize(("asset", "measured"), [("SOL", -0.012), ("DOGE", -0.049)])
def test_report_perp_volume_at_5m_matches_the_key_where_the_window_does(
    shared_data: Path, tmp_path: Path, asset: str, measured: float
) -> None:
    store = Store.open(tmp_path / "store")
    store.write([parse(shared_data / FT / "futures" / f"{asset}_USDT_USDT-5m-futures.feather")])
    start = HOUR_21 + 10 * 60 * 10**9  # 21:10 … the 21:55 bar closes at 22:00
    m = assemble(store, asset, start_ns=start - DAY, end_ns=HOUR_21 + DAY)
    assert m.step_s == 300
    assert m.volume_quote is not None
    inside = (m.ts >= start) & (m.ts < HOUR_21 + 3600 * 10**9)
    assert int(inside.sum()) == 10
    ours = float(m.volume_quote[inside].sum())
    key = binance_linear(read_key(shared_data))[(asset, "futures")]
    assert ours / key - 1 == pytest.approx(measured, abs=0.001)
    assert abs(ours / key - 1) < 0.06
