"""Real markets from ``../shared/data``, imported through the real importers into a
temporary store and assembled exactly as ``flushwatch report`` does.

Used by analytics tests and benchmarks so that "real-data" findings are asserted on the
product's own path (import → store → assemble), never on a parallel CSV reader.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.analytics.market import MarketSeries
from flushwatch.ingest.registry import parse
from flushwatch.report.assemble import assemble
from flushwatch.store import Store
from flushwatch.testing.shared import data_path

if TYPE_CHECKING:
    from flushwatch.report.model import FlushReport

#: name → (files under <shared>/data, asset, exchange of the price series, step seconds)
MARKETS: dict[str, tuple[tuple[str, ...], str, str | None, int | None]] = {
    "coinglass_btc_1h": (
        ("coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv",),
        "BTC",
        None,
        3600,
    ),
    "coinglass_btc_5m": (
        ("coinglass-btc-liq-oi-funding-2025-2026/btc_regime_binance_5m_2026-06-07_2026-06-22.csv",),
        "BTC",
        None,
        300,
    ),
    "xrp_2021": (
        (
            "freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-8h-mark.csv",
            "freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-8h-funding_rate.csv",
        ),
        "XRP",
        None,
        None,
    ),
    "okx_btc_2025": (
        ("okx-btc-spot-perp-basis-hourly-2025/okx_btc_spot_vs_swap_hourly_utc.csv",),
        "BTC",
        None,
        3600,
    ),
}


_TMP = tempfile.TemporaryDirectory(prefix="flushwatch-real-")  # removed when the process exits


@cache
def store_for(files: tuple[str, ...]) -> Store:
    """A temporary store holding exactly ``files`` (cached per process)."""
    root = Path(tempfile.mkdtemp(dir=_TMP.name)) / "store"
    store = Store.open(root)
    store.write([parse(data_path(*f.split("/"))) for f in files])
    return store


def load_market(name: str) -> MarketSeries:
    """Return the named real market (see :data:`MARKETS`)."""
    files, asset, exchange, step = MARKETS[name]
    return assemble(store_for(files), asset, exchange=exchange, step_s=step)


def report_as_of(
    store: Store, asset: str, at: str, **kwargs: Any
) -> tuple[FlushReport, MarketSeries]:
    """The report of ``asset`` as of the ISO time ``at``, read as ``flushwatch.api`` reads."""
    from flushwatch.domain.time import parse_iso
    from flushwatch.report.build import build_report
    from flushwatch.store.asof import AsOfStore

    at_ns = parse_iso(at)
    return build_report(AsOfStore(store, at_ns), asset, as_of_ns=at_ns, **kwargs)
