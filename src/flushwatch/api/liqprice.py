"""Liquidation and bankruptcy prices of one position with the venues' published formulas.

The use case behind ``flushwatch liq-price`` and :meth:`flushwatch.api.Workspace.liq_price`:
validate the inputs, pick the tier table (a file, a single MMR, or the shipped default), run
:mod:`flushwatch.analytics.mechanics`, and shape the documented result. Error messages name
the CLI option, which has the same name as the keyword argument.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.analytics.mechanics import LiqResult, MarginMode, Side, Tier, TierTable

Venue = Literal["binance", "bybit", "okx", "hyperliquid"]
VENUES: tuple[Venue, ...] = ("binance", "bybit", "okx", "hyperliquid")
_CROSS_VENUES = ("binance", "hyperliquid")
NOTE = (
    "estimated with the venue's published formula; the venue's own figure can differ by "
    "fees, funding paid since entry and mark-price rounding; liquidation triggers on the "
    "mark price"
)


def load_tiers(path: Path, *, symbol: str | None = None) -> TierTable:
    """Read a tier table from a JSON (ccxt shape or ``{"tiers": [...]}``) or TOML file."""
    from flushwatch.analytics.mechanics import tier_table_from_document

    if not path.is_file():
        raise ConfigError(f"--tiers {path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        doc: object = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--tiers {path}: not valid {path.suffix or 'JSON'}: {exc}") from None
    try:
        return tier_table_from_document(doc, symbol=symbol, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"--tiers {path}: {exc}") from None


def _default_tiers(venue: str, mmr: float | None) -> TierTable:
    from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021, HYPERLIQUID_BTC, TierTable

    if mmr is not None:
        if not 0 <= mmr < 1:
            raise ConfigError(f"--mmr {mmr:g} must be a fraction in [0, 1), e.g. 0.005")
        return TierTable.build([(0.0, math.inf, mmr, 1e6, 0.0)], source=f"--mmr {mmr:g}")
    if venue == "binance":
        return BINANCE_BTCUSDT_2021
    if venue == "hyperliquid":
        return HYPERLIQUID_BTC
    raise ConfigError(
        f"{venue} needs its risk-limit tiers: pass --tiers FILE (ccxt fetch_leverage_tiers "
        "shape, JSON or TOML) or --mmr RATE for a single tier"
    )


def _position(entry: float, size: float | None, notional: float | None) -> tuple[float, float]:
    if not entry > 0:
        raise ConfigError(f"--entry must be > 0, not {entry:g}")
    if (size is None) == (notional is None):
        raise ConfigError("give exactly one of --size (base units) or --notional (quote)")
    if size is not None:
        if not size > 0:
            raise ConfigError(f"--size must be > 0, not {size:g}")
        return size, size * entry
    assert notional is not None  # for mypy: exactly one is set
    if not notional > 0:
        raise ConfigError(f"--notional must be > 0, not {notional:g}")
    return notional / entry, notional


def _margin(notional: float, leverage: float | None, margin: float | None) -> float:
    if (leverage is None) == (margin is None):
        raise ConfigError("give exactly one of --leverage or --margin")
    if leverage is not None:
        if not leverage > 0:
            raise ConfigError(f"--leverage must be > 0, not {leverage:g}")
        return notional / leverage
    assert margin is not None
    if not margin > 0:
        raise ConfigError(f"--margin must be > 0, not {margin:g}")
    return margin


def _check_choices(
    venue: str, side: str, mode: str, wallet: float | None, fee_rate: float | None
) -> None:
    if venue not in VENUES:
        raise ConfigError(f"--venue {venue!r} is not one of: {', '.join(VENUES)}")
    if side not in ("long", "short"):
        raise ConfigError(f"--side {side!r} must be long or short")
    if mode not in ("isolated", "cross"):
        raise ConfigError(f"--mode {mode!r} must be isolated or cross")
    if mode == "cross" and venue not in _CROSS_VENUES:
        raise ConfigError(
            f"cross mode is implemented for {', '.join(_CROSS_VENUES)} only "
            f"(DOMAIN.md §5 documents {venue}'s isolated formula)"
        )
    if mode == "isolated" and wallet is not None:
        raise ConfigError("--wallet is the cross wallet balance; in isolated mode use --margin")
    if fee_rate is not None and venue != "okx":
        raise ConfigError("--fee-rate applies to okx only (its liquidation includes the fee)")


def _dispatch(
    venue: str,
    side: str,
    mode: str,
    entry: float,
    qty: float,
    base: float,
    table: TierTable,
    fee_rate: float | None,
) -> LiqResult:
    from flushwatch.analytics.mechanics import binance as bn
    from flushwatch.analytics.mechanics import bybit, hyperliquid, okx

    s, m = cast("Side", side), cast("MarginMode", mode)
    if venue == "binance":
        return bn.liquidation_price(s, entry, qty, base, table, mode=m)
    if venue == "hyperliquid":
        return hyperliquid.liquidation_price(s, entry, qty, base, table, mode=m)
    if venue == "bybit":
        return bybit.liquidation_price(s, entry, qty, qty * entry / base, table)
    fee = okx.DEFAULT_FEE_RATE if fee_rate is None else fee_rate
    return okx.liquidation_price(s, entry, qty, base, table, fee_rate=fee)


def compute(
    venue: str,
    side: str,
    entry: float,
    *,
    size: float | None = None,
    notional: float | None = None,
    leverage: float | None = None,
    margin: float | None = None,
    mode: str = "isolated",
    wallet: float | None = None,
    tiers: TierTable | None = None,
    mmr: float | None = None,
    fee_rate: float | None = None,
) -> tuple[LiqResult, TierTable, list[str]]:
    """Validate the calculator's inputs and run the venue's formula; also return warnings."""
    _check_choices(venue, side, mode, wallet, fee_rate)
    qty, value = _position(entry, size, notional)
    table = tiers if tiers is not None else _default_tiers(venue, mmr)
    if mode == "cross":
        base = wallet if wallet is not None else _margin(value, leverage, margin)
        if base < 0:
            raise ConfigError(f"--wallet must be ≥ 0, not {base:g}")
    else:
        base = _margin(value, leverage, margin)
    warnings: list[str] = []
    lev = value / base if base > 0 else math.inf
    entry_tier = table.tier_for(value)
    if mode == "isolated" and lev > entry_tier.max_leverage * (1 + 1e-12):
        warnings.append(
            f"leverage {lev:.4g}x exceeds the entry tier's maximum {entry_tier.max_leverage:g}x; "
            f"{venue} would refuse this position"
        )
    res = _dispatch(venue, side, mode, entry, qty, base, table, fee_rate)
    if side == "long" and res.liquidation_price <= 0:
        warnings.append("the liquidation price is ≤ 0: this long cannot be liquidated")
    return res, table, warnings


def tier_dict(t: Tier, number: int) -> dict[str, float | int | None]:
    return {
        "number": number,
        "floor": t.floor,
        "cap": t.cap if math.isfinite(t.cap) else None,
        "mmr": t.mmr,
        "cum": t.cum,
        "max_leverage": t.max_leverage,
    }


def to_json(res: LiqResult, table: TierTable, warnings: list[str]) -> dict[str, object]:
    """The ``--json`` document of ``flushwatch liq-price``."""
    return {
        "venue": res.venue,
        "side": res.side,
        "mode": res.mode,
        "entry": res.entry,
        "size": res.size,
        "notional": res.notional,
        "margin": res.margin,
        "liquidation_price": res.liquidation_price,
        "bankruptcy_price": res.bankruptcy_price,
        "distance_pct": res.distance_pct,
        "tier": tier_dict(res.tier, res.tier_number),
        "entry_tier": tier_dict(res.entry_tier, res.entry_tier_number),
        "tier_changed": res.tier_changed,
        "iterations": res.iterations,
        "estimate": True,
        "note": NOTE,
        "formula_source": res.source,
        "tiers_source": table.source,
        "warnings": warnings,
    }
