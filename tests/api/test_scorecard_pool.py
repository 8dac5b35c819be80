"""Pooled odds (issue 12): assets with a year of history are scored from every asset's flushes.

Kernels on constructed rows (the shrinkage and the fallback by hand), then eight Binance perps
of the freqtrade folder with one year of hourly bars and funding each (2025-05 → 2026-05,
four to six flushes apiece: none has the ten resolved flushes a base rate of its own needs).
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

import flushwatch
from flushwatch.analytics.outcomes import EventRow, OutcomeParams
from flushwatch.analytics.probability import odds_sentence, prior_strength, walk_forward
from flushwatch.analytics.results import Probability
from flushwatch.api import Workspace
from flushwatch.cli.app import app
from flushwatch.config import ReportConfig
from flushwatch.domain.time import parse_iso
from flushwatch.report import odds
from flushwatch.testing.cut_copy import copy_cut

DAY = 86_400 * 10**9
FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
ASSETS = ("AAVE", "ALGO", "ARB", "AVAX", "DOT", "LINK", "NEAR", "WLD")
FILES = tuple(
    (FT, f"futures/{a}_USDT_USDT-1h-{kind}.feather", "date")
    for a in ASSETS
    for kind in ("futures", "funding_rate")
)
AT = "2026-03-01T00:00Z"


# -- kernels on constructed rows ---------------------------------------------------------------


def _row(asset: str, i: int, y: float, size: float = 0.0) -> EventRow:
    """Event ``i`` of ``asset`` judged on day ``i``, its outcome known a day later."""
    return EventRow(
        asset=asset, start_ts=i * DAY - 7200 * 10**9, end_ts=i * DAY - 3600 * 10**9,
        judge_ts=i * DAY, direction=-1, kind="long_flush", features={"size": size}, p_rw={},
        outcomes={"up_1d": y}, resolved_ts={"up_1d": (i + 1) * DAY},
    )  # fmt: skip


def test_prior_strength_by_hand() -> None:
    # rates 0.2 and 0.6 on 10 events each: m = 0.4, Σn(r−m)² = 0.8, (A−1)m(1−m) = 0.24,
    # N − Σn²/N = 10 → τ² = 0.056, κ = 0.24 / 0.056 − 1
    assert prior_strength(np.array([2.0, 6.0]), np.array([10.0, 10.0])) == pytest.approx(
        0.24 / 0.056 - 1
    )
    assert prior_strength(np.array([3.0]), np.array([10.0])) == 1000.0  # one asset: no spread


def test_base_rate_is_pooled_then_shrunk_toward_the_pool() -> None:
    p = OutcomeParams(min_base=3, min_train=100)
    a = [_row("A", i, 1.0 if i % 5 else 0.0) for i in range(1, 11)]  # 8 of 10
    b = [_row("B", i, 1.0 if i % 5 == 0 else 0.0) for i in range(1, 11)]  # 2 of 10
    c_first = _row("C", 12, math.nan)
    hist = [*a, *b, c_first]
    (first,) = [s.prob for s in walk_forward(hist, [c_first], "up_1d", p)]
    assert first.rate_source == "pooled"
    assert first.base_rate == pytest.approx(11 / 22)  # (10 + 1) / (20 + 2)
    (alone,) = [s.prob for s in walk_forward(a, [_row("A", 12, math.nan)], "up_1d", p)]
    assert alone.rate_source == "own"
    assert alone.base_rate == pytest.approx(9 / 12)
    (shrunk,) = [s.prob for s in walk_forward([*a, *b], [_row("A", 12, math.nan)], "up_1d", p)]
    kappa = prior_strength(np.array([8.0, 2.0]), np.array([10.0, 10.0]))
    assert shrunk.rate_source == "shrunk"
    assert shrunk.base_rate == pytest.approx((8 + kappa * 11 / 22) / (10 + kappa))
    assert 11 / 22 < shrunk.base_rate < 0.8  # between the pool and A's own share


def test_model_falls_back_to_the_base_rate_when_its_record_is_worse() -> None:
    """``size`` predicts the outcome for 30 days, then the opposite: the model keeps betting
    on the old relation, its walk-forward record turns worse than the base rate, and from
    then on the event gets the base rate, said so by ``fell_back``."""
    p = OutcomeParams(min_base=5, min_train=10)
    rows = []
    for i in range(1, 61):
        size = 1.0 if i % 2 else -1.0
        y = float(size > 0) if i <= 30 else float(size < 0)
        rows.append(_row("A", i, y, size))
    probs = [s.prob for s in walk_forward(rows, rows, "up_1d", p)]
    fell = [i for i, q in enumerate(probs, start=1) if q.fell_back]
    assert fell
    assert min(fell) > 31  # never while the model was right
    for i in fell:
        q = probs[i - 1]
        assert q.p == q.base_rate
        assert q.method == "base_rate"
    assert probs[20].method == "model"
    assert not probs[20].fell_back


def test_footnote_says_which_base_rate_and_where_the_model_fell_back() -> None:
    model = Probability(p=0.3, base_rate=0.4, n_train=50, method="model", rate_source="shrunk")
    back = Probability(
        p=0.55, base_rate=0.55, n_train=50, method="base_rate", rate_source="pooled",
        fell_back=True, track_n=40, beats_base_rate=False,
    )  # fmt: skip
    text = odds.footnote({"new_extreme_1d": model, "up_1d": back})
    assert text.startswith(
        "Estimates, walk-forward from earlier flushes resolved by the as-of time (method: base "
        "rate, model; base rate: all assets' (none of this one's yet), this asset's, shrunk "
        "toward all assets')."
    )
    assert "did worse than the base rate on past flushes, so the base rate is shown: up_1d." in text
    line = odds_sentence({"new_extreme_3d": msgspec.structs.replace(back, p=0.4, base_rate=0.4)})
    assert line is not None
    assert "so it is the base rate; no better than the base rate on 40 scored past flushes" in line


# -- real data: eight one-year perps -------------------------------------------------------------


def _store(shared: Path, base: Path, cut_ms: int | None) -> Workspace:
    copy_cut(shared, base / "files", FILES, cut_ms)
    r = CliRunner().invoke(app, ["import", "--store", str(base / "store"), str(base / "files")])
    assert r.exit_code == 0, r.stderr
    return flushwatch.open(base / "store")


@pytest.fixture(scope="module")
def full(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return _store(shared_data, tmp_path_factory.mktemp("pool_full"), None)


@pytest.fixture(scope="module")
def card(full: Workspace) -> dict:
    return full.scorecard(at=AT).to_dict()


def test_pool_scores_assets_too_short_to_score_alone(full: Workspace, card: dict) -> None:
    alone = full.scorecard(at=AT, config=ReportConfig(outcomes=OutcomeParams(pool=False)))
    assert alone.events_scored == 0  # four to six flushes each: no base rate of their own
    assert card["events_scored"] == 25
    scored = {a["asset"]: a["events_scored"] for a in card["per_asset"]}
    assert scored == {
        "AAVE": 3, "ALGO": 2, "ARB": 3, "AVAX": 3, "DOT": 3, "LINK": 3, "NEAR": 4, "WLD": 4
    }  # fmt: skip
    probs = [pr for e in card["events"] for pr in e["probabilities"].values() if pr["p"]]
    assert {pr["rate_source"] for pr in probs} == {"shrunk"}  # each had a flush of its own
    up = card["outcomes"]["up_1d"]
    assert (up["n"], up["n_model"], up["n_fell_back"], up["rate_sources"]) == (
        25, 8, 0, {"shrunk": 25}
    )  # fmt: skip


def test_html_names_the_base_rates_and_fallbacks(full: Workspace) -> None:
    text = full.scorecard(at=AT).html()
    assert "Which base rate each estimate stood beside" in text
    assert "up_1d: base rate shrunk 25 (own: the asset&#x27;s flushes;" in text
    assert "model on 8, fell back to the base rate on 0" in text


def test_pooled_scorecard_is_the_same_with_or_without_later_data(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory, card: dict
) -> None:
    cut = _store(shared_data, tmp_path_factory.mktemp("pool_cut"), parse_iso(AT) // 10**6)
    assert cut.scorecard(at=AT).to_dict() == card
    assert all(e["judge_ts"] <= parse_iso(AT) for e in card["events"])


def test_report_at_judging_time_gives_the_pooled_odds(full: Workspace, card: dict) -> None:
    """The report pools the other assets' flushes known then: the scorecard's numbers."""
    matched = set()
    for e in reversed(card["events"]):
        if e["asset"] in matched or not any(p["p"] for p in e["probabilities"].values()):
            continue
        report = full.report(e["asset"], at=e["judge_ts"])
        focus = report.report.focus
        if focus is None or focus.start_ts != parse_iso(e["start"]):
            continue
        probs = report.report.verdict.probabilities
        for oid, want in e["probabilities"].items():
            got = probs[oid]
            assert (got.p, got.base_rate, got.method) == (
                want["p"],
                want["base_rate"],
                want["method"],
            )
            assert got.rate_source == want["rate_source"]
            assert got.fell_back == want["fell_back"]
        matched.add(e["asset"])
        if len(matched) == 2:
            break
    assert len(matched) == 2
