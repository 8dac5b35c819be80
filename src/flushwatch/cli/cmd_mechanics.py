"""``flushwatch liq-price``: a liquidation-price calculator with the venues' exact formulas.

Thin command: it parses options, asks :func:`flushwatch.api.liq_price` (which reads an
optional tiers file and runs :mod:`flushwatch.analytics.mechanics`) and prints the result.
Errors become one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli.options import run

if TYPE_CHECKING:
    from flushwatch.analytics.mechanics import LiqResult, Tier, TierTable

_VENUE_NAMES = {
    "binance": "Binance USDⓈ-M",
    "bybit": "Bybit USDT linear",
    "okx": "OKX USDT swap",
    "hyperliquid": "Hyperliquid",
}


def _tier_text(t: Tier, number: int) -> str:
    return f"{number} (MMR {t.mmr:.2%}, cum {t.cum:,.2f}, max {t.max_leverage:g}x)"


def to_text(res: LiqResult, table: TierTable, warnings: list[str]) -> str:
    """Human-readable lines of ``flushwatch liq-price``."""
    from flushwatch.api.liqprice import NOTE

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
    lines.append(f"  note:    {NOTE}")
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

    def answer() -> None:
        from flushwatch.api import liq_price as ask

        res = ask(
            venue, side, entry, size=size, notional=notional, leverage=leverage, margin=margin,
            mode=mode, wallet=wallet, tiers=tiers, symbol=symbol, mmr=mmr, fee_rate=fee_rate,
        )  # fmt: skip
        if json_out:
            sys.stdout.write(json.dumps(res.to_dict(), indent=2) + "\n")
        else:
            sys.stdout.write(to_text(res.result, res.tiers, res.warnings))

    run(answer)


def register(app: typer.Typer) -> None:
    """Add ``liq-price`` to the flushwatch CLI."""
    app.command("liq-price")(liq_price)
