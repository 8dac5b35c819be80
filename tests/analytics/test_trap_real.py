"""Trap flags on CoinGlass hourly BTC (Dec 2025 – Jun 2026): what the data shows.

Numbers quoted in comments were read from
``coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.trap import backtest_flags, trap_flags, trap_state
from flushwatch.domain.time import parse_iso


@pytest.fixture(scope="module")
def market(shared_data: Path) -> MarketSeries:
    from flushwatch.testing.real import load_market

    return load_market("coinglass_btc_1h")


def test_flags_at_the_february_peak_hour(market: MarketSeries) -> None:
    flags = {f.name: f for f in trap_flags(market, parse_iso("2026-02-05T20:00:00Z"))}
    # OI had already fallen for a week (CSV oi_close ≈ $9.1B mid-Jan → $6.0B): not elevated
    oi = flags["oi_elevated"]
    assert oi.value is not None
    assert not oi.fired
    # funding was negative during the flush (CSV funding −0.0039 %, the hour's open/close)
    assert not flags["funding_overheated"].fired
    assert all(f.sentence for f in flags.values())


def test_backtest_crowding_preceded_long_flushes_more_than_by_chance(
    market: MarketSeries,
) -> None:
    events = [e for e in detect_flushes(market) if e.kind == "long_flush"]
    state = trap_state(market)
    assert set(state) == {"oi_elevated", "funding_overheated", "crowded_above_level"}
    rows = {r.name: r for r in backtest_flags(events, state, market.ts, market.step_s, 6.0)}
    crowded = rows["crowded_above_level"]
    assert crowded.hit_rate is not None
    assert crowded.base_rate is not None
    # found when this was written: 17 of 26 long flushes (65 %) had price within 1 % above a
    # support in the 6 h before, against 37 % of all 6 h windows
    assert crowded.hit_rate > crowded.base_rate
