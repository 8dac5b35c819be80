"""Post-flush checklist, risk box and verdict on real markets, checked against the raw CSVs.

Expected values are recomputed here from the CSV rows with plain Python (``csv`` +
``statistics``), following the definitions in ``flushwatch.analytics.checklist``:

* CoinGlass BTC 1h (``coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_...csv``): the
  2026-02-05/06 long flush. PROVENANCE: largest hour 2026-02-05 20:00 (long liq ≈ $134M),
  2026-02-06 00:00 low 60,000, funding negative during the flush. The event is built here as
  bars 2026-02-05 20:00 → 2026-02-06 00:00. CoinGlass funding is in percent per 8 h
  (PROVENANCE), the checklist reports percent too, so values compare directly.
* OKX BTC hourly samples (``okx-btc-spot-perp-basis-hourly-2025``): the 2025-10-10 cascade,
  sample 2025-10-10T21:18:44Z (perp 108,539 / spot 108,339), next hour funding −0.115 %.
"""

from __future__ import annotations

import csv
import statistics
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from flushwatch.analytics.checklist import ChecklistParams, post_flush_checklist
from flushwatch.analytics.levels import LevelParams, event_indices, key_levels
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent
from flushwatch.analytics.verdict import VerdictParams, risk_box, verdict
from flushwatch.testing.real import load_market

H_NS = 3600 * 10**9
P = ChecklistParams()


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def _event(m: MarketSeries, start: str, end: str, low: float, high: float) -> FlushEvent:
    s, e = _ns(start), _ns(end)
    return FlushEvent(
        start_ts=s,
        peak_ts=s,
        end_ts=e,
        kind="long_flush",
        detected_by="liquidations",
        score=1.0,
        liq_long_usd=None,
        liq_short_usd=None,
        liq_lower_bound=m.liq_lower_bound,
        oi_before_quote=None,
        oi_after_quote=None,
        oi_drop_quote_pct=None,
        oi_drop_base_pct=None,
        price_open=0.0,
        price_close=0.0,
        price_low=low,
        price_high=high,
        move_pct=0.0,
        wick_pct=0.0,
        liq_to_oi_pct=None,
    )


def _run(m: MarketSeries, ev: FlushEvent) -> tuple[dict[str, CheckItem], MarketSeries]:
    _, end = event_indices(m, ev)
    mm = m.slice(0, min(m.n, end + 73))  # states judged inside the 72 h window only
    levels = key_levels(mm, end, LevelParams(), ev)
    items = post_flush_checklist(mm, ev, levels, {"BTC": levels}, P)
    return {i.name: i for i in items}, mm


# --- CoinGlass BTC 1h: 2026-02-05/06 ---------------------------------------------------------

CG = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
CG_START, CG_END = "2026-02-05T20:00:00Z", "2026-02-06T00:00:00Z"


def _cg_rows(shared_data: Path) -> dict[int, dict[str, float]]:
    with (shared_data / CG).open(newline="") as fh:
        return {
            int(r["timestamp"]) * 10**6: {k: float(v) for k, v in r.items() if k != "datetime_utc"}
            for r in csv.DictReader(fh)
        }


def test_coinglass_feb_flush_funding_and_oi(shared_data: Path) -> None:
    rows = _cg_rows(shared_data)
    s, e = _ns(CG_START), _ns(CG_END)
    post = [rows[t] for t in range(e + H_NS, e + 73 * H_NS, H_NS) if t in rows]
    pre = [rows[t] for t in range(s - 72 * H_NS, s, H_NS) if t in rows]
    m = load_market("coinglass_btc_1h")
    items, _ = _run(m, _event(m, CG_START, CG_END, 60_000.0, 65_700.0))

    # PROVENANCE: aggregated funding negative during the flush (−0.0039 … −0.0082 %).
    during = [rows[t]["funding_close"] for t in range(s, e + H_NS, H_NS)]
    assert min(during) == pytest.approx(-0.008204)  # 2026-02-06 00:00
    # The report reads CoinGlass's OI-weighted funding (``oi_weight_close``, % per 8 h):
    # after the flush it went negative (−0.0079 % at 02:00) and ends near zero.
    col = "oi_weight_close"
    tail = statistics.median(r[col] for r in post[-8:])
    assert min(r[col] for r in post) < 0
    assert tail <= 0.015  # within the neutral band top (0.01 % + 0.005 %)
    f = items["funding"]
    assert (f.state, f.signal) == ("flipped_negative", "good")
    assert f.value == pytest.approx(tail, rel=1e-6)
    assert f"{statistics.median(r[col] for r in pre):.4f}%" in f.sentence

    # OI: before = last close before the event, trough = lowest close during it.
    if m.oi_quote is None and m.oi_base is None:  # the store did not give OI for this market
        assert items["oi_rebuild"].state == "not_available"
        return
    before = rows[s - H_NS]
    coins = m.oi_base is not None
    unit = (lambda r: r["oi_close"] / r["price_close"]) if coins else (lambda r: r["oi_close"])
    lo = min(unit(rows[t]) for t in range(s, e + H_NS, H_NS))
    flushed = unit(before) - lo
    regained_end = (unit(post[-1]) - lo) / flushed * 100.0
    fast = max((unit(r) - lo) / flushed * 100.0 for r in post[:24])
    move = (post[23]["price_close"] / rows[e]["price_close"] - 1.0) * 100.0
    trough = min((rows[t] for t in range(s, e + H_NS, H_NS)), key=lambda r: r["oi_close"])
    assert trough["oi_close"] == 5_705_318_852  # 2026-02-06 00:00
    assert move > P.chop_pct  # price rebounded +10 %: not a chop, so never "fast"
    expected = "slow" if fast < P.oi_slow_pct else "moderate"
    o = items["oi_rebuild"]
    assert o.state == expected
    assert o.value == pytest.approx(regained_end, rel=1e-6)
    if coins:  # in coin units OI kept falling after the flush: slow rebuild
        assert (o.state, o.signal) == ("slow", "good")


def test_coinglass_feb_flush_verdict(shared_data: Path) -> None:
    m = load_market("coinglass_btc_1h")
    ev = _event(m, CG_START, CG_END, 60_000.0, 65_700.0)
    items, mm = _run(m, ev)
    for name in ("basis", "spot_vs_perp", "spot_held", "book", "levels_eth"):
        assert items[name].state == "not_available"  # CoinGlass export has none of these
    # The 60,000 flush low was never lost in the next 72 h (min low from the CSV).
    rows = _cg_rows(shared_data)
    e = _ns(CG_END)
    assert (
        min(rows[t]["price_low"] for t in range(e + H_NS, e + 73 * H_NS, H_NS) if t in rows)
        > 60_000
    )
    assert items["levels_asset"].state == "held"
    levels = key_levels(mm, event_indices(mm, ev)[1], LevelParams(), ev)
    rules = risk_box(mm, ev, list(items.values()), levels, VerdictParams())
    v = verdict(list(items.values()), rules, VerdictParams())
    assert v.confidence < 1.0
    assert set(v.missing_inputs) >= {"basis", "spot_vs_perp", "book"}


# --- OKX BTC hourly: 2025-10-10 cascade ------------------------------------------------------

OKX = "okx-btc-spot-perp-basis-hourly-2025/okx_btc_spot_vs_swap_hourly_utc.csv"
OKX_BAR = "2025-10-10T21:00:00Z"  # holds the 21:18:44Z sample


def _okx_by_bar(shared_data: Path) -> dict[int, dict[str, float]]:
    """Last sample of each UTC hour, keyed by the bar's start (ns)."""
    out: dict[int, dict[str, float]] = {}
    with (shared_data / OKX).open(newline="") as fh:
        for r in csv.DictReader(fh):
            bar = _ns(r["sample_time_utc_approx"]) // H_NS * H_NS
            out[bar] = {k: float(r[k]) for k in ("spot_price", "futures_price", "funding_rate")}
            out[bar]["open_interest"] = float(r["open_interest"])
    return out


def test_okx_cascade_basis_and_funding_computed(shared_data: Path) -> None:
    bars = _okx_by_bar(shared_data)
    t = _ns(OKX_BAR)
    assert bars[t]["futures_price"] == 108_539.0  # PROVENANCE sample
    assert bars[t + H_NS]["funding_rate"] == pytest.approx(-0.0011461540562208)
    m = load_market("okx_btc_2025")
    items, _ = _run(m, _event(m, OKX_BAR, OKX_BAR, 108_539.0, 108_539.0))

    # Funding: the CSV's fraction per 8 h; post min −0.1337 % < 0, tail back near neutral.
    f = items["funding"]
    post_f = [bars[x]["funding_rate"] for x in range(t + H_NS, t + 73 * H_NS, H_NS) if x in bars]
    assert min(post_f) < 0
    assert f.state == "flipped_negative"
    assert f"low since the flush {min(post_f) * 100:.4f}%" in f.sentence

    # Basis = perp/spot − 1 per sampled bar; median before (72 h) vs after (72 h).
    def med(lo: int, hi: int) -> float:
        vals = [b["futures_price"] / b["spot_price"] - 1.0 for x, b in bars.items() if lo <= x < hi]
        return statistics.median(vals)

    pre, post = med(t - 72 * H_NS, t), med(t + H_NS, t + 73 * H_NS)
    b = items["basis"]
    assert b.state != "not_available"
    assert b.threshold == pytest.approx(pre * 100.0, rel=1e-6)
    assert b.value == pytest.approx(post * 100.0, rel=1e-6)
    assert b.state == ("widening" if (post - pre) * 1e4 >= P.basis_tol_bps else "compressing")

    # OI in coins (100 USD contracts / price) ROSE into the hourly sample: no drop to rebuild.
    def coins(x: int) -> float:
        return bars[x]["open_interest"] * 100.0 / bars[x]["futures_price"]

    assert coins(t) > coins(t - H_NS)
    assert items["oi_rebuild"].state == "no_oi_drop"
    assert items["spot_held"].state != "not_available"
    assert items["spot_vs_perp"].state == "not_available"  # no volumes in this file


def test_okx_without_basis_lowers_confidence() -> None:
    m = load_market("okx_btc_2025")
    ev = _event(m, OKX_BAR, OKX_BAR, 108_539.0, 108_539.0)
    confs = []
    for mk in (m, msgspec.structs.replace(m, basis=None, funding=None)):
        items, mm = _run(mk, ev)
        rules = risk_box(mm, ev, list(items.values()), [], VerdictParams())
        confs.append(verdict(list(items.values()), rules, VerdictParams()).confidence)
    assert confs[1] < confs[0]


def test_bar_helper_is_utc() -> None:
    assert (
        _ns("2025-10-10T21:00:00Z")
        == int(datetime(2025, 10, 10, 21, tzinfo=UTC).timestamp()) * 10**9
    )
