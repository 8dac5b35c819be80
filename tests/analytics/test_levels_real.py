"""Key levels on the real CoinGlass BTC 1h market around the 2026-02-05/06 flush.

Expected values are recomputed from the CSV rows
(``coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_...csv``): the flush bars are
2026-02-05 20:00 → 2026-02-06 00:00 (PROVENANCE: low 60,000 at 2026-02-06 00:00).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from flushwatch.analytics.levels import LevelParams, event_indices, key_levels, nearest_support
from flushwatch.analytics.results import FlushEvent
from flushwatch.testing.real import load_market

H_NS = 3600 * 10**9
CG = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def test_feb_flush_levels(shared_data: Path) -> None:
    with (shared_data / CG).open(newline="") as fh:
        rows = {int(r["timestamp"]) * 10**6: r for r in csv.DictReader(fh)}
    s, e = _ns("2026-02-05T20:00:00Z"), _ns("2026-02-06T00:00:00Z")
    pre = [rows[t] for t in range(s - 168 * H_NS, s, H_NS) if t in rows]
    post = [rows[t] for t in range(e + H_NS, e + 73 * H_NS, H_NS) if t in rows]
    flush_low = min(float(rows[t]["price_low"]) for t in range(s, e + H_NS, H_NS))
    assert flush_low == 60_000.0

    m = load_market("coinglass_btc_1h")
    ev = FlushEvent(
        start_ts=s, peak_ts=s, end_ts=e, kind="long_flush", detected_by="liquidations",
        score=1.0, liq_long_usd=None, liq_short_usd=None, liq_lower_bound=False,
        oi_before_quote=None, oi_after_quote=None, oi_drop_quote_pct=None, oi_drop_base_pct=None,
        price_open=65_265.66, price_close=63_509.39, price_low=flush_low, price_high=65_700.0,
        move_pct=-2.7, wick_pct=5.5, liq_to_oi_pct=None,
    )  # fmt: skip
    _, end = event_indices(m, ev)
    mm = m.slice(0, end + 73)
    levels = key_levels(mm, end, LevelParams(), ev)
    by_kind = {lv.kind: lv for lv in levels}

    # The 60,000 low: price never traded back within 1 % of it in the next 72 h.
    assert min(float(r["price_low"]) for r in post) > flush_low * 1.01
    assert (by_kind["flush_low"].role, by_kind["flush_low"].state) == ("support", "not_tested")
    # Prior high/low = extremes of the 168 h before the event start.
    assert by_kind["prior_high"].price == max(float(r["price_high"]) for r in pre)
    close_end = float(rows[e]["price_close"])
    support = nearest_support(levels, close_end)
    assert support is not None
    assert support.price < close_end
