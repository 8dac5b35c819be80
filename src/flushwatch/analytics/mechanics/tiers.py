"""Leverage tiers (risk limits): maintenance-margin rate and amount by position notional.

An exchange charges a maintenance margin that grows with the position's notional in steps
("tiers", "brackets", "risk limits")::

    MM(N) = N × MMR_n − cum_n            for floor_n < N ≤ cap_n
    cum_n = cum_{n−1} + floor_n × (MMR_n − MMR_{n−1}),   cum_0 = 0

The recursion (Binance "maintenance amount", Bybit "MM deduction", Hyperliquid "maintenance
deduction"; DOMAIN.md §5.1, §5.4) makes MM continuous in N. Because MMR rises with the tier,
MM is also convex: ``MM(N) = max_n (N × MMR_n − cum_n)``, which is what guarantees that the
liquidation-price fixed point (see :mod:`.binance`) exists, is unique and is reached without
cycling.

A tier covers ``floor < N ≤ cap`` (cap inclusive, as the exchanges print "0–50,000": a
50,000 USDT position may use 125x). A notional beyond the last cap uses the last tier.

Tables come from ccxt (``exchange.fetch_leverage_tiers()[symbol]``, :meth:`TierTable.from_ccxt`)
or from a small JSON/TOML document (:func:`tier_table_from_document`; the CLI reads the file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64
from flushwatch.errors import ConfigError, FlushwatchError

I64 = npt.NDArray[np.intp]

#: Relative tolerance when a given maintenance amount is checked against the recursion.
_CUM_RTOL = 1e-9
#: Absolute tolerance (quote units) for the same check: exchanges print cum to 1e-2 or finer.
_CUM_ATOL = 1e-6


class TierError(ConfigError):
    """A leverage-tier table is malformed (gaps, overlaps, falling rates, bad cum)."""


class TierIterationError(FlushwatchError, ArithmeticError):
    """The tier-at-liquidation-price iteration did not settle (an inconsistent table)."""


class Tier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One leverage tier: notional range, maintenance rate and amount, max leverage."""

    floor: float  #: notional floor (quote units; base units for inverse contracts)
    cap: float  #: notional cap, inclusive; ``inf`` for an open last tier
    mmr: float  #: maintenance margin rate, fraction (0.004 = 0.40 %)
    cum: float  #: maintenance amount ("cum", "MM deduction"), same unit as notional
    max_leverage: float  #: highest leverage allowed inside this tier

    def maintenance_margin(self, notional: float) -> float:
        """Maintenance margin of a position of this notional charged at this tier."""
        return notional * self.mmr - self.cum


def cum_recursion(floors: Sequence[float], mmrs: Sequence[float]) -> list[float]:
    """Maintenance amounts that make MM continuous: cum_n = cum_{n−1} + floor_n·ΔMMR_n.

    Examples
    --------
    The 2021 Binance BTCUSDT brackets (DOMAIN.md §5.1):

    >>> cum_recursion([0, 50_000, 250_000], [0.004, 0.005, 0.01])
    [0.0, 50.0, 1300.0]
    """
    out = [0.0]
    for n in range(1, len(floors)):
        out.append(out[-1] + floors[n] * (mmrs[n] - mmrs[n - 1]))
    return out


@dataclass(frozen=True, eq=False)
class TierTable:
    """A validated, contiguous leverage-tier table with vectorised look-ups.

    Build it from tiers whose ``cum`` is either given (checked against the recursion) or
    ``None`` (computed); see :meth:`build`.
    """

    tiers: tuple[Tier, ...]
    #: Where the table comes from (announcement, API endpoint, file).
    source: str = ""
    _floors: F64 = field(init=False, repr=False)
    _mmr: F64 = field(init=False, repr=False)
    _cum: F64 = field(init=False, repr=False)
    _maxlev: F64 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Validate the table and cache its columns as arrays."""
        _validate(self.tiers)
        object.__setattr__(self, "_floors", np.array([t.floor for t in self.tiers], np.float64))
        object.__setattr__(self, "_mmr", np.array([t.mmr for t in self.tiers], np.float64))
        object.__setattr__(self, "_cum", np.array([t.cum for t in self.tiers], np.float64))
        object.__setattr__(
            self, "_maxlev", np.array([t.max_leverage for t in self.tiers], np.float64)
        )

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[float, float, float, float, float | None]],
        *,
        source: str = "",
    ) -> TierTable:
        """Build from ``(floor, cap, mmr, max_leverage, cum or None)`` rows, checking cum.

        Examples
        --------
        >>> rows = [(0, 50_000, 0.004, 125, None), (50_000, 250_000, 0.005, 100, None)]
        >>> t = TierTable.build(rows)
        >>> t.tiers[1].cum
        50.0
        """
        if not rows:
            raise TierError("a tier table needs at least one tier")
        floors = [float(r[0]) for r in rows]
        mmrs = [float(r[2]) for r in rows]
        expected = cum_recursion(floors, mmrs)
        tiers: list[Tier] = []
        for n, (floor, cap, mmr, lev, cum) in enumerate(rows):
            if cum is None:
                cum_n = expected[n]
            else:
                cum_n = float(cum)
                if not math.isclose(cum_n, expected[n], rel_tol=_CUM_RTOL, abs_tol=_CUM_ATOL):
                    raise TierError(
                        f"tier {n + 1}: maintenance amount {cum_n:g} does not match the "
                        f"recursion cum_n = cum_(n-1) + floor_n × (MMR_n − MMR_(n-1)) = "
                        f"{expected[n]:g}; the table is inconsistent (MM would jump at the "
                        f"tier boundary)"
                    )
            tiers.append(
                Tier(
                    floor=float(floor),
                    cap=float(cap),
                    mmr=float(mmr),
                    cum=cum_n,
                    max_leverage=float(lev),
                )
            )
        return cls(tuple(tiers), source=source)

    @classmethod
    def from_ccxt(cls, rows: Sequence[Mapping[str, Any]], *, source: str = "ccxt") -> TierTable:
        """Build from ccxt ``fetch_leverage_tiers()[symbol]`` (the maintenance amount is read
        from ``info["cum"]`` (Binance) or ``info["mmDeduction"]`` (Bybit), else computed)."""
        try:
            ordered = sorted(rows, key=lambda r: float(r["minNotional"]))
            parsed = [
                (
                    float(r["minNotional"]),
                    math.inf if r.get("maxNotional") is None else float(r["maxNotional"]),
                    float(r["maintenanceMarginRate"]),
                    float(r["maxLeverage"]),
                    _ccxt_cum(r.get("info")),
                )
                for r in ordered
            ]
        except KeyError as exc:
            raise TierError(f"ccxt tier is missing the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise TierError(f"ccxt tier has a non-numeric field: {exc}") from None
        return cls.build(parsed, source=source)

    # ----------------------------------------------------------------- scalar look-ups
    def tier_index(self, notional: float) -> int:
        """0-based index of the tier that applies to ``notional`` (cap inclusive)."""
        return int(self.tier_index_array(np.asarray([notional], np.float64))[0])

    def tier_for(self, notional: float) -> Tier:
        """The tier that applies to a position of this notional."""
        return self.tiers[self.tier_index(notional)]

    def maintenance_margin(self, notional: float) -> float:
        """MM = notional × MMR − cum, with the tier of that notional.

        Examples
        --------
        >>> BINANCE_BTCUSDT_2021.maintenance_margin(1_000_000.0)
        8700.0
        """
        return self.tier_for(notional).maintenance_margin(notional)

    # ----------------------------------------------------------------- vectorised
    def tier_index_array(self, notional: F64) -> I64:
        """Tier index per element (cap inclusive; below 0 → first, beyond the last cap → last)."""
        idx = np.searchsorted(self._floors, np.asarray(notional, np.float64), side="left") - 1
        return np.clip(idx, 0, len(self.tiers) - 1)

    def mmr_array(self, notional: F64) -> F64:
        """Maintenance margin rate per element."""
        return self._mmr[self.tier_index_array(notional)]

    def cum_array(self, notional: F64) -> F64:
        """Maintenance amount per element."""
        return self._cum[self.tier_index_array(notional)]

    def max_leverage_array(self, notional: F64) -> F64:
        """Highest allowed leverage per element (caps a leverage distribution)."""
        return self._maxlev[self.tier_index_array(notional)]

    def maintenance_margin_array(self, notional: F64) -> F64:
        """MM = notional × MMR − cum per element, each with its own tier."""
        n = np.asarray(notional, np.float64)
        idx = self.tier_index_array(n)
        out: F64 = n * self._mmr[idx] - self._cum[idx]
        return out

    @property
    def mmr_column(self) -> F64:
        """Maintenance rates of all tiers, in order (read-only view)."""
        view = self._mmr.view()
        view.flags.writeable = False
        return view

    @property
    def cum_column(self) -> F64:
        """Maintenance amounts of all tiers, in order (read-only view)."""
        view = self._cum.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        """Number of tiers."""
        return len(self.tiers)


def _ccxt_cum(info: object) -> float | None:
    if not isinstance(info, Mapping):
        return None
    for key in ("cum", "mmDeduction", "maintenanceDeduction"):
        value = info.get(key)
        if value not in (None, ""):
            return float(value)
    return None


def _validate(tiers: Sequence[Tier]) -> None:
    if not tiers:
        raise TierError("a tier table needs at least one tier")
    if tiers[0].floor != 0.0:
        raise TierError(f"tier 1 must start at notional 0, not {tiers[0].floor:g}")
    for n, t in enumerate(tiers, start=1):
        if not (t.cap > t.floor):
            raise TierError(f"tier {n}: cap {t.cap:g} must be above floor {t.floor:g}")
        if not (0.0 <= t.mmr < 1.0):
            raise TierError(f"tier {n}: maintenance rate {t.mmr:g} must be in [0, 1)")
        if not (t.max_leverage >= 1.0):
            raise TierError(f"tier {n}: max leverage {t.max_leverage:g} must be ≥ 1")
    _validate_order(tiers)
    expected = cum_recursion([t.floor for t in tiers], [t.mmr for t in tiers])
    for n, (t, e) in enumerate(zip(tiers, expected, strict=True), start=1):
        if not math.isclose(t.cum, e, rel_tol=_CUM_RTOL, abs_tol=_CUM_ATOL):
            raise TierError(
                f"tier {n}: maintenance amount {t.cum:g} does not match the recursion "
                f"({e:g}); the table is inconsistent"
            )


def _validate_order(tiers: Sequence[Tier]) -> None:
    for n in range(1, len(tiers)):
        prev, cur = tiers[n - 1], tiers[n]
        if not math.isclose(cur.floor, prev.cap, rel_tol=1e-12, abs_tol=1e-9):
            raise TierError(
                f"tiers {n} and {n + 1} are not contiguous: cap {prev.cap:g} ≠ floor {cur.floor:g}"
            )
        if cur.mmr < prev.mmr:
            raise TierError(
                f"tier {n + 1}: maintenance rate {cur.mmr:g} falls below tier {n}'s {prev.mmr:g}"
            )
        if cur.max_leverage > prev.max_leverage:
            raise TierError(
                f"tier {n + 1}: max leverage {cur.max_leverage:g} rises above tier {n}'s "
                f"{prev.max_leverage:g}"
            )


_NATIVE_KEYS = {"floor", "cap", "mmr", "max_leverage", "cum"}


def tier_table_from_document(
    doc: object, *, symbol: str | None = None, source: str = ""
) -> TierTable:
    """Build a table from a decoded JSON/TOML document (the CLI's ``--tiers`` file).

    Accepted shapes: a list of ccxt tiers; ``{"SYMBOL": [ccxt tiers], ...}`` (the whole
    ``fetch_leverage_tiers()`` answer; pass ``symbol`` when it holds several); or
    ``{"tiers": [{"floor", "cap", "mmr", "max_leverage", "cum"?}, ...]}`` (TOML ``[[tiers]]``).
    """
    rows: object = doc
    if isinstance(doc, Mapping):
        if "tiers" in doc:
            rows = doc["tiers"]
        elif symbol is not None:
            if symbol not in doc:
                raise TierError(f"symbol {symbol!r} not in the tiers document ({', '.join(doc)})")
            rows = doc[symbol]
        elif len(doc) == 1:
            rows = next(iter(doc.values()))
        else:
            raise TierError(
                f"the tiers document holds {len(doc)} symbols ({', '.join(list(doc)[:5])}, ...); "
                "name one"
            )
    if not isinstance(rows, list) or not rows or not all(isinstance(r, Mapping) for r in rows):
        raise TierError("the tiers document must hold a non-empty list of tiers (tables)")
    if all("minNotional" in r for r in rows):
        return TierTable.from_ccxt(rows, source=source or "ccxt file")
    for n, r in enumerate(rows, start=1):
        unknown = set(r) - _NATIVE_KEYS
        missing = {"floor", "cap", "mmr", "max_leverage"} - set(r)
        if unknown or missing:
            raise TierError(
                f"tier {n}: unknown keys {sorted(unknown)} / missing keys {sorted(missing)}; "
                "expected floor, cap, mmr, max_leverage and optionally cum (or ccxt fields)"
            )
    try:
        native = [
            (
                float(r["floor"]),
                float(r["cap"]),
                float(r["mmr"]),
                float(r["max_leverage"]),
                None if r.get("cum") is None else float(r["cum"]),
            )
            for r in rows
        ]
    except (TypeError, ValueError) as exc:
        raise TierError(f"non-numeric tier field: {exc}") from None
    return TierTable.build(native, source=source or "tiers file")


#: Binance BTCUSDT brackets announced 2021-03-18 (DOMAIN.md §5.1); cum from the recursion.
BINANCE_BTCUSDT_2021 = TierTable.build(
    [
        (0, 50_000, 0.004, 125, 0),
        (50_000, 250_000, 0.005, 100, 50),
        (250_000, 1_000_000, 0.01, 50, 1_300),
        (1_000_000, 10_000_000, 0.025, 20, 16_300),
        (10_000_000, 20_000_000, 0.05, 10, 266_300),
        (20_000_000, 50_000_000, 0.10, 5, 1_266_300),
        (50_000_000, 100_000_000, 0.125, 4, 2_516_300),
        (100_000_000, 200_000_000, 0.15, 3, 5_016_300),
        (200_000_000, 300_000_000, 0.25, 2, 25_016_300),
        (300_000_000, 500_000_000, 0.50, 1, 100_016_300),
    ],
    source="Binance BTCUSDT leverage brackets, announcement of 2021-03-18",
)
