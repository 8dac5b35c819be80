"""The flush detector's own scorecard: recall and precision against notable clusters.

A **notable hour** is defined from the raw liquidation buckets alone, never from the
detector (issue 12): one side's liquidations are at least ``min_usd`` (USD 20M) and at least
``min_ratio`` (10) times that side's median over the trailing ``baseline_hours`` (7 days,
strictly before the hour). Adjacent notable hours form one **cluster**.

* a cluster is *found* when an event's ``[start_ts, end_ts]`` overlaps it;
* ``recall`` = clusters found / clusters;
* ``precision`` = share of the flushes judged on liquidations (on bars the liquidation series
  covers) that contain a notable hour: every flush, re-flares too, so an episode cannot hide
  a flush that found nothing. Price/volume flushes outside that coverage cannot be checked
  against liquidations, so they are counted but not judged;
* ``events`` and ``events_per_year`` count **episodes** (a flush and its re-flares within
  ``FlushParams.episode_gap_hours``, :func:`flushwatch.analytics.flushes.episodes`): the unit
  the scorecard judges and issue 12's cap of 40 an asset-year applies to. ``flushes`` and
  ``flushes_per_year`` count every burst.

Without a liquidation series both are ``None`` ("not available"): nothing is invented.
Buckets coarser than the grid (``MarketSeries.liq_interval_s``) are judged bucket by bucket
(a 4-hour bucket cannot be split into hours), and a notable bucket covers all its bars.
The USD threshold is absolute on purpose: it is the issue's yardstick for BTC, not a rule
of the detector (which must stay scale-free).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.flushes import (
    bucket_bars,
    fill_bucket,
    liquidation_coverage,
    trailing_median,
)
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import FlushEvent
from flushwatch.domain.time import iso

DetectedBy = Literal["liquidations", "price_volume", "mixed", "none"]


class CardParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What makes an hour notable (issue 12's definition)."""

    min_usd: Annotated[
        float, msgspec.Meta(ge=0, description="One side's liquidations in the hour, USD.")
    ] = 20e6
    min_ratio: Annotated[
        float,
        msgspec.Meta(gt=0, description="And at least this × that side's trailing median."),
    ] = 10.0
    baseline_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Trailing window of the median (7 days).")
    ] = 168.0
    max_events_per_year: Annotated[
        int, msgspec.Meta(gt=0, description="Issue 12's cap on events per asset and year.")
    ] = 40


class DetectorCard(msgspec.Struct, frozen=True, kw_only=True):
    """Recall, precision and event rate of the detector on one market."""

    asset: str
    #: Notable clusters in the liquidation series (0 without one).
    clusters: int
    clusters_found: int
    #: clusters_found / clusters; None without a liquidation series or without clusters.
    recall: float | None
    #: Episodes (a flush and its re-flares), whatever found them.
    events: int
    #: Every flush, re-flares included.
    flushes: int
    #: Flushes on bars the liquidation series covers (the ones precision judges).
    flushes_judged: int
    flushes_with_notable: int
    #: flushes_with_notable / flushes_judged; None when no flush could be judged.
    precision: float | None
    max_events_per_year: int
    #: Episodes per UTC calendar year of their opening flush's start ("2026" → 39).
    events_per_year: dict[str, int]
    #: Flushes per UTC calendar year of their start ("2026" → 58).
    flushes_per_year: dict[str, int]
    detected_by: DetectedBy
    #: Start of each cluster no event overlaps (ISO UTC), to look at.
    missed: list[str]
    #: Why a number is not available, in words.
    notes: list[str]


def notable_bars(m: MarketSeries, p: CardParams | None = None) -> np.ndarray:
    """Boolean per bar: the bar (or the coarse bucket it belongs to) is notable."""
    p = p or CardParams()
    out = np.zeros(m.n, dtype=bool)
    if m.liq_long is None or m.liq_short is None or m.n == 0:
        return out
    window = max(1, hours_to_bars(p.baseline_hours, m.step_s))
    finite = np.isfinite(m.liq_long) & np.isfinite(m.liq_short)
    for side in (m.liq_long, m.liq_short):
        x = np.asarray(side, dtype=np.float64)
        med = trailing_median(x, window, 1)  # strictly before the bar; NaN with no history
        with np.errstate(invalid="ignore"):
            out |= finite & (x >= p.min_usd) & (x >= p.min_ratio * med)
    return fill_bucket(out, finite, bucket_bars(m))


def clusters_of(notable: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` bar of each run of adjacent notable bars."""
    edges = np.diff(np.concatenate(([0], notable.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _detected_by(events: Sequence[FlushEvent]) -> DetectedBy:
    kinds = {e.detected_by for e in events}
    if not kinds:
        return "none"
    if len(kinds) > 1:
        return "mixed"
    return "liquidations" if kinds == {"liquidations"} else "price_volume"


def _cap_notes(
    m: MarketSeries, clusters: list[tuple[int, int]], per_year: Counter[str], p: CardParams
) -> list[str]:
    """Why a year holds more events than the cap, in numbers: the clusters to be found.

    Recall counts clusters; when they fall on more UTC days than the cap allows episodes,
    only a longer ``episode_gap_hours`` can meet both.
    """
    out = []
    for year, n in sorted(per_year.items()):
        if n <= p.max_events_per_year:
            continue
        starts = [iso(int(m.ts[cs])) for cs, _ in clusters if iso(int(m.ts[cs])).startswith(year)]
        days = len({t[:10] for t in starts})
        out.append(
            f"{year}: {n} episodes, over the cap of {p.max_events_per_year} a year; the "
            f"liquidations hold {len(starts)} notable clusters on {days} UTC days that year, "
            "so finding 90% of them takes more episodes than the cap unless re-flares further "
            "apart join one (flush.episode_gap_hours)"
        )
    return out


def detector_card(
    m: MarketSeries, events: Sequence[FlushEvent], p: CardParams | None = None
) -> DetectorCard:
    """Score ``events`` (the detector's output on ``m``) against the notable clusters of ``m``.

    Examples
    --------
    >>> import numpy as np
    >>> from flushwatch.analytics.flushes import detect_flushes
    >>> from flushwatch.analytics.market import MarketSeries
    >>> n = 300
    >>> liq = np.full(n, 1e5)
    >>> liq[250] = 5e7
    >>> px = np.full(n, 100.0)
    >>> m = MarketSeries(asset="BTC", sources={}, ts=np.arange(n, dtype=np.int64) * 3600 * 10**9,
    ...     step_s=3600, open=px, high=px + 1, low=px - 1, close=px,
    ...     liq_long=liq, liq_short=np.zeros(n))
    >>> card = detector_card(m, detect_flushes(m))
    >>> card.clusters, card.recall, card.precision, card.detected_by
    (1, 1.0, 1.0, 'liquidations')
    """
    notable = notable_bars(m, p)
    clusters = clusters_of(notable)
    covered = liquidation_coverage(m)
    has_liq = bool(covered.any())
    spans = [
        (
            int(np.searchsorted(m.ts, e.start_ts, side="left")),
            int(np.searchsorted(m.ts, e.end_ts, side="right")) - 1,
        )
        for e in events
    ]
    found = [any(s <= ce and e >= cs for s, e in spans) for cs, ce in clusters]
    judged = [(s, e) for s, e in spans if has_liq and e >= s and covered[s : e + 1].all()]
    with_notable = sum(bool(notable[s : e + 1].any()) for s, e in judged)
    per_year = Counter(iso(e.start_ts)[:4] for e in events if e.episode_flush == 1)
    notes = []
    if not has_liq:
        notes.append("recall and precision not available: no liquidation series for this market")
    elif not clusters:
        notes.append("recall not available: no notable cluster in the liquidation series")
    if has_liq and not judged:
        notes.append("precision not available: no event on bars the liquidations cover")
    notes += _cap_notes(m, clusters, per_year, p or CardParams())
    return DetectorCard(
        asset=m.asset,
        clusters=len(clusters),
        clusters_found=sum(found),
        recall=sum(found) / len(clusters) if has_liq and clusters else None,
        events=sum(per_year.values()),
        flushes=len(events),
        flushes_judged=len(judged),
        flushes_with_notable=with_notable,
        precision=with_notable / len(judged) if judged else None,
        max_events_per_year=max(per_year.values(), default=0),
        events_per_year=dict(sorted(per_year.items())),
        flushes_per_year=dict(sorted(Counter(iso(e.start_ts)[:4] for e in events).items())),
        detected_by=_detected_by(events),
        missed=[iso(int(m.ts[cs])) for (cs, _), f in zip(clusters, found, strict=True) if not f],
        notes=notes,
    )
