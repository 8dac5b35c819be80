"""SIMULATED wash prints (self-matched pairs of round, repeated lots; fixed seed) mixed into
the real Binance prints at known rates: which tests flag them, at the corrected 5 % level."""

from __future__ import annotations

import numpy as np
import pytest

from flushwatch.analytics.wash import WashAssessment, assess, lot_step
from flushwatch.domain.records import Trade
from flushwatch.store import Store
from flushwatch.testing.wash_mix import mix_wash

VENUES = [("binanceusdm", "BTCUSDT"), ("binanceusdm", "ETHUSDT"), ("binance", "BTCUSDT")]
RATES = (0.0, 0.01, 0.05, 0.10, 0.20)


def _mixed(store: Store, exchange: str, symbol: str, rate: float) -> tuple[WashAssessment, int]:
    df = store.read(Trade, exchange=exchange, symbol=symbol)
    qty = df.get_column("qty").to_numpy()
    step = lot_step(qty)
    assert step is not None
    m = mix_wash(
        df.get_column("ts_event").to_numpy(),
        df.get_column("price").to_numpy(),
        qty,
        (df.get_column("taker_side") == "buy").to_numpy(),
        rate=rate,
        step=step,
        seed=7,
    )
    return assess(m.ts_ns, m.price * m.size, m.size, m.taker_buy, step=step), int(m.simulated.sum())


def _suspicious(a: WashAssessment) -> set[str]:
    return {t.name for t in a.tests if t.suspicious}


@pytest.mark.parametrize(("exchange", "symbol"), VENUES)
def test_matched_pairs_flag_five_percent_and_not_the_real_prints(
    wash_store: Store, exchange: str, symbol: str
) -> None:
    found = {rate: _mixed(wash_store, exchange, symbol, rate) for rate in RATES}
    real, n_sim = found[0.0]
    assert n_sim == 0
    # The real prints: no excess of equal-size opposite-side pairs ...
    assert "matched_pairs" not in _suspicious(real)
    # ... but they are flagged anyway, by Benford and round lots (genuine Binance prints
    # crowd minimum-notional lots and round sizes); the output says so in its caveat.
    assert {"benford_first_digit", "round_lot_excess"} <= _suspicious(real)
    assert real.flagged
    for rate in (0.05, 0.10, 0.20):
        mixed, n_sim = found[rate]
        assert n_sim / mixed.prints == pytest.approx(rate, abs=0.002)
        assert "matched_pairs" in _suspicious(mixed)
    pairs = [next(t for t in found[r][0].tests if t.name == "matched_pairs") for r in RATES]
    ratios = [t.statistic for t in pairs]
    assert ratios == sorted(ratios)  # observed / expected grows with the simulated share


def test_one_percent_is_the_edge(wash_store: Store) -> None:
    """At 1 % the pairs are seen on ETH (few real equal-size pairs) but not on BTC."""
    btc, _ = _mixed(wash_store, "binanceusdm", "BTCUSDT", 0.01)
    eth, _ = _mixed(wash_store, "binanceusdm", "ETHUSDT", 0.01)
    assert "matched_pairs" not in _suspicious(btc)
    assert "matched_pairs" in _suspicious(eth)


def test_the_mix_is_labelled_and_reproducible() -> None:
    """SIMULATED only: the same seed gives the same prints; every added print is marked."""
    ts = np.arange(1000, dtype=np.int64) * 10**8
    price = np.full(1000, 100.0)
    qty = np.full(1000, 0.013)
    buy = np.arange(1000) % 2 == 0
    a = mix_wash(ts, price, qty, buy, rate=0.2, step=0.001, seed=3)
    b = mix_wash(ts, price, qty, buy, rate=0.2, step=0.001, seed=3)
    assert np.array_equal(a.size, b.size)
    assert np.array_equal(a.ts_ns, b.ts_ns)
    assert int(a.simulated.sum()) == 250
    sim = a.size[a.simulated]
    assert set(np.round(sim, 6).tolist()) <= {0.1, 0.2, 0.5, 1.0}
    assert a.taker_buy[a.simulated].sum() == 125
