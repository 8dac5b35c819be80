"""The detector's card: notable clusters from the raw buckets, recall, precision, rates."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from flushwatch.analytics.detector_card import (
    CardParams,
    clusters_of,
    detector_card,
    notable_bars,
)
from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import FlushEvent

H = 3600 * 10**9
N = 400


def _market(long: F64 | None, short: F64 | None, n: int = N) -> MarketSeries:
    px = np.full(n, 100.0)
    return MarketSeries(
        asset="BTC",
        sources={},
        ts=np.arange(n, dtype=np.int64) * H,
        step_s=3600,
        open=px,
        high=px + 0.5,
        low=px - 0.5,
        close=px,
        liq_long=long,
        liq_short=short,
    )


def _quiet() -> tuple[F64, F64]:
    return np.full(N, 1e6), np.full(N, 1e5)


def _event(start: int, end: int, by: str = "liquidations", year_ns: int = 0) -> FlushEvent:
    return FlushEvent(
        start_ts=year_ns + start * H, peak_ts=year_ns + start * H, end_ts=year_ns + end * H,
        kind="long_flush", detected_by=by,  # type: ignore[arg-type]
        score=5.0, liq_long_usd=None, liq_short_usd=None, liq_lower_bound=False,
        oi_before_quote=None, oi_after_quote=None, oi_drop_quote_pct=None,
        oi_drop_base_pct=None, price_open=100.0, price_close=99.0, price_low=98.0,
        price_high=100.0, move_pct=-1.0, wick_pct=1.0, liq_to_oi_pct=None,
    )  # fmt: skip


def test_notable_hour_thresholds_pinned() -> None:
    long, short = _quiet()
    long[200] = 20e6  # ≥ $20M and 20× the long median of $1M
    long[250] = 19.99e6  # under $20M
    short[300] = 20e6  # shorts: 200× their own $0.1M median (the total barely doubles)
    long[350] = 20e6
    long[340:350] = 2.1e6  # ten busy hours do not move a 168-hour median...
    notable = notable_bars(_market(long, short))
    assert np.flatnonzero(notable).tolist() == [200, 300, 350]
    long[182:350] = 2.1e6  # ...a week of them does: 20M < 10 × 2.1M
    assert np.flatnonzero(notable_bars(_market(long, short))).tolist() == [300]


def test_median_is_strictly_before_the_hour() -> None:
    long, short = _quiet()
    long[100:] = 20e6  # from bar 100 on, every hour is $20M
    notable = notable_bars(_market(long, short))
    # Bar 100 is judged against 1M hours only. Bar 183's week holds 83 hours of 20M and 85 of
    # 1M (median 1M): notable. Bar 184's holds 84 and 84 (median 10.5M): 20M < 105M.
    assert np.flatnonzero(notable).tolist() == list(range(100, 184))


def test_adjacent_notable_hours_are_one_cluster() -> None:
    flags = np.zeros(20, dtype=bool)
    flags[[3, 4, 5, 9, 11, 12]] = True
    assert clusters_of(flags) == [(3, 5), (9, 9), (11, 12)]


def test_recall_precision_and_rates_exact() -> None:
    long, short = _quiet()
    long[[100, 101, 200, 300]] = 30e6  # clusters (100–101), (200), (300)
    m = _market(long, short)
    events = [_event(99, 100), _event(150, 152), _event(300, 302)]
    card = detector_card(m, events)
    assert (card.clusters, card.clusters_found) == (3, 2)
    assert card.recall == pytest.approx(2 / 3)
    assert (card.events, card.flushes_judged, card.flushes_with_notable) == (3, 3, 2)
    assert card.precision == pytest.approx(2 / 3)
    assert card.events_per_year == {"1970": 3}
    assert card.max_events_per_year == 3
    assert card.detected_by == "liquidations"
    assert card.missed == ["1970-01-09T08:00:00Z"]  # bar 200
    assert card.notes == []


def test_without_liquidations_nothing_is_invented() -> None:
    m = _market(None, None)
    events = [_event(10, 12, "price_volume"), _event(20, 21, "price_volume")]
    card = detector_card(m, events)
    assert card.recall is None
    assert card.precision is None
    assert (card.clusters, card.events, card.flushes_judged) == (0, 2, 0)
    assert card.detected_by == "price_volume"
    assert card.notes == [
        "recall and precision not available: no liquidation series for this market"
    ]


def test_mixed_coverage_judges_only_covered_events() -> None:
    long, short = _quiet()
    long[:150] = np.nan
    short[:150] = np.nan
    long[300] = 30e6
    m = _market(long, short)
    events = [_event(50, 52, "price_volume"), _event(300, 300)]
    card = detector_card(m, events)
    assert card.detected_by == "mixed"
    assert (card.events, card.flushes_judged, card.flushes_with_notable) == (2, 1, 1)
    assert card.precision == 1.0
    assert card.recall == 1.0


def test_events_per_year_by_start() -> None:
    y2021 = 1_609_459_200 * 10**9
    y2022 = 1_640_995_200 * 10**9
    events = [_event(0, 1, year_ns=y2021), _event(5, 6, year_ns=y2021), _event(0, 1, year_ns=y2022)]
    card = detector_card(_market(None, None), events)
    assert card.events_per_year == {"2021": 2, "2022": 1}
    assert card.max_events_per_year == 2
    # a flush a day after another re-flares its episode: counted as a flush, not an event
    from flushwatch.analytics.flushes import episodes

    spaced = [_event(0, 1, year_ns=y2021), _event(40, 41, year_ns=y2021)]  # 39 h apart
    chained = episodes([*spaced, _event(0, 1, year_ns=y2022), _event(10, 11, year_ns=y2022)], 24)
    card = detector_card(_market(None, None), chained)
    assert [e.episode_flush for e in chained] == [1, 1, 1, 2]  # the last starts 9 h after one
    assert chained[3].episode_start_ts == y2022
    assert card.events_per_year == {"2021": 2, "2022": 1}
    assert card.flushes_per_year == {"2021": 2, "2022": 2}
    assert (card.events, card.flushes) == (3, 4)
    empty = detector_card(_market(None, None), [])
    assert (empty.max_events_per_year, empty.detected_by) == (0, "none")


def test_coarse_buckets_are_judged_whole() -> None:
    closes = (np.arange(N) + 1) % 4 == 0
    long = np.where(closes, 4e6, np.nan)
    long[303] = 80e6  # the bucket of bars 300–303
    m = msgspec.structs.replace(
        _market(long, np.where(closes, 0.0, np.nan)), liq_interval_s=4 * 3600
    )
    assert clusters_of(notable_bars(m)) == [(300, 303)]
    card = detector_card(m, detect_flushes(m))
    assert (card.clusters, card.clusters_found, card.precision) == (1, 1, 1.0)


def test_params_reject_unknown_keys() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"min_usdd": 1.0}, CardParams)


def test_coinglass_btc_hourly_recall_precision_and_cap(shared_data: Path) -> None:
    """Issue 12's done-when on the real file: recall ≥ 90 %, ≥ 90 % of flushes notable, and
    no asset-year over 40 episodes (a flush and its re-flares within a day)."""
    from flushwatch.testing.real import load_market

    m = load_market("coinglass_btc_1h")
    card = detector_card(m, detect_flushes(m))
    assert card.clusters == 70  # an hour ≥ $20M and ≥ 10× its side's 7-day median
    assert (card.clusters_found, card.flushes_judged, card.flushes_with_notable) == (65, 61, 56)
    assert card.recall is not None
    assert card.recall >= 0.9
    assert card.precision is not None
    assert card.precision >= 0.9
    assert card.detected_by == "liquidations"
    assert card.flushes_per_year == {"2025": 3, "2026": 58}
    assert card.events_per_year == {"2025": 3, "2026": 39}
    assert card.max_events_per_year <= CardParams().max_events_per_year
    assert card.notes == []


def test_coinglass_btc_without_episodes_is_over_the_cap_and_says_why(shared_data: Path) -> None:
    """Every flush its own episode: the same flushes, 58 in 2026, and the card says why."""
    from flushwatch.analytics.flushes import FlushParams
    from flushwatch.testing.real import load_market

    m = load_market("coinglass_btc_1h")
    apart = msgspec.structs.replace(FlushParams(), episode_gap_hours=0.0)
    card = detector_card(m, detect_flushes(m, apart))
    assert (card.clusters_found, card.flushes_judged, card.flushes_with_notable) == (65, 61, 56)
    assert card.events_per_year == card.flushes_per_year == {"2025": 3, "2026": 58}
    assert card.notes == [
        "2026: 58 episodes, over the cap of 40 a year; the liquidations hold 65 notable "
        "clusters on 54 UTC days that year, so finding 90% of them takes more episodes than "
        "the cap unless re-flares further apart join one (flush.episode_gap_hours)"
    ]
