"""``flushwatch liq-price``: a liquidation-price calculator with the venues' exact formulas.

Thin command: it parses options, reads an optional tiers file (JSON or TOML), calls
:mod:`flushwatch.analytics.mechanics` and prints the result (or JSON). Errors become one line
on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar, cast

import typer

from flushwatch.errors import ConfigError, FlushwatchError

if TYPE_CHECKING:
    from flushwatch.analytics.mechanics import LiqResult, MarginMode, Side, Tier, TierTable

T = TypeVar("T")
Venue = Literal["binance", "bybit", "okx", "hyperliquid"]
_VENUES: tuple[Venue, ...] = ("binance", "bybit", "okx", "hyperliquid")
_CROSS_VENUES = ("binance", "hyperliquid")
_VENUE_NAMES = {
    "binance": "Binance USDⓈ-M",
    "bybit": "Bybit USDT linear",
    "okx": "OKX USDT swap",
    "hyperliquid": "Hyperliquid",
}
_NOTE = (
    "estimated with the venue's published formula; the venue's own figure can differ by "
    "fees, funding paid since entry and mark-price rounding; liquidation triggers on the "
    "mark price"
)


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (FlushwatchError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


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
    if venue not in _VENUES:
        raise ConfigError(f"--venue {venue!r} is not one of: {', '.join(_VENUES)}")
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


def _tier_dict(t: Tier, number: int) -> dict[str, float | int | None]:
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
        "tier": _tier_dict(res.tier, res.tier_number),
        "entry_tier": _tier_dict(res.entry_tier, res.entry_tier_number),
        "tier_changed": res.tier_changed,
        "iterations": res.iterations,
        "estimate": True,
        "note": _NOTE,
        "formula_source": res.source,
        "tiers_source": table.source,
        "warnings": warnings,
    }


def _tier_text(t: Tier, number: int) -> str:
    return f"{number} (MMR {t.mmr:.2%}, cum {t.cum:,.2f}, max {t.max_leverage:g}x)"


def to_text(res: LiqResult, table: TierTable, warnings: list[str]) -> str:
    """Human-readable lines of ``flushwatch liq-price``."""
    lines = [
        f"{_VENUE_NAMES[res.venue]}, {res.side} {res.mode}: entry {res.entry:,.8g}, "
        f"size {res.size:,.8g} (notional {res.notional:,.2f}), "
        f"{'margin' if res.mode == 'isolated' else 'wallet'} {res.margin:,.2f}",
        f"  liquidation price (estimated)  {res.liquidation_price:,.8g}  "
        f"({res.distance_pct:+.2f}% from entry)",
        f"  bankruptcy price               {res.bankruptcy_price:,.8g}",
    ]
    tier = f"  tier used                      {_tier_text(res.tier, res.tier_number)}"
    if res.tier_changed:
        tier += (
            f"; differs from the entry tier {_tier_text(res.entry_tier, res.entry_tier_number)}"
            f", re-evaluated at the liquidation price ({res.iterations} passes)"
        )
    else:
        tier += ", same as at entry"
    lines.append(tier)
    lines.append(f"  formula: {res.source}")
    lines.append(f"  tiers:   {table.source}")
    lines.append(f"  note:    {_NOTE}")
    lines.extend(f"  warning: {w}" for w in warnings)
    return "\n".join(lines) + "\n"


def liq_price(
    venue: Annotated[str, typer.Option(help="binance, bybit, okx or hyperliquid.")],
    side: Annotated[str, typer.Option(help="long or short.")],
    entry: Annotated[float, typer.Option(help="Entry price.")],
    size: Annotated[
        float | None, typer.Option(help="Position size in base units (or use --notional).")
    ] = None,
    notional: Annotated[
        float | None, typer.Option(help="Position notional in quote units at entry.")
    ] = None,
    leverage: Annotated[
        float | None, typer.Option(help="Leverage; isolated margin = notional / leverage.")
    ] = None,
    margin: Annotated[
        float | None, typer.Option(help="Isolated margin in quote units (instead of leverage).")
    ] = None,
    mode: Annotated[str, typer.Option(help="isolated or cross (binance, hyperliquid).")] = (
        "isolated"
    ),
    wallet: Annotated[
        float | None,
        typer.Option(help="Cross mode: wallet balance / account value backing the position."),
    ] = None,
    tiers: Annotated[
        Path | None,
        typer.Option(
            help="Leverage tiers: JSON (ccxt fetch_leverage_tiers shape) or TOML [[tiers]]. "
            "Default: Binance BTCUSDT 2021 brackets / Hyperliquid BTC tiers."
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Symbol to pick when the tiers file holds several.")
    ] = None,
    mmr: Annotated[
        float | None, typer.Option(help="Single maintenance rate instead of a tiers file.")
    ] = None,
    fee_rate: Annotated[
        float | None, typer.Option(help="OKX: fee rate added to the MMR (default 0.0005).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")
    ] = False,
) -> None:
    """Liquidation and bankruptcy price of one position, with the venue's exact formula.

    Binance and Hyperliquid apply the maintenance tier of the notional at the liquidation
    price (re-evaluated until it settles); Bybit and OKX fix the tier at entry. Prints the
    tier used, whether it differs from the entry tier, the distance from entry and the
    sources of the formula and the tiers.
    """

    def run() -> None:
        table = load_tiers(tiers, symbol=symbol) if tiers is not None else None
        if table is not None and mmr is not None:
            raise ConfigError("give --tiers or --mmr, not both")
        res, used, warnings = compute(
            venue,
            side,
            entry,
            size=size,
            notional=notional,
            leverage=leverage,
            margin=margin,
            mode=mode,
            wallet=wallet,
            tiers=table,
            mmr=mmr,
            fee_rate=fee_rate,
        )
        if json_out:
            sys.stdout.write(json.dumps(to_json(res, used, warnings), indent=2) + "\n")
        else:
            sys.stdout.write(to_text(res, used, warnings))

    _run(run)


def register(app: typer.Typer) -> None:
    """Add ``liq-price`` to the flushwatch CLI."""
    app.command("liq-price")(liq_price)
