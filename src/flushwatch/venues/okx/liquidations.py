"""OKX ``liquidation-orders``: which position was liquidated, in base units.

``side`` is the liquidation ORDER side, so sell ⇒ a LONG position was liquidated; ``posSide``
(hedge mode ``long``/``short``) names the position directly and wins when present; ``net``
defers to ``side`` (DOMAIN.md C5; https://www.okx.com/docs-v5/en/#public-data-websocket-
liquidation-orders-channel). ``bkPx`` is the bankruptcy price and ``sz`` is contracts (base coins
for MARGIN). OKX says the feed "doesn't represent the total number of liquidations" and pushes
at most one order per contract per second: coverage THROTTLED (DOMAIN.md C1).
"""

from __future__ import annotations

from flushwatch.domain.enums import Coverage, PositionSide
from flushwatch.domain.records import Liquidation
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.okx.symbols import EXCHANGE, Terms
from flushwatch.venues.okx.wire import LiquidationDetail

#: Liquidation ORDER side → liquidated position (DOMAIN.md C5).
BY_ORDER_SIDE: dict[str, PositionSide] = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}
#: Hedge-mode ``posSide`` names the position itself.
BY_POS_SIDE: dict[str, PositionSide] = {"long": PositionSide.LONG, "short": PositionSide.SHORT}


def number(value: str, field: str) -> float | None:
    """Parse a numeric string; ``""`` (not applicable) is None; garbage names the field."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"field {field!r}: {value!r} is not a number") from None


def liquidated_side(side: str, pos_side: str) -> tuple[PositionSide | None, bool]:
    """Return (liquidated position side, whether ``side`` and ``posSide`` agree).

    ``posSide`` long/short names the position and wins; otherwise the order side decides
    (sell ⇒ long). None when neither says anything usable.

    Examples
    --------
    >>> liquidated_side("buy", "short")
    (<PositionSide.SHORT: 'short'>, True)
    >>> liquidated_side("sell", "net")
    (<PositionSide.LONG: 'long'>, True)
    """
    by_order = BY_ORDER_SIDE.get(side)
    by_pos = BY_POS_SIDE.get(pos_side)
    if by_pos is None:
        return by_order, True
    return by_pos, by_order is None or by_order is by_pos


def liquidation(
    inst_id: str, terms: Terms, d: LiquidationDetail, ts_recv: int | None
) -> Liquidation | str:
    """Build the Liquidation row of one detail, or return why it cannot be one."""
    side, _ = liquidated_side(d.side, d.posSide)  # the decoder counts contradictions
    if side is None:
        return "liquidations without a usable side/posSide"
    price = number(d.bkPx, "bkPx")
    if price is None:  # MARGIN liquidations carry no bankruptcy price
        return "liquidations without bkPx"
    qty = terms.base_qty(d.sz, price)
    if terms.kind == "inverse" and terms.size is not None:
        notional = d.sz * terms.size  # contracts × USD: exact
    else:
        notional = qty * price
    return Liquidation(
        ts_event=d.ts * NS_PER_MS,
        exchange=EXCHANGE,
        market=terms.market,
        symbol=inst_id,
        ts_recv=ts_recv,
        side=side,
        price=price,  # bankruptcy price
        qty=qty,
        notional=notional,
        venue_side=f"{d.side}/{d.posSide}",  # raw order side / position side
        coverage=Coverage.THROTTLED,  # OKX: not the total; ≤ 1 per contract per second (C1)
    )
