"""Small closed vocabularies shared by every layer.

They are ``StrEnum`` so that they compare equal to, and store as, their plain string value.
"""

from __future__ import annotations

from enum import StrEnum


class Market(StrEnum):
    """What kind of instrument a symbol is on its venue."""

    SPOT = "spot"
    PERP = "perp"
    FUTURE = "future"
    OPTION = "option"


class Margin(StrEnum):
    """How a contract is margined and settled (spot has no margin)."""

    LINEAR = "linear"  # quote-margined: 1 contract = contract_size base units, PnL in quote
    INVERSE = "inverse"  # coin-margined: 1 contract = contract_size quote units (USD), PnL in base
    NONE = "none"


class Side(StrEnum):
    """Aggressor (taker) side of a trade, or order side as a venue sends it."""

    BUY = "buy"
    SELL = "sell"


class PositionSide(StrEnum):
    """Side of the *position* that was liquidated: the one thing aggregation needs."""

    LONG = "long"
    SHORT = "short"


class BookSide(StrEnum):
    """Side of an order book level."""

    BID = "bid"
    ASK = "ask"


class PriceKind(StrEnum):
    """Which price a bar or tick describes; the market column says spot or perp."""

    TRADE = "trade"  # last traded price (the usual kline)
    MARK = "mark"
    INDEX = "index"
    PREMIUM = "premium"  # Binance premium index: (perp - index) / index, a fraction


class RatioKind(StrEnum):
    """Long/short ratio flavours published by Binance (metrics files) and others."""

    TOP_TRADER_ACCOUNTS = "top_trader_accounts"
    TOP_TRADER_POSITIONS = "top_trader_positions"
    GLOBAL_ACCOUNTS = "global_accounts"
    TAKER_VOLUME = "taker_volume"


class Coverage(StrEnum):
    """How complete a venue's liquidation feed is (DOMAIN.md C1): throttled feeds give floors."""

    COMPLETE = "complete"
    THROTTLED = "throttled"  # at most one print per symbol per interval: totals are lower bounds
    AGGREGATED = "aggregated"  # a vendor's own totals, coverage set by the vendor
    UNKNOWN = "unknown"
