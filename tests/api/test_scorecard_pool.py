"""Pooled odds (issue 12): assets with a year of history are scored from every asset's flushes.

Kernels on constructed rows (the shrinkage and the fallback by hand), then eight Binance perps
of the freqtrade folder with one year of hourly bars and funding each (2025-05 → 2026-05,
four to six flushes apiece: none has the ten resolved flushes a base rate of its own needs).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest

import flushwatch
from flushwatch.analytics.outcomes import EventRow, OutcomeParams
from flushwatch.analytics.pooling import choose_pool, volume_window
from flushwatch.analytics.probability import odds_sentence, prior_strength, walk_forward
from flushwatch.analytics.results import Probability
from flushwatch.api import Workspace
from flushwatch.config import ReportConfig, load_config
from flushwatch.domain.time import parse_iso
from flushwatch.errors import ConfigError
from flushwatch.report import odds
from flushwatch.report.pool import RAW_MEMO, memo_clear, memo_stats, trailing_volumes
from flushwatch.testing.cut_copy import CutImport

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


@pytest.fixture(scope="module")
def full(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return flushwatch.open(cut_import(tmp_path_factory.mktemp("pool_full"), FILES, None))


@pytest.fixture(scope="module")
def card(full: Workspace) -> dict:
    return full.scorecard(at=AT).to_dict()


def test_pool_scores_assets_too_short_to_score_alone(full: Workspace, card: dict) -> None:
    alone = full.scorecard(at=AT, config=ReportConfig(outcomes=OutcomeParams(pool=False)))
    assert alone.events_scored == 0  # four to six flushes each: no base rate of their own
    assert card["events_scored"] == 24  # episodes: one of NEAR's flushes re-flares the one before
    scored = {a["asset"]: a["events_scored"] for a in card["per_asset"]}
    assert scored == {
        "AAVE": 3, "ALGO": 2, "ARB": 3, "AVAX": 3, "DOT": 3, "LINK": 3, "NEAR": 3, "WLD": 4
    }  # fmt: skip
    probs = [pr for e in card["events"] for pr in e["probabilities"].values() if pr["p"]]
    assert {pr["rate_source"] for pr in probs} == {"shrunk"}  # each had a flush of its own
    up = card["outcomes"]["up_1d"]
    assert (up["n"], up["n_model"], up["n_fell_back"], up["rate_sources"]) == (
        24, 8, 0, {"shrunk": 24}
    )  # fmt: skip


def test_html_names_the_base_rates_and_fallbacks(full: Workspace) -> None:
    text = full.scorecard(at=AT).html()
    assert "Which base rate each estimate stood beside" in text
    assert "up_1d: base rate shrunk 24 (own: the asset&#x27;s flushes;" in text
    assert "model on 8, fell back to the base rate on 0" in text


@pytest.fixture(scope="module")
def cut(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The same files cut at ``AT``: nothing after it exists."""
    base = tmp_path_factory.mktemp("pool_cut")
    return flushwatch.open(cut_import(base, FILES, parse_iso(AT) // 10**6))


def test_pooled_scorecard_is_the_same_with_or_without_later_data(
    cut: Workspace, card: dict
) -> None:
    assert cut.scorecard(at=AT).to_dict() == card
    assert all(e["judge_ts"] <= parse_iso(AT) for e in card["events"])


def test_report_at_judging_time_gives_the_pooled_odds(full: Workspace, card: dict) -> None:
    """The report pools the other assets' flushes known then: the scorecard's numbers."""
    _reports_match(full, card, ReportConfig())


def _reports_match(ws: Workspace, card: dict, cfg: ReportConfig, *, assets: int = 2) -> int:
    """The latest scored flush of ``assets`` assets (0: every scored flush): the report at its
    judging time says the same; returns how many flushes were compared."""
    matched: set[str] = set()
    compared = 0
    for e in reversed(card["events"]):
        if not any(p["p"] for p in e["probabilities"].values()):
            continue
        if assets and e["asset"] in matched:
            continue
        report = ws.report(e["asset"], at=e["judge_ts"], config=cfg)
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
        compared += 1
        if assets and len(matched) == assets:
            break
    assert len(matched) == assets or not assets
    return compared


# -- the bounded pool (issue 16): the asset and its K most-traded peers ---------------------------

K2 = ReportConfig(outcomes=OutcomeParams(pool_size=2))


def test_choose_pool_by_volume_ties_by_name_without_untraded() -> None:
    vols = {"A": 5.0, "B": 7.0, "C": 5.0, "D": 0.0, "E": 1.0}
    assert choose_pool(vols, "E", 2) == ("A", "B", "E")  # A and C tie: by name
    assert choose_pool(vols, "B", 2) == ("A", "B", "C")  # the asset itself is not counted
    assert choose_pool(vols, "D", 9) == ("A", "B", "C", "D", "E")  # untraded: only itself
    assert choose_pool({}, "X", 3) == ("X",)
    assert volume_window(parse_iso("2026-03-01T00:00Z")) == volume_window(
        parse_iso("2026-03-31T23:59Z")
    ) == (parse_iso("2026-01-30T00:00Z"), parse_iso("2026-03-01T00:00Z"))  # fmt: skip


def test_ranking_volume_is_base_volume_times_close_from_the_files(
    full: Workspace, shared_data: Path
) -> None:
    """freqtrade bars carry base volume only: the ranking sums volume × close of the 30 days
    of hourly bars opened 2026-01-30 00:00 to 2026-02-28 23:00 (closed by 2026-03-01)."""
    assert trailing_volumes(full._store, parse_iso("2025-05-20T00:00Z")) == {}  # April: no bars
    got = trailing_volumes(full._store, parse_iso("2026-03-15T12:00Z"))
    assert sorted(got) == sorted(ASSETS)
    lo, hi = volume_window(parse_iso(AT))
    for asset in ASSETS:
        raw = pl.read_ipc(shared_data / FT / "futures" / f"{asset}_USDT_USDT-1h-futures.feather")
        ns = raw.get_column("date").dt.epoch("ns")
        win = raw.filter((ns >= lo) & (ns + 3600 * 10**9 <= hi))
        assert win.height == 720
        want = float((win.get_column("volume") * win.get_column("close")).sum())
        assert got[asset] == pytest.approx(want, rel=1e-12)
    # the Feb 2026 ranking of the eight: what a pool of 2 picks for ALGO and for LINK
    assert choose_pool(got, "ALGO", 2) == ("ALGO", "AVAX", "LINK")
    assert choose_pool(got, "LINK", 2) == ("AVAX", "DOT", "LINK")


@pytest.fixture(scope="module")
def card2(full: Workspace) -> dict:
    return full.scorecard(at=AT, config=K2).to_dict()


def test_a_smaller_pool_changes_the_odds_and_says_its_rule(card: dict, card2: dict) -> None:
    # three assets' flushes reach the ten resolved ones a base rate needs later than eight's
    assert (card2["events_scored"], card["events_scored"]) == (8, 24)
    (note,) = [n for n in card2["notes"] if "odds pooled over" in n]
    assert "the asset and the 2 other assets with the largest quote volume in the 30 days" in note
    pools = int(note.rsplit(": ", 1)[1].split()[0])
    assert pools > 1
    base = {(e["asset"], e["start"]): e["probabilities"] for e in card["events"]}
    assert any(base[(e["asset"], e["start"])] != e["probabilities"] for e in card2["events"])


def test_report_at_judging_time_gives_the_small_pool_odds(full: Workspace, card2: dict) -> None:
    """Every flush the pool of 2 scored (pools change with the monthly ranking)."""
    memo_clear()
    assert _reports_match(full, card2, K2, assets=0) == 8
    assert memo_stats["misses"] > 0


def test_small_pool_scorecard_is_the_same_without_later_data(cut: Workspace, card2: dict) -> None:
    assert cut.scorecard(at=AT, config=K2).to_dict() == card2


def test_report_names_its_pool_and_memoises_the_judged_rows(full: Workspace) -> None:
    memo_clear()
    first = full.report("ALGO", at="2026-03-10T00:00Z", config=K2).report
    assert memo_stats == {"hits": 0, "misses": 2}  # AVAX and LINK judged once ...
    again = full.report("ALGO", at="2026-03-10T00:00Z", config=K2).report
    assert memo_stats == {"hits": 2, "misses": 2}  # ... and remembered
    assert again.verdict == first.verdict
    (note,) = [n for n in first.notes if "odds pooled over" in n]
    assert note.endswith(": ALGO, AVAX, LINK")
    ledger = full.path / "imports.jsonl"
    st = ledger.stat()
    os.utime(ledger, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a write changes the version
    try:
        full.report("ALGO", at="2026-03-10T00:00Z", config=K2)
        assert memo_stats == {"hits": 2, "misses": 4}
    finally:
        os.utime(ledger, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_pool_size_is_checked_in_the_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[outcomes]\npool_size = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"outcomes\.pool_size = 0"):
        load_config(bad)
    bad.write_text("[outcomes]\npool_sise = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="pool_sise"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text("[outcomes]\npool_size = 3\n", encoding="utf-8")
    assert load_config(good).outcomes.pool_size == 3


def test_shared_raw_predictions_change_no_number(full: Workspace) -> None:
    """Reports of several assets and times share refits by content: each equals its report
    computed alone, and a second round refits nothing."""
    asks = [("AAVE", AT), ("LINK", AT), ("LINK", "2026-02-01T00:00Z"), ("WLD", AT)]
    alone = []
    for asset, at in asks:
        memo_clear()
        alone.append(full.report(asset, at=at).report.verdict)
    memo_clear()
    shared = [full.report(asset, at=at).report.verdict for asset, at in asks]
    assert shared == alone
    assert all(v is not None and v.probabilities for v in shared)
    size = len(RAW_MEMO)
    assert size > 0
    assert [full.report(asset, at=at).report.verdict for asset, at in asks] == alone
    assert len(RAW_MEMO) == size  # nothing refitted
