"""SIMULATED wash prints mixed into real ones at a known rate (for tests and bench/wash.py).

A wash trader here is one party trading with itself: pairs of prints of the same round,
repeated lot (1, 2, 5 or 10 round lots of 100 quantity steps), one taker buy and one taker
sell 0-300 ms apart at the price of the market at that moment. Every simulated print is
marked in the returned mask; nothing here is real data.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64
from flushwatch.analytics.wash import ROUND_STEPS

I64 = npt.NDArray[np.int64]
LOTS = (1, 2, 5, 10)


class Prints(msgspec.Struct, frozen=True, kw_only=True):
    """Prints sorted by time; ``simulated`` marks the mixed-in wash prints."""

    ts_ns: I64
    price: F64
    size: F64
    taker_buy: npt.NDArray[np.bool_]
    simulated: npt.NDArray[np.bool_]


def mix_wash(
    ts_ns: I64,
    price: F64,
    size: F64,
    taker_buy: npt.NDArray[np.bool_],
    *,
    rate: float,
    step: float,
    seed: int = 7,
) -> Prints:
    """Add SIMULATED self-matched pairs so that ``rate`` of the prints are simulated."""
    if not 0 <= rate < 1:
        raise ValueError("rate must be in [0, 1)")
    n = ts_ns.size
    pairs = round(rate * n / (1 - rate) / 2)
    rng = np.random.default_rng(seed)
    at = rng.integers(int(ts_ns.min()), int(ts_ns.max()) + 1, size=pairs)
    idx = np.clip(np.searchsorted(np.sort(ts_ns), at, side="right") - 1, 0, n - 1)
    px = price[np.argsort(ts_ns, kind="stable")][idx]
    lot = rng.choice(np.asarray(LOTS, dtype=np.float64), size=pairs) * ROUND_STEPS * step
    first_buy = rng.random(pairs) < 0.5
    lag = rng.integers(0, 300_000_001, size=pairs)
    ts = np.concatenate([ts_ns, at, at + lag])
    out_price = np.concatenate([price, px, px])
    out_size = np.concatenate([size, lot, lot])
    buy = np.concatenate([taker_buy, first_buy, ~first_buy])
    sim = np.concatenate([np.zeros(n, bool), np.ones(2 * pairs, bool)])
    order = np.argsort(ts, kind="stable")
    return Prints(
        ts_ns=ts[order],
        price=out_price[order],
        size=out_size[order],
        taker_buy=buy[order],
        simulated=sim[order],
    )
