"""One market on one regular time grid: the input of every flush-report kernel.

The report assembler (``flushwatch.report.assemble``) builds a :class:`MarketSeries` from
whatever the store holds. A series the store does not have is ``None`` ("not available"):
kernels must then say so and lower their confidence rather than guess. Inside an available
series a bar without a value is ``NaN``.

Flow series (liquidations, volumes) are sums over the bar; state series (open interest,
funding, spot price, basis, depth) are the last value known at the bar's close.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class MarketSeries(msgspec.Struct, kw_only=True, frozen=True):
    """Aligned arrays for one market; all have the length of ``ts``."""

    asset: str
    #: Human-readable description of where each available series came from.
    sources: dict[str, str]
    ts: I64
    step_s: int
    open: F64
    high: F64
    low: F64
    close: F64
    volume_quote: F64 | None = None
    liq_long: F64 | None = None
    liq_short: F64 | None = None
    #: True when liquidation totals come from throttled feeds (lower bounds, DOMAIN.md C1).
    liq_lower_bound: bool = False
    #: Length of one liquidation bucket when it is longer than a bar (a 4-hour vendor bucket
    #: on 1-hour bars): the bucket's USD sits on the bar where it closes and the bars before
    #: it inside the bucket are NaN (their share is unknown, so none is invented). None: one
    #: value per bar. Outside the liquidation source's coverage every bar is NaN.
    liq_interval_s: int | None = None
    oi_quote: F64 | None = None
    oi_base: F64 | None = None
    #: True when ``oi_base`` was derived as ``oi_quote / close`` (not reported in coin units).
    oi_base_derived: bool = False
    funding: F64 | None = None
    funding_interval_h: float = 8.0
    spot_close: F64 | None = None
    spot_volume_quote: F64 | None = None
    #: Perp premium over spot (or index) as a fraction.
    basis: F64 | None = None
    #: Bid depth within 1 % of mid, quote units.
    depth_1pct: F64 | None = None
    spread_bps: F64 | None = None

    @property
    def n(self) -> int:
        """Number of bars."""
        return int(self.ts.shape[0])

    def available(self) -> dict[str, bool]:
        """Which optional series exist, by name."""
        names = (
            "volume_quote",
            "liq_long",
            "oi_quote",
            "funding",
            "spot_close",
            "spot_volume_quote",
            "basis",
            "depth_1pct",
        )
        return {name: getattr(self, name) is not None for name in names}

    def liq_total(self) -> F64 | None:
        """Long plus short liquidations per bar, or None."""
        if self.liq_long is None or self.liq_short is None:
            return None
        return np.asarray(self.liq_long + self.liq_short, dtype=np.float64)

    def slice(self, start: int, stop: int) -> MarketSeries:
        """Bars ``[start, stop)`` as a new series (arrays are views)."""
        fields = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value = value[start:stop]
            fields[name] = value
        return MarketSeries(**fields)
