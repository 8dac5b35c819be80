"""The scorecard: flushes judged point in time, scored honestly against simple baselines.

Kernels on constructed rows (exact numbers by hand); then the real CoinGlass BTC hourly data:
the scorecard as of T is identical with or without later data, each flush's probabilities
are exactly what ``report --at <judging time>`` says, and the CLI's JSON is the API's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import flushwatch
from flushwatch.analytics.outcomes import EventRow, OutcomeParams
from flushwatch.analytics.probability import predict
from flushwatch.analytics.results import Probability
from flushwatch.analytics.scorecard import OutcomeScore, Scored, _block_ci, score, skill_summary
from flushwatch.api import Workspace
from flushwatch.cli.app import app
from flushwatch.domain.time import parse_iso
from flushwatch.testing.cut_copy import CutImport

DAY = 86_400 * 10**9
FOLDER = "coinglass-btc-liq-oi-funding-2025-2026"
FILES = (
    (FOLDER, "btc_regime_1h_2025-12-04_2026-06-02.csv", "timestamp"),
    (FOLDER, "btc_liquidation_1h_2025-11-23_2026-05-22.csv", "timestamp"),
)
AT = "2026-04-01T00:00Z"


# -- kernels on constructed rows ---------------------------------------------------------------


def _row(i: int, y: float, *, resolved_after: int = 1) -> EventRow:
    """Event ``i`` judged on day ``i``; its outcome known ``resolved_after`` days later."""
    return EventRow(
        asset="T",
        start_ts=i * DAY - 3600 * 10**9,
        end_ts=i * DAY - 1800 * 10**9,
        judge_ts=i * DAY,
        direction=-1,
        kind="long_flush",
        features={},
        p_rw={},
        outcomes={"up_1d": y},
        resolved_ts={"up_1d": i * DAY + resolved_after * DAY},
    )


def test_block_bootstrap_resamples_days_not_events() -> None:
    """Five copies of each day's flush are one block: the interval must not narrow."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=30)
    days = np.arange(30)
    once = _block_ci(days, values, 500, 1)
    five = _block_ci(np.repeat(days, 5), np.repeat(values, 5), 500, 1)
    assert once is not None
    assert five is not None
    assert five == pytest.approx(once, rel=1e-12)
    assert once[0] < values.mean() < once[1]
    # treated as 150 independent events, the interval would be about √5 narrower
    naive = _block_ci(np.arange(150), np.repeat(values, 5), 500, 1)
    assert naive is not None
    assert (naive[1] - naive[0]) < 0.6 * (once[1] - once[0])


def test_prediction_uses_only_outcomes_known_when_judged() -> None:
    p = OutcomeParams(min_base=3, min_train=100)
    history = [_row(i, 1.0 if i % 3 else 0.0) for i in range(1, 11)]  # days 1..10
    target = _row(11, math.nan)
    # day 10's outcome resolves on day 11 (= judge time: known); one resolving later is not
    late = _row(10, 0.0, resolved_after=5)
    a = predict(history, target, "up_1d", p)
    b = predict([*history[:-1], late], target, "up_1d", p)
    ys = [r.outcomes["up_1d"] for r in history]
    assert a.base_rate == pytest.approx((sum(ys) + 1) / (len(ys) + 2))
    assert a.method == "base_rate"
    assert a.p == a.base_rate
    assert a.n_train == 10
    assert b.n_train == 9  # the late one is left out, whatever its outcome
    flipped = _row(10, 1.0, resolved_after=5)
    assert predict([*history[:-1], flipped], target, "up_1d", p) == b
    # a later event never enters, even when resolved
    assert predict([*history, _row(12, 1.0, resolved_after=-2)], target, "up_1d", p) == a
    # too few events: not available, never a guess
    assert predict(history[:2], target, "up_1d", p).p is None


def test_score_by_hand() -> None:
    rows = [_row(i, y) for i, y in enumerate([1.0, 0.0, 1.0, 1.0], start=1)]
    probs = [0.9, 0.2, 0.6, 0.7]
    base = [0.5, 0.5, 0.6, 0.5]
    items = [
        Scored(row=r, prob=Probability(p=p, base_rate=b, n_train=10, method="model"))
        for r, p, b in zip(rows, probs, base, strict=True)
    ]
    s = score(items, "up_1d")
    y = np.array([1.0, 0.0, 1.0, 1.0])
    assert s.n == 4
    assert s.n_model == 4
    assert s.observed_rate == 0.75
    assert s.brier == pytest.approx(float(((np.array(probs) - y) ** 2).mean()))
    assert s.baseline_brier == pytest.approx(float(((np.array(base) - y) ** 2).mean()))
    assert s.hit_rate == 1.0
    assert s.baseline_hit_rate == 0.75
    assert sum(b.n for b in s.reliability) == 4
    # an event whose outcome is unknown is not scored
    unknown = Scored(row=_row(9, math.nan), prob=items[0].prob)
    assert score([*items, unknown], "up_1d").n == 4


def _score(beats: bool, band: bool | None, n: int = 50) -> OutcomeScore:
    return OutcomeScore(
        n=n, n_model=n, observed_rate=0.5, brier=0.2, baseline_brier=0.25,
        brier_diff_ci=(-0.1, -0.01) if beats else (-0.1, 0.02), beats_base_rate=beats,
        hit_rate=0.6, baseline_hit_rate=0.5, baselines={}, reliability=[],
        beats_vol_band=band,
    )  # fmt: skip


def test_skill_summary_never_claims_what_the_intervals_do_not_support() -> None:
    lines = skill_summary(
        {
            "a_1d": _score(True, None),
            "b_1d": _score(True, False),
            "c_1d": _score(False, True),
            "d_1d": _score(False, None, n=0),
        }
    )
    assert lines[0] == "Beat every baseline (95% CI): a_1d."
    assert lines[1].startswith("Beat the base rate but not the volatility band: b_1d")
    assert lines[2].startswith("No better than the base rate (CI includes 0 or above): c_1d.")
    assert len(lines) == 3  # d_1d has nothing scored: not mentioned as a win or a loss
    assert skill_summary({"d_1d": _score(False, None, n=0)}) == [
        "No flush could be scored: nothing to say about skill."
    ]


# -- real data: CoinGlass BTC hourly -------------------------------------------------------------


@pytest.fixture(scope="module")
def full(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return flushwatch.open(cut_import(tmp_path_factory.mktemp("sc_full"), FILES, None))


@pytest.fixture(scope="module")
def cut(cut_import: CutImport, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("sc_cut")
    return flushwatch.open(cut_import(base, FILES, parse_iso(AT) // 10**6))


@pytest.fixture(scope="module")
def card(full: Workspace) -> dict:
    return full.scorecard(["BTC"], at=AT).to_dict()


def test_scorecard_as_of_is_the_same_with_or_without_later_data(
    full: Workspace, cut: Workspace, card: dict
) -> None:
    assert cut.scorecard(["BTC"], at=AT).to_dict() == card
    assert card["as_of"] == "2026-04-01T00:00:00Z"
    assert all(e["judge_ts"] <= parse_iso(AT) for e in card["events"])
    assert card["events_scored"] >= 10  # episodes (a flush and its re-flares within a day)
    (btc,) = card["per_asset"]
    assert btc["detected_by"] == ["liquidations"]  # CoinGlass buckets cover the whole window
    assert "coinglass" in btc["sources"]["liquidations"]
    # outcomes whose horizon runs past T are unknown, not guessed
    last = card["events"][-1]
    assert parse_iso(AT) - last["judge_ts"] < 7 * DAY
    assert last["outcomes"]["new_extreme_7d"] is None


def test_each_flush_gets_what_report_at_its_judging_time_says(full: Workspace, card: dict) -> None:
    """Each row is what ``report --at`` its judging time said: the episode's opening flush,
    or the re-flare of it that had ended by then (the report judges the latest)."""
    found = full.events("BTC").events
    reflares = {e.start_ts for e in found if e.episode_flush > 1}
    rows = card["events"]
    judged_reflares = [e for e in rows if parse_iso(e["start"]) in reflares]
    assert judged_reflares  # some episodes are judged on a re-flare
    picked = [*rows[-2:], *judged_reflares[-2:]]
    for e in picked:
        report = full.report("BTC", at=e["judge_ts"])
        assert report.report.focus is not None
        assert report.report.focus.start_ts == parse_iso(e["start"])
        probs = report.report.verdict.probabilities
        assert set(probs) == set(e["probabilities"])
        for oid, want in e["probabilities"].items():
            assert probs[oid].p == want["p"], oid
            assert probs[oid].base_rate == want["base_rate"], oid


def test_cli_json_is_the_api_and_html_is_written(full: Workspace, tmp_path: Path) -> None:
    page = tmp_path / "sc.html"
    out = CliRunner().invoke(
        app,
        ["scorecard", "BTC", "--store", str(full.path), "--at", AT, "--json", "--html", str(page)],
    )
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc == json.loads(json.dumps(full.scorecard(["BTC"], at=AT).to_dict()))
    text = page.read_text()
    assert "Plotly.newPlot" in text
    assert "Does it beat the baselines?" in text
    assert "<script src=" not in text  # self-contained: Plotly inlined, opens offline
    assert doc["summary"][0] in text.replace("&#x27;", "'")


def test_cli_text_and_bad_horizon(full: Workspace) -> None:
    ok = CliRunner().invoke(app, ["scorecard", "BTC", "--store", str(full.path), "--at", AT])
    assert ok.exit_code == 0, ok.stderr
    assert "Outcomes, all assets pooled" in ok.stdout
    assert "recall" in ok.stdout
    bad = CliRunner().invoke(
        app, ["scorecard", "BTC", "--store", str(full.path), "--horizons", "1d,soon"]
    )
    assert bad.exit_code == 2
    assert "soon" in bad.stderr
